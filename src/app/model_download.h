#pragma once
// `supertonic-tts download`: fetches the Supertonic 2 model files over HTTP(S)
// with libcurl. Follows redirects (Hugging Face answers with a redirect to its
// CDN; a download that starts over https is only redirected to https), resumes
// partial files (`<file>.part` plus an HTTP Range request), verifies the
// pinned sha256 and size of every file (OpenSSL), and renames a file into
// place only once it is verified, so a model directory never holds a
// half-written or unverified file under its final name. URLs in its output
// never show credentials or query strings (RedactUrl).
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace supertonic::app {

// One file of the model: its path under the model directory (the same path
// under the base URL) and, where published, its sha256 (lowercase hex) and
// size. A file without them is checked to be non-empty and, for .json, to
// parse as JSON.
struct ModelFile {
  std::string path;
  std::string sha256;  // empty: no checksum
  int64_t size = -1;   // -1: no size
};

// The files of Supertone/supertonic-2, each with its sha256 and size (the
// graphs' as published, the JSON files' computed from the published files).
// The graphs come last, the vocoder very last, so a directory that has
// onnx/vocoder.onnx was completed by a download.
const std::vector<ModelFile>& PublishedManifest();

// A manifest file replaces the compiled-in list (mirrors, newer releases,
// tests). JSON object, in download order:
//   {"onnx/tts.json": {}, "onnx/vocoder.onnx": {"sha256": "<64 hex>", "size": 101405066}}
// Throws std::runtime_error naming the file and the problem.
std::vector<ModelFile> LoadManifest(const std::filesystem::path& file);
std::string ManifestToJson(const std::vector<ModelFile>& files);

// $HF_ENDPOINT (default https://huggingface.co) + /Supertone/supertonic-2/resolve/main
std::string DefaultModelBaseUrl();

// A URL as it may be printed (banner, progress, errors, redirects): a password
// becomes *** (https://user:***@host/...; a user name without a password, often
// a token, becomes ***), the query string becomes "?…" and the fragment is
// dropped. A string libcurl cannot parse as a URL is shown only when it has no
// '@', '?' or '#'.
std::string RedactUrl(const std::string& url);

// Lowercase hex sha256 of a file's content. Throws std::runtime_error.
std::string Sha256File(const std::filesystem::path& file);

// A failure with a message for the user: it names the file, URL or host, and
// says what to do.
class DownloadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DownloadOptions {
  std::filesystem::path dest = "models/supertonic-2";
  std::string base_url = DefaultModelBaseUrl();
  std::vector<ModelFile> files = PublishedManifest();
  bool force = false;         // download every file again, ignoring what is there
  int retries = 4;            // further attempts per file after a transient failure, each resuming
  long connect_timeout_s = 20;
  long stall_timeout_s = 60;  // an attempt moving less than 1 KiB/s for this long is aborted (and retried)
  std::filesystem::path ca_bundle;  // empty: the system's CA certificates
};

// Brings every file of options.files into options.dest: files already there
// and verified are kept, the rest are downloaded. Progress goes to stderr.
// Throws DownloadError.
void DownloadModel(const DownloadOptions& options);

// The `download` subcommand's flags, declared like the other subcommands'.
struct DownloadFlags {
  std::string dest = "models/supertonic-2";
  std::string base_url = DefaultModelBaseUrl();
  std::string manifest;  // empty: the compiled-in table
  std::string ca_bundle;  // empty: the system's CA certificates
  bool force = false;
  bool print_manifest = false;
  int retries = 4;
  long connect_timeout_s = 20;

  void Add(CLI::App* cmd);
};

// Runs `supertonic-tts download`; returns the process exit code (0 ok, 1 failed).
int RunDownload(const DownloadFlags& flags);

}  // namespace supertonic::app
