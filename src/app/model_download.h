#pragma once
// `supertonic-tts download`: fetches a Supertonic release (supertonic-2 or
// supertonic-3) at its pinned Hugging Face revision over HTTP(S) with libcurl.
// Tries a list of base URLs in order (a repository that moved must not break a
// download): a HEAD request per file picks the first base that serves it and
// reads what the hub says about the file. Follows redirects (Hugging Face
// answers with a redirect to its CDN; a download that starts over https is
// only redirected to https), resumes partial files (`<file>.part` plus an HTTP
// Range request), verifies every file (OpenSSL) against its compiled-in sha256
// or, where none is compiled in, the sha256 the hub reports for the pinned
// revision (its X-Linked-Etag header) when that came over https (over plain
// http it verifies nothing: the file is refused unless --allow-unverified),
// refuses a non-JSON file that has neither, refuses a file the server says is
// at another revision (X-Repo-Commit), checks every JSON file parses (voice
// styles: their two tensors are there), bounds each file's size (expected size,
// else a cap) and time (--file-timeout), and renames a file into place only
// once it is verified, so a model directory never holds a half-written or
// unverified file under its final name. URLs in its output never show
// credentials or query strings (RedactUrl).
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
// under the base URL) and, where known, its sha256 (lowercase hex) and size. A
// file without a sha256 takes the one the hub reports for it; a .json file for
// which there is none either is checked to be non-empty and to parse as JSON,
// any other file is refused.
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

// A release on the hub: its name (the --model value, also the repository's
// name), the commit its files are pinned to (the one the official `supertonic`
// package 1.3.1 pins) and its files in download order.
struct ModelRelease {
  std::string name;
  std::string revision;
  std::vector<ModelFile> files;
};

// supertonic-2 (checksums compiled in) and supertonic-3 (the same file list,
// no checksums compiled in: verified against the hub's).
const std::vector<ModelRelease>& KnownReleases();
// Throws std::invalid_argument naming the known releases.
const ModelRelease& FindRelease(const std::string& name);

// A manifest file replaces the compiled-in list (mirrors, newer releases,
// tests). JSON object, in download order:
//   {"onnx/tts.json": {}, "onnx/vocoder.onnx": {"sha256": "<64 hex>", "size": 101405066}}
// Throws std::runtime_error naming the file and the problem.
std::vector<ModelFile> LoadManifest(const std::filesystem::path& file);
std::string ManifestToJson(const std::vector<ModelFile>& files);

// Base URLs are templates: {model} becomes the release's name, {revision} its
// pinned commit; the result is the folder that holds onnx/ and voice_styles/.
// The defaults, tried in order: $SUPERTONIC_MODEL_BASE_URLS (base URLs
// separated by spaces) when set, else
//   $HF_ENDPOINT/Supertone/{model}/resolve/{revision}
//   $HF_ENDPOINT/supertone-archive/{model}/resolve/{revision}
// ($HF_ENDPOINT defaults to https://huggingface.co).
std::vector<std::string> DefaultBaseUrls();
// Throws std::invalid_argument for a '{' or '}' left after the substitution.
std::string ExpandBaseUrl(const std::string& base_url_template, const ModelRelease& release);
// RedactUrl for a template: the placeholders stay readable.
std::string RedactBaseUrl(const std::string& base_url_template);

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
  ModelRelease release = FindRelease("supertonic-2");  // its files (or a --manifest's) at its revision
  std::vector<std::string> base_urls = DefaultBaseUrls();  // templates, tried in this order
  bool force = false;         // download every file again, ignoring what is there
  int retries = 4;            // further attempts per file after a transient failure, each resuming
  long connect_timeout_s = 20;
  long stall_timeout_s = 60;  // an attempt moving less than 1 KiB/s for this long is aborted (and retried)
  long file_timeout_s = 0;    // a file not complete (all its requests, HEAD included) this long after its first
                              // request to a base URL fails there; 0: from its size
  bool allow_unverified = false;  // install a file whose only sha256 came over plain http, saying NOT verified
  std::filesystem::path ca_bundle;  // empty: the system's CA certificates
};

// Brings every file of options.release into options.dest: files already there
// and verified are kept, the rest are downloaded, each from the first base URL
// (from the one that served the previous file on) that serves it; a 404, 410,
// 401 or 403, a redirect to a login page, an HTML page or an unreachable host
// at one base moves on to the next. Progress goes to stderr. Throws
// DownloadError.
void DownloadModel(const DownloadOptions& options);

// The `download` subcommand's flags, declared like the other subcommands'.
struct DownloadFlags {
  std::string model = "supertonic-2";
  std::string dest;                    // empty: models/<model>
  std::vector<std::string> base_urls;  // empty: DefaultBaseUrls()
  std::string manifest;  // empty: the compiled-in table
  std::string ca_bundle;  // empty: the system's CA certificates
  bool force = false;
  bool print_manifest = false;
  bool allow_unverified = false;
  int retries = 4;
  long connect_timeout_s = 20;
  long file_timeout_s = 0;

  void Add(CLI::App* cmd);
};

// Runs `supertonic-tts download`; returns the process exit code (0 ok, 1 failed).
int RunDownload(const DownloadFlags& flags);

}  // namespace supertonic::app
