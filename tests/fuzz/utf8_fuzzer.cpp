// Fuzz target: text/utf8 (the one UTF-8 reader of the server) against the
// harness's own strict decoder (fuzz_support.h), on the input as raw bytes.
//
// Invariants:
//  - DecodeUtf8Units covers the input with contiguous units: each valid unit is
//    the harness's code point with its length, each invalid one exactly one
//    byte the harness also rejects; utf8::Decode, CountCodePoints and IsValid
//    agree with them (an invalid unit reads as U+FFFD);
//  - DecodeBefore at the end of each unit reads that unit;
//  - FloorBoundary / CeilBoundary of every position are the nearest unit
//    boundaries at or before / after it; Truncate cuts at FloorBoundary;
//    PrefixBytes(k) is where unit k begins (sampled);
//  - Append of the decoded code points gives back the valid units' bytes.
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "text/utf8.h"

namespace supertonic::fuzz {

int FuzzUtf8(const uint8_t* data, std::size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const std::vector<Utf8Unit> units = DecodeUtf8Units(s);
  const std::u32string decoded = utf8::Decode(s);
  FUZZ_CHECK(units.size() == decoded.size() && units.size() == CountCodePoints(s),
             "unit counts differ  input: " + Escape(s));
  std::vector<bool> boundary(size + 1, false);
  boundary[size] = true;
  bool all_valid = true;
  std::size_t pos = 0;
  std::string reencoded, valid_bytes;
  for (std::size_t k = 0; k < units.size(); ++k) {
    const Utf8Unit& u = units[k];
    const CodePoint want = NextCodePoint(s, pos);
    FUZZ_CHECK(u.begin == pos && u.end > u.begin && u.end == pos + want.length,
               "unit " + std::to_string(k) + " does not follow the previous one  input: " + Escape(s));
    FUZZ_CHECK(u.valid() == !(want.value & kInvalidByte),
               "validity differs at byte " + std::to_string(pos) + "  input: " + Escape(s));
    FUZZ_CHECK(u.valid() ? u.cp == want.value && decoded[k] == u.cp : decoded[k] == utf8::kReplacement,
               "code point differs at byte " + std::to_string(pos) + "  input: " + Escape(s));
    const utf8::Decoded before = utf8::DecodeBefore(s, u.end);
    FUZZ_CHECK(before.length == u.end - u.begin && before.valid == u.valid() && before.cp == decoded[k],
               "DecodeBefore(" + std::to_string(u.end) + ") differs  input: " + Escape(s));
    if (k % 64 == 0) {  // linear each: a sample keeps the target fast
      FUZZ_CHECK(utf8::PrefixBytes(s, k) == u.begin, "PrefixBytes(" + std::to_string(k) + ")  input: " + Escape(s));
    }
    if (u.valid()) {
      utf8::Append(reencoded, u.cp);
      valid_bytes.append(s.substr(u.begin, u.end - u.begin));
    }
    all_valid = all_valid && u.valid();
    boundary[pos] = true;
    pos = u.end;
  }
  FUZZ_CHECK(pos == size, "units do not reach the end  input: " + Escape(s));
  FUZZ_CHECK(utf8::PrefixBytes(s, units.size() + 1) == size, "PrefixBytes past the end");
  FUZZ_CHECK(utf8::IsValid(s) == all_valid && all_valid == IsValidUtf8(s), "IsValid differs  input: " + Escape(s));
  FUZZ_CHECK(reencoded == valid_bytes, "Append does not give the bytes back  input: " + Escape(s));
  std::size_t floor = 0;
  for (std::size_t p = 0; p <= size; ++p) {
    if (boundary[p]) floor = p;
    std::size_t ceil = p;
    while (!boundary[ceil]) ++ceil;
    FUZZ_CHECK(utf8::FloorBoundary(s, p) == floor && utf8::CeilBoundary(s, p) == ceil,
               "boundaries of " + std::to_string(p) + " differ  input: " + Escape(s));
    FUZZ_CHECK(utf8::Truncate(s, p).size() == floor, "Truncate(" + std::to_string(p) + ")  input: " + Escape(s));
  }
  FUZZ_CHECK(utf8::FloorBoundary(s, size + 7) == size && utf8::CeilBoundary(s, size + 7) == size,
             "boundaries past the end");
  return 0;
}

}  // namespace supertonic::fuzz
