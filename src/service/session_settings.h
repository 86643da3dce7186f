#pragma once
// What a session will run with: a client's requested settings (start_session's
// config, an OpenAI speech request) resolved against the server defaults, the
// loaded model and the protocol's limits. The one place both paths validate,
// so that a value refused on one is refused on the other with the same code.
#include <string>
#include <variant>
#include <vector>

#include "service/protocol.h"

namespace supertonic::service {

struct ServiceConfig;

struct SessionSettings {
  std::string voice;
  std::string lang;
  int sample_rate = 0;
  int steps = 0;
  double speed = 1.0;
};

// What the loaded model offers a session.
struct ModelChoices {
  std::vector<std::string> voices;
  std::vector<std::string> languages;
};

// Absent fields take the server defaults; every value is then checked. The
// error message names the accepted values as the model and limits define them.
std::variant<SessionSettings, ProtocolError> ResolveSessionSettings(const StartSession& request,
                                                                    const ServiceConfig& config,
                                                                    const ModelChoices& model);

}  // namespace supertonic::service
