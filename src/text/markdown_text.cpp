#include "text/markdown_text.h"

#include <re2/re2.h>

#include <string>
#include <vector>

namespace supertonic {

namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool EndsInPunctuation(std::string_view s) {
  if (s.empty()) return true;
  const char c = s.back();
  if (c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == ',') return true;
  return c < 0 && s.size() >= 3 && (s.substr(s.size() - 3) == "\u2026" || s.substr(s.size() - 3) == "\u3002");
}

void EndPhrase(std::string& line) {
  if (!EndsInPunctuation(TrimSpaces(line))) line.push_back('.');
}

// "---", "***", "___" (three or more of one of them, spaces allowed).
bool IsRule(std::string_view line) {
  line = TrimSpaces(line);
  if (line.size() < 3 || (line[0] != '-' && line[0] != '*' && line[0] != '_')) return false;
  int marks = 0;
  for (char c : line) {
    if (c == line[0]) ++marks;
    else if (c != ' ') return false;
  }
  return marks >= 3;
}

bool IsFence(std::string_view line) {
  line = TrimSpaces(line);
  return line.starts_with("```") || line.starts_with("~~~");
}

// "|---|:--:|" and the like.
bool IsTableRule(std::string_view line) {
  line = TrimSpaces(line);
  if (line.find('-') == std::string_view::npos || line.find('|') == std::string_view::npos) return false;
  for (char c : line) {
    if (c != '|' && c != '-' && c != ':' && c != ' ') return false;
  }
  return true;
}

std::string TableRow(std::string_view line) {
  line = TrimSpaces(line);
  if (line.starts_with('|')) line.remove_prefix(1);
  if (line.ends_with('|')) line.remove_suffix(1);
  std::string out;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t bar = line.find('|', start);
    if (bar == std::string_view::npos) bar = line.size();
    const std::string_view cell = TrimSpaces(line.substr(start, bar - start));
    if (!cell.empty()) {
      if (!out.empty()) out += EndsInPunctuation(out) ? " " : ", ";
      out.append(cell);
    }
    start = bar + 1;
  }
  EndPhrase(out);
  return out;
}

void Substitute(std::string& text, const RE2& pattern, std::string_view rewrite) {
  RE2::GlobalReplace(&text, pattern, re2::StringPiece(rewrite.data(), rewrite.size()));
}

// Inline marks, in an order where the longer mark goes first.
std::string StripInline(std::string line) {
  static const RE2 image(R"(!\[([^\]\n]*)\]\([^)\n]*\))");
  static const RE2 link(R"(\[([^\]\n]*)\]\([^)\n]*\))");
  static const RE2 autolink(R"(<((?:https?|mailto):[^>\s]+)>)");
  static const RE2 code(R"(`([^`\n]+)`)");
  static const RE2 bold_stars(R"(\*\*([^*\n]+)\*\*)");
  static const RE2 bold_underscores(R"(\b__([^_\n]+)__\b)");
  static const RE2 italic_stars(R"(\*([^*\n]+)\*)");
  static const RE2 italic_underscores(R"(\b_([^_\n]+)_\b)");
  static const RE2 strike(R"(~~([^~\n]+)~~)");
  static const RE2 stray_stars(R"(\*+)");
  Substitute(line, image, "\\1");
  Substitute(line, link, "\\1");
  Substitute(line, autolink, "\\1");
  Substitute(line, code, "\\1");
  Substitute(line, bold_stars, "\\1");
  Substitute(line, bold_underscores, "\\1");
  Substitute(line, italic_stars, "\\1");
  Substitute(line, italic_underscores, "\\1");
  Substitute(line, strike, "\\1");
  Substitute(line, stray_stars, "");
  return line;
}

// What a line starts with: a heading, a bullet or a numbered item (and the
// marks it loses), a blockquote.
std::string BlockLine(std::string_view raw) {
  std::string_view line = raw;
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (line.starts_with('>')) {  // blockquotes, nested ones too
    line.remove_prefix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  }
  bool phrase = false;
  std::string prefix;
  if (line.starts_with('#')) {
    std::size_t hashes = 0;
    while (hashes < line.size() && line[hashes] == '#') ++hashes;
    if (hashes <= 6 && (hashes == line.size() || line[hashes] == ' ')) {
      line.remove_prefix(hashes);
      while (line.ends_with('#')) line.remove_suffix(1);  // "## Title ##"
      phrase = true;
    }
  } else if (line.size() >= 2 && (line[0] == '-' || line[0] == '*' || line[0] == '+') && line[1] == ' ') {
    line.remove_prefix(2);
    phrase = true;
  } else if (line.starts_with("\u2022")) {  // •
    line.remove_prefix(3);
    phrase = true;
  } else {
    std::size_t digits = 0;
    while (digits < line.size() && digits < 4 && line[digits] >= '0' && line[digits] <= '9') ++digits;
    if (digits > 0 && digits + 1 < line.size() && (line[digits] == '.' || line[digits] == ')') &&
        line[digits + 1] == ' ') {
      prefix = std::string(line.substr(0, digits)) + ". ";
      line.remove_prefix(digits + 2);
      phrase = true;
    }
  }
  std::string out = prefix + StripInline(std::string(TrimSpaces(line)));
  if (phrase && !TrimSpaces(out).empty()) EndPhrase(out);
  return out;
}

}  // namespace

std::string StripMarkdown(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    std::string spoken;
    if (IsFence(line) || IsRule(line) || IsTableRule(line)) {
      spoken.clear();
    } else if (TrimSpaces(line).starts_with('|')) {
      spoken = TableRow(StripInline(std::string(line)));
    } else {
      spoken = BlockLine(line);
    }
    out += spoken;
    if (!last) out.push_back('\n');
    start = end + 1;
    if (last) break;
  }
  return out;
}

}  // namespace supertonic
