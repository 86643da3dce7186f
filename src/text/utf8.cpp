#include "text/utf8.h"

#include <utf8proc.h>

#include <algorithm>

namespace supertonic {

namespace utf8 {

Decoded DecodeAt(std::string_view s, std::size_t pos) {
  const auto byte = static_cast<unsigned char>(s[pos]);
  if (byte < 0x80) return {byte, 1, true};
  utf8proc_int32_t cp = -1;
  // utf8proc_iterate rejects exactly what the policy calls invalid (overlong,
  // surrogates, > U+10FFFF, truncated, bad lead bytes).
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos),
                                              static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
  if (n <= 0 || cp < 0) return {kReplacement, 1, false};
  return {static_cast<char32_t>(cp), static_cast<std::size_t>(n), true};
}

Decoded DecodeBefore(std::string_view s, std::size_t pos) {
  // Only a lead byte at most 3 bytes back, followed by continuation bytes
  // alone, can begin a sequence that ends at pos: continuation bytes never
  // begin one, so the forward reading agrees.
  if (!IsContinuationByte(s[pos - 1])) return DecodeAt(s, pos - 1);
  for (std::size_t back = 2; back <= 4 && back <= pos; ++back) {
    if (IsContinuationByte(s[pos - back])) continue;
    const Decoded d = DecodeAt(s, pos - back);
    if (d.valid && d.length == back) return d;
    break;
  }
  return {kReplacement, 1, false};
}

bool IsValid(std::string_view s) {
  for (std::size_t pos = 0; pos < s.size();) {
    const Decoded d = DecodeAt(s, pos);
    if (!d.valid) return false;
    pos += d.length;
  }
  return true;
}

std::u32string Decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t pos = 0; pos < s.size();) {
    const Decoded d = DecodeAt(s, pos);
    out.push_back(d.cp);
    pos += d.length;
  }
  return out;
}

void Append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::size_t FloorBoundary(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return s.size();
  if (!IsContinuationByte(s[pos])) return pos;
  // pos is inside a sequence only when a lead byte at most 3 bytes back starts
  // a valid one that reaches past it.
  for (std::size_t back = 1; back <= 3 && back <= pos; ++back) {
    if (IsContinuationByte(s[pos - back])) continue;
    const Decoded d = DecodeAt(s, pos - back);
    return d.valid && d.length > back ? pos - back : pos;
  }
  return pos;
}

std::size_t CeilBoundary(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return s.size();
  const std::size_t floor = FloorBoundary(s, pos);
  return floor == pos ? pos : floor + DecodeAt(s, floor).length;
}

std::string_view Truncate(std::string_view s, std::size_t max_bytes) {
  return s.substr(0, FloorBoundary(s, max_bytes));
}

std::size_t PrefixBytes(std::string_view s, std::size_t units) {
  std::size_t pos = 0;
  for (std::size_t n = 0; n < units && pos < s.size(); ++n) pos += DecodeAt(s, pos).length;
  return pos;
}

}  // namespace utf8

std::size_t CountCodePoints(std::string_view s) {
  std::size_t count = 0;
  for (std::size_t pos = 0; pos < s.size(); ++count) pos += utf8::DecodeAt(s, pos).length;
  return count;
}

std::vector<Utf8Unit> DecodeUtf8Units(std::string_view s) {
  std::vector<Utf8Unit> units;
  units.reserve(s.size());
  for (std::size_t pos = 0; pos < s.size();) {
    const utf8::Decoded d = utf8::DecodeAt(s, pos);
    units.push_back({d.valid ? d.cp : kInvalidUtf8Byte, pos, pos + d.length});
    pos += d.length;
  }
  return units;
}

}  // namespace supertonic
