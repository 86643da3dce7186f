#pragma once
// When each word a client wrote is heard in a segment's audio.
//
// Supertonic predicts one duration per item, not per character; its
// attention spreads the item's latent frames over the text ids. The timeline
// here gives every id the same share of the item's frames (exact on the probe
// model, which lays characters out that way; an estimate on the real models,
// whose pace varies inside a sentence), then maps the ids back to the words
// as written: words the normalizer left alone match their model words, and a
// run of rewritten words ("$5.50", "Dec. 3") shares the time of the words it
// became, in proportion to what each says alone.
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace supertonic {

class UnicodeIndexer;

struct WordTime {
  std::string word;   // as written, punctuation attached
  double start_s = 0;  // from the start of the item's audio
  double end_s = 0;
};

// How the model's ids sit in the item's audio: the audio is made of latent
// frames, and an id starts at the first frame its share reaches (frame
// ceil(id x frames_per_token)); finer than a frame the model has no time.
struct TokenTimeline {
  double frames_per_token = 0;   // the item's latent frames / its ids
  double seconds_per_frame = 0;  // samples per latent frame / sample rate
  double audio_s = 0;            // the item's audio (its predicted duration): no word ends later

  double SecondsAt(double token) const {
    return std::ceil(token * frames_per_token - 1e-9) * seconds_per_frame;
  }
};

// `written`: the segment as the client wrote it. `model_text`: what the model
// read (PreprocessText of the normalized text, tags included), indexed with
// `indexer` as the model was. `spoken_length(word)`: how many characters a
// written word says alone (the normalizer's output length); it only weighs
// rewritten words against each other. Every whitespace-separated word of
// `written` is returned once, in order, with non-decreasing times inside
// [0, audio_s]; a word the model does not say (markdown marks) lasts 0 s.
std::vector<WordTime> TimeWords(std::string_view written, std::string_view model_text, const UnicodeIndexer& indexer,
                                const TokenTimeline& timeline,
                                const std::function<std::size_t(std::string_view)>& spoken_length);

}  // namespace supertonic
