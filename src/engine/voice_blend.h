#pragma once
// Voice blends: a voice written "F1:0.7+M2:0.3" is the weighted mean of the
// parts' style tensors (weights normalized to sum 1; a part without a weight
// weighs 1). A plain name is a blend of one part.
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/voice_style.h"

namespace supertonic {

inline constexpr std::size_t kMaxBlendParts = 4;
inline constexpr double kMaxBlendWeight = 1e6;  // as written, before normalizing

struct VoicePart {
  std::string name;
  double weight = 1.0;  // normalized: the parts' weights sum to 1
};

struct VoiceMix {
  std::vector<VoicePart> parts;
  bool is_blend() const { return parts.size() > 1; }
  // "F1" for one part; else "F1:0.7+M2:0.3", the normalized weights with at
  // most 4 significant digits, in the order written. The name session_started
  // echoes and the blend cache's key.
  std::string Canonical() const;
};

// Parses a voice or a blend. Spaces around names, ':' and '+' are ignored.
// The error (a message for invalid_voice) names the part at fault: an empty
// part, a part that is not a voice name, a weight that is not a finite number
// in (0, kMaxBlendWeight], a voice named twice, or more than `max_parts` parts.
std::variant<VoiceMix, std::string> ParseVoiceMix(std::string_view spec, std::size_t max_parts = kMaxBlendParts);

// The weighted mean of the parts' tensors, computed in double: out[i] =
// sum_k w_k * style_k[i] with the weights normalized. Named `name`, metadata
// {"blend": name}. Precondition: non-empty, no null style, every style of the
// full size.
struct WeightedStyle {
  const VoiceStyle* style = nullptr;
  double weight = 1.0;
};
VoiceStyle BlendStyles(std::span<const WeightedStyle> parts, std::string name);

// A mix resolved against a lookup of voices by name: the style (the voice
// itself for one part, a new blend otherwise), or the error message naming
// the unknown part. For tools (the CLI); the service caches its blends.
using VoiceLookup = std::function<std::shared_ptr<const VoiceStyle>(const std::string& name)>;
std::variant<std::shared_ptr<const VoiceStyle>, std::string> ResolveVoiceMix(const VoiceMix& mix,
                                                                            const VoiceLookup& lookup);

// A client's text in a message: quoted, at most 64 bytes, control characters as '?'.
std::string Quoted(std::string_view s);

}  // namespace supertonic
