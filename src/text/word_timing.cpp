#include "text/word_timing.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>

#include "text/reference_preprocessor.h"
#include "text/unicode_indexer.h"
#include "text/utf8.h"

namespace supertonic {

namespace {

// Larger alignments (which the chunker's limits never produce) share the
// segment's time in proportion instead.
constexpr std::size_t kMaxAlignmentCells = 4'000'000;

// What two spellings of a word share once case, compatibility forms, accents
// and punctuation are set aside: "Hello," and "hello" match, "**bold**" and
// "bold" too, "$5" and "five" do not.
void AppendKey(char32_t cp, std::u32string& key) {
  std::array<utf8proc_int32_t, 32> buf{};
  int boundclass = 0;
  const auto options =
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD);
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf.data(),
                                                     static_cast<utf8proc_ssize_t>(buf.size()), options, &boundclass);
  if (n < 0 || n > static_cast<utf8proc_ssize_t>(buf.size())) {
    if (IsLetterOrNumber(cp)) key.push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) {
    const auto c = static_cast<char32_t>(buf[i]);
    if (IsLetterOrNumber(c)) key.push_back(c);
  }
}

struct WrittenWord {
  std::string_view text;
  std::u32string key;
};

std::vector<WrittenWord> SplitWritten(std::string_view written) {
  std::vector<WrittenWord> words;
  const auto cps = DecodeUtf8Units(written);
  std::size_t i = 0;
  while (i < cps.size()) {
    if (cps[i].valid() && IsPythonWhitespace(cps[i].cp)) {
      ++i;
      continue;
    }
    WrittenWord w;
    const std::size_t begin = cps[i].begin;
    while (i < cps.size() && !(cps[i].valid() && IsPythonWhitespace(cps[i].cp))) {
      if (cps[i].valid()) AppendKey(cps[i].cp, w.key);
      ++i;
    }
    const std::size_t end = i < cps.size() ? cps[i].begin : written.size();
    w.text = written.substr(begin, end - begin);
    words.push_back(std::move(w));
  }
  return words;
}

// A word of the model's text and the ids it spans: [begin, end).
struct ModelWord {
  std::u32string key;
  double begin = 0, end = 0;
};

// The words between the item's outer <lang> tags; the tags' ids take their
// share of the time (the model reads them) but belong to no word.
std::vector<ModelWord> SplitModelText(std::string_view model_text, const UnicodeIndexer& indexer) {
  const auto cps = DecodeUtf8Units(model_text);
  std::size_t first = 0, last = cps.size();
  if (!cps.empty() && cps.front().cp == U'<') {
    for (std::size_t i = 1; i < cps.size(); ++i) {
      if (cps[i].cp == U'>') {
        first = i + 1;
        break;
      }
    }
  }
  if (last > first && cps[last - 1].cp == U'>') {
    for (std::size_t i = last - 1; i > first; --i) {
      if (cps[i - 1].cp == U'<') {
        last = i - 1;
        break;
      }
    }
  }
  std::vector<ModelWord> words;
  std::size_t token = 0;
  std::optional<ModelWord> current;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const bool known = cps[i].valid() && indexer.Knows(cps[i].cp);
    const bool inside = i >= first && i < last;
    const bool space = cps[i].valid() && IsPythonWhitespace(cps[i].cp);
    if (inside && !space) {
      if (!current) current = ModelWord{{}, static_cast<double>(token), static_cast<double>(token)};
      if (cps[i].valid()) AppendKey(cps[i].cp, current->key);
      if (known) current->end = static_cast<double>(token + 1);
    } else if (current) {
      words.push_back(std::move(*current));
      current.reset();
    }
    if (known) ++token;
  }
  if (current) words.push_back(std::move(*current));
  return words;
}

