#pragma once
// Shared by the fuzz targets (tests/fuzz/*_fuzzer.cpp). Each target is a plain
// function `int Fuzz<Name>(const uint8_t*, size_t)`: in a fuzzing build
// (SUPERTONIC_FUZZ=ON) fuzz_main.cpp makes it LLVMFuzzerTestOneInput; in the
// normal build regression_test.cpp runs it on every committed corpus file and
// crash input. An invariant that does not hold aborts with a message, which
// libFuzzer records as a crash (and a GoogleTest run reports as a failure).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "text/reference_preprocessor.h"  // IsPythonWhitespace

namespace supertonic::fuzz {

int FuzzProtocol(const uint8_t* data, std::size_t size);
int FuzzText(const uint8_t* data, std::size_t size);
int FuzzAccumulator(const uint8_t* data, std::size_t size);
int FuzzSpeechRequest(const uint8_t* data, std::size_t size);
int FuzzNormalizer(const uint8_t* data, std::size_t size);
int FuzzUtf8(const uint8_t* data, std::size_t size);

[[noreturn]] inline void Fail(const char* file, int line, const char* condition, const std::string& detail) {
  std::fprintf(stderr, "\nFUZZ INVARIANT VIOLATED at %s:%d: %s\n  %s\n", file, line, condition, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// Printable form of bytes for failure messages (\xNN for anything not ASCII-printable).
inline std::string Escape(std::string_view s, std::size_t max_bytes = 400) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max_bytes; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  if (s.size() > max_bytes) out += "...";
  return out;
}

// Consumes a fuzz input front to back: small integers and byte slices.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::size_t remaining() const { return size_ - pos_; }
  uint8_t Byte() { return empty() ? 0 : data_[pos_++]; }
  uint16_t U16() { return static_cast<uint16_t>(Byte() | (Byte() << 8)); }
  // Up to n bytes (fewer at the end of the input).
  std::string_view Take(std::size_t n) {
    n = n < remaining() ? n : remaining();
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }
  std::string_view Rest() { return Take(remaining()); }

 private:
  const uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF), decoded
// here independently of the code under test. An invalid byte decodes to
// itself, marked: kInvalidByte | byte.
constexpr uint32_t kInvalidByte = 0x80000000u;

struct CodePoint {
  uint32_t value;
  std::size_t length;  // bytes
};

inline CodePoint NextCodePoint(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const CodePoint invalid{kInvalidByte | b, 1};
  std::size_t len = 0;
  uint32_t cp = 0, min = 0;
  if (b < 0x80) return {b, 1};
  if ((b & 0xE0) == 0xC0) {
    len = 2, cp = b & 0x1F, min = 0x80;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3, cp = b & 0x0F, min = 0x800;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4, cp = b & 0x07, min = 0x10000;
  } else {
    return invalid;
  }
  if (i + len > s.size()) return invalid;
  for (std::size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return invalid;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid;
  return {cp, len};
}

inline std::vector<uint32_t> Decode(std::string_view s) {
  std::vector<uint32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const CodePoint c = NextCodePoint(s, i);
    out.push_back(c.value);
    i += c.length;
  }
  return out;
}

inline bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const CodePoint c = NextCodePoint(s, i);
    if (c.value & kInvalidByte) return false;
    i += c.length;
  }
  return true;
}

inline bool IsSpace(uint32_t cp) { return !(cp & kInvalidByte) && IsPythonWhitespace(static_cast<char32_t>(cp)); }

// The text's characters without whitespace (Python's str.isspace()); invalid bytes kept.
inline std::vector<uint32_t> NonSpace(std::string_view s) {
  std::vector<uint32_t> out;
  for (uint32_t cp : Decode(s)) {
    if (!IsSpace(cp)) out.push_back(cp);
  }
  return out;
}

}  // namespace supertonic::fuzz

#define FUZZ_CHECK(condition, detail)                                                  \
  do {                                                                                 \
    if (!(condition)) ::supertonic::fuzz::Fail(__FILE__, __LINE__, #condition, (detail)); \
  } while (0)
