#pragma once
namespace supertonic::app {
// Runs the service configured by the environment until SIGTERM/SIGINT has
// drained it. Returns the process exit code.
int Serve();
}  // namespace supertonic::app