// Pairs of (written, model) indices whose keys are equal and not empty: a
// longest common subsequence, so what the normalizer rewrote falls in between.
std::vector<std::pair<std::size_t, std::size_t>> Anchors(const std::vector<WrittenWord>& w,
                                                         const std::vector<ModelWord>& m) {
  const std::size_t n = w.size(), k = m.size();
  if (n == 0 || k == 0 || n * k > kMaxAlignmentCells) return {};
  std::vector<uint32_t> table((n + 1) * (k + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> uint32_t& { return table[i * (k + 1) + j]; };
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = k; j-- > 0;) {
      if (!w[i].key.empty() && w[i].key == m[j].key) {
        at(i, j) = at(i + 1, j + 1) + 1;
      } else {
        at(i, j) = std::max(at(i + 1, j), at(i, j + 1));
      }
    }
  }
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  std::size_t i = 0, j = 0;
  while (i < n && j < k) {
    if (!w[i].key.empty() && w[i].key == m[j].key) {
      pairs.emplace_back(i++, j++);
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      ++i;
    } else {
      ++j;
    }
  }
  return pairs;
}

struct Span {
  double begin = 0, end = 0;  // in ids
};

using SpokenLength = std::function<std::size_t(std::string_view)>;

// Written words [wi, wj) said as model words [mi, mj): each written word gets
// a share of their ids in proportion to what it says alone, its boundaries
// moved to the nearest start of a model word so that words keep whole.
void ShareGap(std::size_t wi, std::size_t wj, std::size_t mi, std::size_t mj, const std::vector<WrittenWord>& words,
              const std::vector<ModelWord>& model, const SpokenLength& spoken_length, double at,
              std::vector<Span>& spans) {
  if (wi == wj) return;
  if (mi == mj) {  // nothing said for them: a mark, an emoji
    for (std::size_t i = wi; i < wj; ++i) spans[i] = {at, at};
    return;
  }
  const double begin = model[mi].begin, end = model[mj - 1].end;
  // Only rewritten words are weighed (normalizing each alone costs a few µs).
  std::vector<double> weights(wj - wi, 1.0);
  if (spoken_length && wj - wi > 1) {
    for (std::size_t i = wi; i < wj; ++i) weights[i - wi] = static_cast<double>(spoken_length(words[i].text));
  }
  double total = 0;
  for (double w : weights) total += w;
  const bool even = total <= 0;
  if (even) total = static_cast<double>(wj - wi);
  double cumulative = 0;
  double start = begin;
  std::size_t next_model = mi + 1;  // candidates for the next boundary
  for (std::size_t i = wi; i < wj; ++i) {
    cumulative += even ? 1.0 : weights[i - wi];
    if (i + 1 == wj) {
      spans[i] = {start, end};
      break;
    }
    const double target = begin + (end - begin) * cumulative / total;
    // The model word start nearest the target, among those not yet used.
    std::optional<std::size_t> best;
    for (std::size_t j = next_model; j < mj; ++j) {
      if (!best || std::abs(model[j].begin - target) < std::abs(model[*best].begin - target)) best = j;
    }
    if (best) {
      spans[i] = {start, model[*best - 1].end};
      start = model[*best].begin;
      next_model = *best + 1;
    } else {
      spans[i] = {start, std::max(start, target)};
      start = std::max(start, target);
    }
  }
}

}  // namespace

std::vector<WordTime> TimeWords(std::string_view written, std::string_view model_text, const UnicodeIndexer& indexer,
                                const TokenTimeline& timeline,
                                const std::function<std::size_t(std::string_view)>& spoken_length) {
  const auto words = SplitWritten(written);
  const auto model = SplitModelText(model_text, indexer);
  std::vector<Span> spans(words.size());
  auto anchors = Anchors(words, model);
  anchors.emplace_back(words.size(), model.size());  // the end closes the last gap
  std::size_t wi = 0, mi = 0;
  double at = model.empty() ? 0.0 : model.front().begin;
  for (const auto& [wa, ma] : anchors) {
    ShareGap(wi, wa, mi, ma, words, model, spoken_length, at, spans);
    if (wa < words.size()) {
      spans[wa] = {model[ma].begin, model[ma].end};
      at = model[ma].end;
    } else if (ma > mi) {
      at = model[ma - 1].end;
    }
    wi = wa + 1;
    mi = ma + 1;
  }
  std::vector<WordTime> out;
  out.reserve(words.size());
  double floor = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const double start = std::clamp(timeline.SecondsAt(spans[i].begin), floor, timeline.audio_s);
    const double end = std::clamp(timeline.SecondsAt(spans[i].end), start, timeline.audio_s);
    out.push_back({std::string(words[i].text), start, end});
    floor = end;
  }
  return out;
}

}  // namespace supertonic
