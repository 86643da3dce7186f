#pragma once
#include <stdexcept>
#include <string>

namespace supertonic {

// A model directory that cannot be used: missing file, wrong graph interface,
// malformed JSON. The message names the file and what is wrong with it.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A request the engine cannot serve: unknown voice or language, bad option.
class InvalidRequest : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace supertonic
