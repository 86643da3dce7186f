#pragma once
// Where tests find the generated models, the tools and the shared assets.
#include <filesystem>
#include <string>

namespace supertonic::testing {

std::filesystem::path SourceDir();
// models/probe, models/faithful and models/probe-v3 (the Supertonic 3
// interface), written by `make models`.
std::filesystem::path ProbeModelDir();
std::filesystem::path FaithfulModelDir();
std::filesystem::path ProbeV3ModelDir();
// ../shared/models/supertonic-2 when present (empty path otherwise).
std::filesystem::path SharedModelDir();
std::filesystem::path PythonExecutable();
// A fresh, empty temporary folder for this test.
std::filesystem::path MakeTempDir(const std::string& tag);
// Runs a command, returns its standard output; throws when it fails.
std::string RunCommand(const std::string& command);

}  // namespace supertonic::testing
