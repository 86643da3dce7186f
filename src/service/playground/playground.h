#pragma once
// The browser playground served at GET /: one self-contained HTML page
// (playground.html: markup, style and script, no external assets), compiled
// into the binary by cmake/EmbedPage.cmake.
#include <string_view>

namespace supertonic::service::playground {

// The page, byte for byte as in playground.html.
std::string_view Page();

// The Content-Security-Policy it is served with: its own inline script and
// style (by their SHA-256 hashes), connections to its own host (fetch and
// ws/wss), nothing else.
std::string_view ContentSecurityPolicy();

}  // namespace supertonic::service::playground
