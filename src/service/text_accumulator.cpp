#include "service/text_accumulator.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "text/text_chunker.h"
#include "text/utf8.h"

namespace supertonic::service {

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

}  // namespace

void TextAccumulatorConfig::Validate() const {
  if (debounce.count() < 0) {
    throw std::invalid_argument("debounce must be >= 0 ms, got " + std::to_string(debounce.count()));
  }
  if (max_chars < 1) throw std::invalid_argument("max_chars must be >= 1, got 0");
  if (first_clause_min_chars > max_chars) {
    throw std::invalid_argument("first_clause_min_chars must be 0..max_chars (" + std::to_string(max_chars) +
                                "), got " + std::to_string(first_clause_min_chars));
  }
}

std::string TextAccumulatorConfig::ToString() const {
  std::ostringstream os;
  os << "TextAccumulatorConfig(debounce=" << debounce.count() << "ms, max_chars=" << max_chars
     << ", first_clause_min_chars=" << first_clause_min_chars << ")";
  return os.str();
}

// The pending text's breaks, with the length each cut would give.
struct TextAccumulator::Scan {
  std::vector<TextBreak> breaks;
  std::vector<std::size_t> cut_chars;  // code points of the segment a cut at breaks[k] gives
  std::size_t total_chars = 0;         // code points of the whole pending text as a segment
  std::size_t trimmed_end = 0;         // byte end of the pending text without trailing whitespace

  explicit Scan(std::string_view text) : breaks(FindBreaks(text)) {
    // The text starts with a non-space, so every run is inside or at the end,
    // and each run before a cut collapses to one space.
    cut_chars.reserve(breaks.size());
    std::size_t spaces = 0;  // whitespace code points before the current run
    for (std::size_t k = 0; k < breaks.size(); ++k) {
      cut_chars.push_back(breaks[k].chars_before - spaces + k);
      spaces += breaks[k].chars;
    }
    if (!breaks.empty() && breaks.back().end == text.size()) {
      total_chars = cut_chars.back();
      trimmed_end = breaks.back().begin;
    } else {
      total_chars = CountCodePoints(text) - spaces + breaks.size();
      trimmed_end = text.size();
    }
  }

  // The pending text up to byte `end`, each run of whitespace made one space.
  std::string Collapse(std::string_view text, std::size_t end) const {
    std::string out;
    out.reserve(end);
    std::size_t start = 0;
    for (const TextBreak& b : breaks) {
      if (b.begin >= end) break;
      out.append(text.substr(start, b.begin - start));
      out.push_back(' ');
      start = b.end;
    }
    out.append(text.substr(start, end - start));
    return out;
  }
};

TextAccumulator::Scan TextAccumulator::ScanPending() {
  bytes_scanned_ += pending_.size();
  return Scan(pending_);
}

TextAccumulator::TextAccumulator(TextAccumulatorConfig config) : config_(config) { config_.Validate(); }

std::vector<std::string> TextAccumulator::Append(std::string_view text, TimePoint now) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  last_text_ = now;
  // A huge send_text is taken in slices, so that each cut scans a bounded
  // window (pending text never stays longer than max_chars).
  const std::size_t slice_bytes = std::max<std::size_t>(4096, 8 * config_.max_chars);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = utf8::CeilBoundary(text, pos + slice_bytes);
    AppendCollapsed(text.substr(pos, end - pos));
    pos = end;
    CutReady(out);
  }
  Refresh();
  return out;
}

// Whitespace counts for a cut only through FindBreaks: a run becomes one space
// in a segment, and is a sentence end when it holds two "\n" (else the text
// before it decides). So a run is kept as " ", "\n" or "\n\n". Kept raw, a
// flood of whitespace would count as one character, never be cut, and be
// rescanned whole for every slice; collapsed, the pending text stays within
// 4 bytes per counted code point plus a trailing run.
void TextAccumulator::AppendCollapsed(std::string_view text) {
  // Redo the tail the new bytes can change: a trailing incomplete UTF-8
  // sequence (which they may complete, even into whitespace) and the run
  // before it or at the end (which they may extend). A byte that is not a
  // continuation byte always starts a code point, and no sequence is longer
  // than 4 bytes.
  std::size_t from = pending_.size();
  for (std::size_t i = pending_.size(); i > 0 && pending_.size() - i < 4; --i) {
    if (!utf8::IsContinuationByte(pending_[i - 1])) {
      from = i - 1;
      break;
    }
  }
  while (from > 0 && (pending_[from - 1] == ' ' || pending_[from - 1] == '\n')) --from;
  std::string tail = pending_.substr(from);
  tail.append(text);
  pending_.resize(from);
  bytes_scanned_ += tail.size();

  std::size_t start = 0;
  for (const TextBreak& b : FindBreaks(tail)) {
    pending_.append(tail, start, b.begin - start);
    start = b.end;
    if (pending_.empty()) continue;  // pending text starts with a non-space
    const auto newlines = std::count(tail.begin() + static_cast<std::ptrdiff_t>(b.begin),
                                     tail.begin() + static_cast<std::ptrdiff_t>(b.end), '\n');
    pending_.append(newlines >= 2 ? "\n\n" : newlines == 1 ? "\n" : " ");
  }
  pending_.append(tail, start);
}

