// The request checks routing makes from headers alone: whose page a request
// comes from, and what its body claims to be.
#include "service/api_routes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace supertonic::service {
namespace {

TEST(OriginAllowed, NoOriginIsNotABrowserAndPasses) { EXPECT_TRUE(OriginAllowed({}, "", "tts.internal:8000")); }

TEST(OriginAllowed, TheServersOwnOriginPasses) {
  EXPECT_TRUE(OriginAllowed({}, "http://tts.internal:8000", "tts.internal:8000"));
  EXPECT_TRUE(OriginAllowed({}, "HTTP://TTS.Internal:8000", "tts.internal:8000"));
  // Behind a TLS proxy the scheme differs from the server's own; the default port is implied.
  EXPECT_TRUE(OriginAllowed({}, "https://tts.example.com", "tts.example.com"));
  EXPECT_TRUE(OriginAllowed({}, "https://tts.example.com", "tts.example.com:443"));
  EXPECT_TRUE(OriginAllowed({}, "http://tts.example.com:80", "tts.example.com"));
}

TEST(OriginAllowed, AnotherSiteIsRefused) {
  EXPECT_FALSE(OriginAllowed({}, "https://evil.example", "tts.internal:8000"));
  EXPECT_FALSE(OriginAllowed({}, "http://tts.internal:8001", "tts.internal:8000"));
  EXPECT_FALSE(OriginAllowed({}, "http://tts.internal.evil.example:8000", "tts.internal:8000"));
  EXPECT_FALSE(OriginAllowed({}, "null", "tts.internal:8000"));
  EXPECT_FALSE(OriginAllowed({}, "garbage", "tts.internal:8000"));
  EXPECT_FALSE(OriginAllowed({}, "https://tts.internal:8000", ""));
}

TEST(OriginAllowed, ListedOriginsPass) {
  const std::vector<std::string> allowed = {"https://app.example.com", "null"};
  EXPECT_TRUE(OriginAllowed(allowed, "https://App.Example.com", "tts.internal:8000"));
  EXPECT_TRUE(OriginAllowed(allowed, "https://app.example.com/", "tts.internal:8000"));
  EXPECT_TRUE(OriginAllowed(allowed, "null", "tts.internal:8000"));
  EXPECT_FALSE(OriginAllowed(allowed, "http://app.example.com", "tts.internal:8000"));
  EXPECT_TRUE(OriginAllowed({"*"}, "https://anything.example", "tts.internal:8000"));
}

TEST(IsJsonContentType, MediaTypeWithAnyParameters) {
  EXPECT_TRUE(IsJsonContentType("application/json"));
  EXPECT_TRUE(IsJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(IsJsonContentType(" application/json ;charset=UTF-8"));
  EXPECT_FALSE(IsJsonContentType(""));
  EXPECT_FALSE(IsJsonContentType("text/plain"));
  EXPECT_FALSE(IsJsonContentType("application/x-www-form-urlencoded"));
  EXPECT_FALSE(IsJsonContentType("multipart/form-data; boundary=x"));
  EXPECT_FALSE(IsJsonContentType("application/jsonp"));
}

}  // namespace
}  // namespace supertonic::service

namespace supertonic::service {
namespace {

TEST(QueryParameter, FindsTheKeyAndPercentDecodesItsValue) {
  EXPECT_EQ(QueryParameter("limit=7&after=supertonic-2%3AF1", "after"), "supertonic-2:F1");
  EXPECT_EQ(QueryParameter("after=supertonic-2:F1", "after"), "supertonic-2:F1");
  EXPECT_EQ(QueryParameter("token=a%2Bb+c%zz%4", "token"), "a+b+c%zz%4");  // '+' stays; malformed kept
  EXPECT_EQ(QueryParameter("tokens=x&token=y", "token"), "y");
  EXPECT_EQ(QueryParameter("token=&token=y", "token"), "");
  EXPECT_EQ(QueryParameter("model=", "model"), "");
  EXPECT_EQ(QueryParameter("", "model"), std::nullopt);
  EXPECT_EQ(QueryParameter("a=1", "model"), std::nullopt);
}

}  // namespace
}  // namespace supertonic::service
