#pragma once
// What a session will run with: a client's requested settings (start_session's
// config, an OpenAI speech request) resolved against the server defaults, the
// model it picked and the protocol's limits. The one place both paths
// validate, so that a value refused on one is refused on the other with the
// same code.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "engine/model_profile.h"
#include "service/protocol.h"

namespace supertonic {
struct VoiceStyle;
}

namespace supertonic::service {

struct ServiceConfig;

// A session's voice as resolved: what session_started echoes and the style
// tensors it is synthesized with (held by the session, so that a later DELETE
// or overwrite of the voice changes nothing for it).
struct ResolvedVoice {
  std::string name;  // a voice name, or a blend with normalized weights ("F1:0.7+M2:0.3")
  std::shared_ptr<const VoiceStyle> style;
};

// Resolves a voice or a blend for a served model (VoiceRegistry). Thread-safe.
class VoiceResolver {
 public:
  virtual ~VoiceResolver() = default;
  // kInvalidVoice with a message naming the unknown or malformed part.
  virtual std::variant<ResolvedVoice, ProtocolError> Resolve(std::size_t model, std::string_view voice) const = 0;
};

// What one served model offers a session: its voices (from its own
// directory), its profile's languages, and its defaults and ranges, which are
// the profile's within the protocol's limits, with the TTS_* settings that
// were set taking the profile's place.
struct ModelChoices {
  std::string name;  // as clients ask for it: the TTS_MODELS name, else the profile's
  ModelProfile profile;
  std::vector<std::string> voices;  // at start (its own and TTS_VOICES_DIR's); VoiceRegistry has the current ones
  std::string default_voice;
  std::string default_lang;
  int default_steps = 2, min_steps = kMinInferenceSteps, max_steps = kMaxInferenceSteps;
  double default_speed = 1.05, min_speed = kMinSpeed, max_speed = kMaxSpeed;

  const std::vector<std::string>& languages() const { return profile.languages; }
};

// The choices of a model called `name` with this profile and these voices
// under `config`. Throws std::invalid_argument naming the setting and the
// model when a default the configuration sets does not fit the model (a
// language it does not speak, a voice it lacks, steps or speed out of its
// range).
ModelChoices MakeModelChoices(std::string name, const ModelProfile& profile, std::vector<std::string> voices,
                              const ServiceConfig& config);

struct SessionSettings {
  std::size_t model = 0;   // index into the served models
  std::string model_name;
  std::string voice;
  std::string lang;
  int sample_rate = 0;
  int steps = 0;
  double speed = 1.0;
  std::size_t chunk_chars = 300;  // the model's chunk limit for `lang`: text bundling cuts there
  bool normalize = true;          // numbers, money, dates... in words before the model reads the text
  bool word_timings = false;      // send word_timings after each segment_started
  std::string resolved_voice{};                   // `voice` as resolved (a blend's weights normalized)
  std::shared_ptr<const VoiceStyle> voice_style{};  // null: `voice` is looked up in the model's own voices
};

// The served models' names, in order, for messages ("a, b").
std::string ModelNames(std::span<const ModelChoices> models);

// The model `request.model` names (absent: the first of `models`), then its
// settings: absent fields take that model's defaults, and every value is
// checked against it. The error message names the accepted values (the served
// models, the model's voices and languages, its ranges). `models` must not be
// empty. With `voices`, the voice (a name or a blend) is resolved through it;
// without, it must be one of the model's `voices` by name.
std::variant<SessionSettings, ProtocolError> ResolveSessionSettings(const StartSession& request,
                                                                    const ServiceConfig& config,
                                                                    std::span<const ModelChoices> models,
                                                                    const VoiceResolver* voices = nullptr);

}  // namespace supertonic::service