void TextAccumulator::CutReady(std::vector<std::string>& out) {
  while (!pending_.empty()) {
    const Scan scan = ScanPending();
    if (next_is_first_) {
      // The first complete sentence, then the last clause end once enough waits.
      std::size_t cut = kNone;
      for (std::size_t k = 0; k < scan.breaks.size() && scan.cut_chars[k] <= config_.max_chars; ++k) {
        if (scan.breaks[k].kind == BreakKind::kSentence) {
          cut = k;
          break;
        }
      }
      if (cut == kNone && config_.first_clause_min_chars > 0 &&
          scan.total_chars >= config_.first_clause_min_chars) {
        for (std::size_t k = 0; k < scan.breaks.size() && scan.cut_chars[k] <= config_.max_chars; ++k) {
          if (scan.breaks[k].kind == BreakKind::kClause) cut = k;
        }
      }
      if (cut != kNone) {
        out.push_back(CutAt(scan, cut));
        continue;
      }
    }
    if (scan.total_chars > config_.max_chars) {
      out.push_back(CutAtLimit(scan));
      continue;
    }
    break;
  }
}

std::string TextAccumulator::CutAt(const Scan& scan, std::size_t break_index) {
  const TextBreak& b = scan.breaks[break_index];
  std::string segment = scan.Collapse(pending_, b.begin);
  pending_.erase(0, b.end);
  next_is_first_ = false;
  return segment;
}

std::string TextAccumulator::CutAtLimit(const Scan& scan) {
  std::size_t sentence = kNone, clause = kNone, space = kNone;
  for (std::size_t k = 0; k < scan.breaks.size() && scan.cut_chars[k] <= config_.max_chars; ++k) {
    space = k;
    if (scan.breaks[k].kind == BreakKind::kSentence) sentence = k;
    if (scan.breaks[k].kind == BreakKind::kClause) clause = k;
  }
  if (sentence != kNone) return CutAt(scan, sentence);
  if (clause != kNone) return CutAt(scan, clause);
  if (space != kNone) return CutAt(scan, space);

  // The first word alone is longer than max_chars: ChunkText cuts it at a
  // character boundary. A window of 4 bytes per code point holds more than
  // max_chars whole code points, so its first piece is a prefix of the word.
  const std::string_view word =
      std::string_view(pending_).substr(0, scan.breaks.empty() ? pending_.size() : scan.breaks.front().begin);
  const std::string_view window = word.substr(0, std::min(word.size(), 4 * (config_.max_chars + 1)));
  const std::vector<std::string> pieces = ChunkText(window, config_.max_chars);
  std::size_t cut_bytes = 0;
  if (!pieces.empty() && !pieces.front().empty() && pieces.front().size() < word.size() &&
      window.starts_with(pieces.front())) {
    cut_bytes = pieces.front().size();
  } else {
    cut_bytes = utf8::PrefixBytes(word, config_.max_chars);
  }
  std::string segment = pending_.substr(0, cut_bytes);
  pending_.erase(0, cut_bytes);
  next_is_first_ = false;
  return segment;
}

std::string TextAccumulator::CutAll(const Scan& scan) {
  std::string segment = scan.Collapse(pending_, scan.trimmed_end);
  pending_.clear();
  next_is_first_ = false;
  return segment;
}

bool TextAccumulator::EndEligibleForDebounce(const Scan& scan) const {
  const std::string_view text = std::string_view(pending_).substr(0, scan.trimmed_end);
  if (text.size() >= 2 && text.back() == '.' && text[text.size() - 2] >= '0' && text[text.size() - 2] <= '9') {
    return false;  // "3." may be the start of "3.5"
  }
  return BreakKindAtEnd(text) == BreakKind::kSentence;
}

std::vector<std::string> TextAccumulator::Poll(TimePoint now) {
  std::vector<std::string> out;
  if (!debounce_can_cut_ || now < last_text_ + config_.debounce) return out;
  const Scan scan = ScanPending();
  if (EndEligibleForDebounce(scan)) {
    out.push_back(CutAll(scan));
  } else {
    std::size_t last = kNone;
    for (std::size_t k = 0; k < scan.breaks.size() && scan.cut_chars[k] <= config_.max_chars; ++k) {
      if (scan.breaks[k].kind == BreakKind::kSentence) last = k;
    }
    if (last != kNone) out.push_back(CutAt(scan, last));
  }
  Refresh();
  return out;
}

std::optional<TimePoint> TextAccumulator::NextDeadline() const {
  if (!debounce_can_cut_) return std::nullopt;
  return last_text_ + config_.debounce;
}

std::optional<std::string> TextAccumulator::TakeCompleteSentences() {
  if (pending_.empty()) return std::nullopt;
  const Scan scan = ScanPending();
  std::size_t last = kNone;
  for (std::size_t k = 0; k < scan.breaks.size() && scan.cut_chars[k] <= config_.max_chars; ++k) {
    if (scan.breaks[k].kind == BreakKind::kSentence) last = k;
  }
  if (last == kNone) return std::nullopt;
  std::string segment = CutAt(scan, last);
  Refresh();
  return segment;
}

std::vector<std::string> TextAccumulator::Flush() {
  std::vector<std::string> out;
  while (!pending_.empty()) {  // one pass: Append keeps pending text within max_chars
    const Scan scan = ScanPending();
    out.push_back(scan.total_chars > config_.max_chars ? CutAtLimit(scan) : CutAll(scan));
  }
  Refresh();
  return out;
}

void TextAccumulator::Clear() {
  pending_.clear();
  next_is_first_ = true;
  Refresh();
}

void TextAccumulator::Refresh() {
  if (pending_.empty()) {
    pending_chars_ = 0;
    debounce_can_cut_ = false;
    return;
  }
  const Scan scan = ScanPending();
  pending_chars_ = scan.total_chars;
  debounce_can_cut_ = EndEligibleForDebounce(scan) ||
                      std::any_of(scan.breaks.begin(), scan.breaks.end(),
                                  [](const TextBreak& b) { return b.kind == BreakKind::kSentence; });
}

}  // namespace supertonic::service
