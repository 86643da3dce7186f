#include "app/model_download.h"

#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace supertonic::app {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSupertoneOrg = "Supertone";
// Where the Supertonic repositories are announced to move; tried after the
// Supertone organization (SUPERTONIC_MODEL_BASE_URLS or --base-url replace both).
constexpr const char* kArchiveOrg = "supertone-archive";
constexpr const char* kBaseUrlsEnv = "SUPERTONIC_MODEL_BASE_URLS";

// The most bytes a file may have when neither the manifest nor the server states its size: far above any real
// file of its kind (a release's largest JSON file is under 1 MB, its largest graph about 130 MB), low enough that
// an endless or wrong body cannot fill the disk. A file whose size is known may have no byte more.
constexpr int64_t kMaxUnknownJsonBytes = int64_t{16} << 20;   // 16 MiB
constexpr int64_t kMaxUnknownOtherBytes = int64_t{2} << 30;   // 2 GiB
// The automatic per-file deadline (--file-timeout 0): a fixed allowance plus the file's size (or its cap) at a
// floor speed far below any usable link (64 KiB/s: 35 min for the largest graph), so a server that trickles bytes
// just fast enough to pass the stall limit cannot hold a download forever.
constexpr int64_t kDeadlineAllowanceS = 600;
constexpr int64_t kFloorBytesPerSecond = 64 * 1024;

// Where to point a user who cannot download here.
constexpr const char* kMountHint =
    "If this machine cannot reach it, download the model where you can (this command, or the files of the "
    "Hugging Face repository at the pinned revision) and mount or copy that directory here instead: it must hold "
    "onnx/ and voice_styles/ (TTS_MODEL_DIR or TTS_MODELS points the server at it; in Docker, mount it read-only "
    "there: -v /path/to/model:/models/<name>:ro).";

std::string HumanBytes(int64_t n) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1);
  if (n >= 1000 * 1000) {
    os << static_cast<double>(n) / 1e6 << " MB";
  } else if (n >= 1000) {
    os << static_cast<double>(n) / 1e3 << " KB";
  } else {
    os.str("");
    os << n << " B";
  }
  return os.str();
}

// Owns a libcurl URL handle; parses the way CURLOPT_URL does (a missing scheme
// is guessed, unknown schemes are kept) so what is shown matches what is fetched.
class ParsedUrl {
 public:
  explicit ParsedUrl(const std::string& url) : h_(curl_url()) {
    ok_ = h_ != nullptr &&
          curl_url_set(h_, CURLUPART_URL, url.c_str(), CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK;
  }
  ~ParsedUrl() { curl_url_cleanup(h_); }
  ParsedUrl(const ParsedUrl&) = delete;
  ParsedUrl& operator=(const ParsedUrl&) = delete;

  bool ok() const { return ok_; }
  bool Has(CURLUPart part) const {
    char* value = nullptr;
    const bool has = ok_ && curl_url_get(h_, part, &value, 0) == CURLUE_OK && value != nullptr;
    curl_free(value);
    return has;
  }
  // Empty when absent.
  std::string Get(CURLUPart part, unsigned flags = 0) const {
    char* value = nullptr;
    std::string result;
    if (ok_ && curl_url_get(h_, part, &value, flags) == CURLUE_OK && value != nullptr) result = value;
    curl_free(value);
    return result;
  }
  bool Set(CURLUPart part, const char* value) { return ok_ && curl_url_set(h_, part, value, 0) == CURLUE_OK; }

 private:
  CURLU* h_ = nullptr;
  bool ok_ = false;
};

bool EqualsIgnoreCase(const std::string& a, const char* b) {
  return a.size() == std::strlen(b) && std::equal(a.begin(), a.end(), b, [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// BASE + "/" + path, in the path part of BASE (a query string in BASE stays a query string).
std::string JoinUrl(const std::string& base, const std::string& path) {
  ParsedUrl u(base);
  if (u.ok()) {
    std::string p = u.Get(CURLUPART_PATH);
    while (!p.empty() && p.back() == '/') p.pop_back();
    p += "/" + path;
    if (u.Set(CURLUPART_PATH, p.c_str())) {
      std::string joined = u.Get(CURLUPART_URL);
      if (!joined.empty()) return joined;
    }
  }
  std::string b = base;  // libcurl will refuse it with a clear error
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + "/" + path;
}

// "host:port" (or "host") of a URL, for messages about reaching it.
std::string HostPortOf(const std::string& url, bool with_port = true) {
  ParsedUrl u(url);
  const std::string host = u.Get(CURLUPART_HOST);
  if (host.empty()) return RedactUrl(url);
  const std::string port = with_port ? u.Get(CURLUPART_PORT, CURLU_DEFAULT_PORT) : "";
  return port.empty() ? host : host + ":" + port;
}

bool IsHttps(const std::string& url) { return EqualsIgnoreCase(ParsedUrl(url).Get(CURLUPART_SCHEME), "https"); }

// The protocols a redirect may lead to: a download that starts over https stays
// on https (a redirect to plain http is refused); one that starts over plain
// http (a local mirror) may also be redirected to https.
const char* RedirectProtocolsFor(const std::string& base_url) { return IsHttps(base_url) ? "https" : "http,https"; }

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A manifest path must stay inside the model directory.
void CheckRelativePath(const std::string& path, const std::string& where) {
  if (path.empty() || path.front() == '/' || path.find('\\') != std::string::npos) {
    throw std::runtime_error(where + ": file path '" + path + "' must be relative, with '/' separators");
  }
  std::istringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty() || part == "." || part == "..") {
      throw std::runtime_error(where + ": file path '" + path + "' has an empty, '.' or '..' component");
    }
  }
}

int64_t FileSizeOr(const fs::path& p, int64_t missing) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  return ec ? missing : static_cast<int64_t>(size);
}

void RemoveQuietly(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
}

// Removes the lock file and every directory under (and including) `dir` left
// empty: what a download that fetched nothing created.
void RemoveEmptyTree(const fs::path& dir) {
  RemoveQuietly(dir / ".download.lock");
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path());
  }
  std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
    return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
  });
  dirs.push_back(dir);
  for (const auto& d : dirs) {
    if (fs::is_empty(d, ec) && !ec) fs::remove(d, ec);
  }
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Empty when the file at `p` is what `f` describes; otherwise why it is not.
// `source` (where it came from) is printed as is: a redacted URL or a path.
// Why a voice style file (voice_styles/*.json) does not hold what the server
// reads from it (VoiceStyle: the style_ttl and style_dp tensors, each with its
// dims and data); empty when it does. The shapes are checked when it is loaded.
std::string VoiceStyleProblem(const nlohmann::json& j) {
  if (!j.is_object()) return "not a JSON object";
  for (const char* key : {"style_ttl", "style_dp"}) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_object()) return std::string("no \"") + key + "\" object";
    for (const char* field : {"dims", "data"}) {
      const auto f = it->find(field);
      if (f == it->end() || !f->is_array() || f->empty()) {
        return std::string("no \"") + field + "\" array in \"" + key + "\"";
      }
    }
  }
  return "";
}

std::string VerifyFile(const fs::path& p, const ModelFile& f, const std::string& source) {
  const int64_t size = FileSizeOr(p, -1);
  if (size < 0) return "cannot read " + p.string();
  const bool checked = !f.sha256.empty() || f.size >= 0;
  if (checked) {
    const std::string actual = Sha256File(p);
    const bool size_ok = f.size < 0 || size == f.size;
    const bool sha_ok = f.sha256.empty() || actual == f.sha256;
    if (!(size_ok && sha_ok)) {
      std::ostringstream os;
      os << (sha_ok ? "size mismatch" : "checksum mismatch") << " for " << f.path << " (from " << source << "):\n"
         << "  expected sha256 " << (f.sha256.empty() ? "(any)" : f.sha256) << ", "
         << (f.size >= 0 ? std::to_string(f.size) : std::string("any number of")) << " bytes\n"
         << "  actual   sha256 " << actual << ", " << size << " bytes";
      return os.str();
    }
  }
  if (size == 0 && !checked) return f.path + " from " + source + " is empty";
  // A JSON file must parse whatever its checksum says: a checksum from the hub only says the server sent what it
  // meant to send.
  if (EndsWith(f.path, ".json")) {
    std::ifstream in(p, std::ios::binary);
    const bool voice_style = f.path.rfind("voice_styles/", 0) == 0;
    if (!voice_style) {
      if (!nlohmann::json::accept(in)) {
        return f.path + " from " + source + " is not valid JSON (an error page from a proxy or captive portal?)";
      }
    } else {
      const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) {
        return f.path + " from " + source + " is not valid JSON (an error page from a proxy or captive portal?)";
      }
      if (const std::string problem = VoiceStyleProblem(j); !problem.empty()) {
        return f.path + " from " + source + " is not a voice style: " + problem;
      }
    }
  }
  return "";
}

// Makes a renamed file durable: the data first, then the directory entry.
void SyncPath(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

struct CurlGlobal {
  CurlGlobal() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw DownloadError("cannot initialize libcurl");
  }
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

// Serializes downloads into one directory (e.g. replicas sharing a volume):
// the second waits, then finds the files verified and keeps them.
class DirectoryLock {
 public:
  explicit DirectoryLock(const fs::path& dir) {
    const fs::path lock = dir / ".download.lock";
    fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;  // read-only directory: nothing can be written there anyway
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      std::cerr << "  another download into " << dir.string() << " is running; waiting for it\n";
      ::flock(fd_, LOCK_EX);
    }
  }
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

// One HTTP request for one file, appending to (or restarting) its .part.
struct Attempt {
  CURL* curl = nullptr;
  fs::path part;
  std::string label;
  int64_t offset = 0;        // bytes already in .part that this request resumes after
  int64_t file_size = -1;    // the whole file's size when known (manifest or server)
  FILE* out = nullptr;
  bool body_started = false;
  bool saw_response = false;
  long status = 0;           // of the last response (redirects come before it)
  int64_t content_length = -1;
  int64_t range_start = -1;  // Content-Range: bytes START-END/TOTAL
  int64_t range_total = -1;
  int64_t received = 0;      // body bytes written to .part by this request
  int64_t limit = -1;        // the most bytes the whole file may have (offset + received), -1: none
  std::string limit_why;     // what that limit is, for the message: "the size the manifest states"
  bool oversize = false;     // the transfer was aborted because the body would pass `limit`
  std::string error_body;
  std::string local_error;   // why a callback aborted the transfer
  bool tty = false;
  std::chrono::steady_clock::time_point last_report{};
  bool progress_shown = false;
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// One line of curl's header callback: a status line starts a new response
// (the first, or one after a redirect); otherwise a lower-cased name and its value.
struct HeaderLine {
  bool starts_response = false;
  long status = 0;
  std::string name, value;  // empty name: neither (a blank line, a malformed one)
};

HeaderLine ParseHeaderLine(const char* data, size_t bytes) {
  const std::string line(data, bytes);
  HeaderLine h;
  if (line.rfind("HTTP/", 0) == 0) {
    h.starts_response = true;
    const auto space = line.find(' ');
    h.status = space == std::string::npos ? 0 : std::strtol(line.c_str() + space + 1, nullptr, 10);
    return h;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return h;
  h.name = line.substr(0, colon);
  std::transform(h.name.begin(), h.name.end(), h.name.begin(), [](unsigned char c) { return std::tolower(c); });
  h.value = Trim(line.substr(colon + 1));
  return h;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Attempt*>(user);
  const HeaderLine h = ParseHeaderLine(data, size * n);
  if (h.starts_response) {
    a->saw_response = true;
    a->status = h.status;
    a->content_length = a->range_start = a->range_total = -1;
    return size * n;
  }
  if (h.name.empty()) return size * n;
  const std::string& name = h.name;
  const std::string& value = h.value;
  if (name == "content-length") {
    a->content_length = std::strtoll(value.c_str(), nullptr, 10);
  } else if (name == "content-range") {  // "bytes 100-199/1000" or "bytes */1000"
    const auto sp = value.find(' ');
    const auto slash = value.find('/');
    if (sp != std::string::npos && slash != std::string::npos) {
      const std::string range = value.substr(sp + 1, slash - sp - 1);
      if (range != "*") a->range_start = std::strtoll(range.c_str(), nullptr, 10);
      const std::string total = value.substr(slash + 1);
      if (total != "*") a->range_total = std::strtoll(total.c_str(), nullptr, 10);
    }
  }
  return size * n;
}

bool OpenPart(Attempt* a, const char* mode) {
  a->out = std::fopen(a->part.c_str(), mode);
  if (a->out == nullptr) {
    a->local_error = "cannot write " + a->part.string() + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// Aborts the transfer (a write error) once `total` bytes would pass the file's limit.
bool Oversize(Attempt* a, int64_t total, const char* what) {
  if (a->limit < 0 || total <= a->limit) return false;
  a->oversize = true;
  a->local_error = a->label + ": the server " + what + " more than " + std::to_string(a->limit) + " bytes (" +
                   a->limit_why + ")";
  return true;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Attempt*>(user);
  const size_t len = size * n;
  if (!a->body_started) {
    a->body_started = true;
    if (a->status == 206) {
      if (a->range_start != a->offset) {
        a->local_error = "the server answered a range starting at byte " + std::to_string(a->range_start) +
                         " to a request for byte " + std::to_string(a->offset);
        return 0;
      }
      if (Oversize(a, a->range_total, "announced a file of")) return 0;
      if (a->content_length >= 0 && Oversize(a, a->offset + a->content_length, "announced")) return 0;
      if (!OpenPart(a, "ab")) return 0;
    } else if (a->status == 200) {  // the whole file: no range asked, or the server ignored it
      a->offset = 0;
      if (a->content_length >= 0 && Oversize(a, a->content_length, "announced")) return 0;
      if (!OpenPart(a, "wb")) return 0;
    }
  }
  if (a->out != nullptr) {
    if (Oversize(a, a->offset + a->received + static_cast<int64_t>(len), "sent")) return 0;
    if (std::fwrite(data, 1, len, a->out) != len) {
      a->local_error = "cannot write " + a->part.string() + ": " + std::strerror(errno);
      return 0;
    }
    a->received += static_cast<int64_t>(len);
  } else if (a->error_body.size() < 300) {
    a->error_body.append(data, std::min(len, 300 - a->error_body.size()));
  }
  return len;
}

int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* a = static_cast<Attempt*>(user);
  if (a->out == nullptr) return 0;
  const int64_t total = a->file_size >= 0 ? a->file_size : (dltotal > 0 ? a->offset + dltotal : -1);
  if (total < 4 * 1000 * 1000) return 0;  // small files: no progress lines
  const auto now = std::chrono::steady_clock::now();
  const auto every = a->tty ? std::chrono::milliseconds(500) : std::chrono::milliseconds(10000);
  if (a->progress_shown && now - a->last_report < every) return 0;
  a->last_report = now;
  a->progress_shown = true;
  const int64_t have = a->offset + dlnow;
  std::ostringstream os;
  os << "    " << a->label << ": " << HumanBytes(have) << " of " << HumanBytes(total) << " ("
     << (100 * have / std::max<int64_t>(total, 1)) << "%)";
  if (a->tty) {
    std::cerr << "\r" << os.str() << "\033[K" << std::flush;
  } else {
    std::cerr << os.str() << "\n";
  }
  return 0;
}

enum class AttemptResult { kComplete, kRetry };

// "W/\"<hex>\"" or "\"<hex>\"" -> "<hex>", lowercase.
std::string NormalizeEtag(std::string etag) {
  etag = Trim(etag);
  if (etag.rfind("W/", 0) == 0 || etag.rfind("w/", 0) == 0) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  std::transform(etag.begin(), etag.end(), etag.begin(), [](unsigned char c) { return std::tolower(c); });
  return etag;
}

// The headers of one response to a HEAD request (the last, when redirects are followed by hand).
struct HeadResponse {
  long status = 0;
  std::string location;
  std::string linked_etag;  // X-Linked-Etag: Hugging Face's LFS sha256
  std::string linked_size;  // X-Linked-Size
  std::string etag;
  std::string repo_commit;  // X-Repo-Commit
  std::string content_type;
  std::string content_length;
};

size_t OnHeadHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<HeadResponse*>(user);
  const HeaderLine h = ParseHeaderLine(data, size * n);
  if (h.starts_response) {
    *r = HeadResponse{};
    r->status = h.status;
    return size * n;
  }
  const std::string& name = h.name;
  const std::string& value = h.value;
  if (name == "location") r->location = value;
  if (name == "x-linked-etag") r->linked_etag = value;
  if (name == "x-linked-size") r->linked_size = value;
  if (name == "etag") r->etag = value;
  if (name == "x-repo-commit") r->repo_commit = value;
  if (name == "content-type") r->content_type = value;
  if (name == "content-length") r->content_length = value;
  return size * n;
}

// A redirect to a sign-in page means the repository is not served to us here
// (private, gated, or gone), not that the file is there.
bool LooksLikeLoginPage(const std::string& url) {
  std::string path = ParsedUrl(url).Get(CURLUPART_PATH);
  std::transform(path.begin(), path.end(), path.begin(), [](unsigned char c) { return std::tolower(c); });
  std::istringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.rfind("login", 0) == 0 || part == "signin" || part == "sign-in" || part == "sign_in" || part == "sso") {
      return true;
    }
  }
  return false;
}

// What the base URL that serves a file says about it.
struct HubAnswer {
  size_t base = 0;      // index into the base URLs
  std::string url;      // BASE/path, the URL the file is downloaded from
  std::string sha256;   // the hub's (X-Linked-Etag, or an ETag that is a sha256); empty: none
  bool sha256_over_https = false;  // it came from a TLS-authenticated host (else anyone on the path could set it)
  int64_t size = -1;    // X-Linked-Size (the size of the file whose sha256 that is); -1: none
  int64_t announced_size = -1;  // X-Linked-Size, else the Content-Length of a 2xx answer to the HEAD; -1: none
  std::string commit;   // X-Repo-Commit
  // When the first request to this base for the file began: the file's deadline counts from it.
  std::chrono::steady_clock::time_point asked_at;
};

// What a file is checked against, and where that came from.
struct Expectation {
  // kHubUnverified: the hub's sha256 came over plain http and --allow-unverified accepts it (it catches a
  // corrupted transfer, not a tampered file); kHubOverHttp: the same without the flag, refused.
  enum class Source { kCompiledIn, kHub, kHubUnverified, kHubOverHttp, kNone };
  ModelFile file;  // path, and the sha256 and size to check
  Source source = Source::kNone;
  std::string revision;  // kHub: the revision whose sha256 it is
};

// Only JSON files have a check of their own (they must parse); any other file
// is refused without a sha256.
bool NeedsChecksum(const ModelFile& f) { return !EndsWith(f.path, ".json"); }

std::string HowVerified(const Expectation& e) {
  switch (e.source) {
    case Expectation::Source::kCompiledIn:
      return "sha256 verified";
    case Expectation::Source::kHub:
      return "verified against the hub's sha256 for revision " + e.revision;
    case Expectation::Source::kHubUnverified:
    case Expectation::Source::kHubOverHttp:
      return "NOT verified: it only matches the sha256 the server itself sent over plain http "
             "(--allow-unverified)";
    case Expectation::Source::kNone:
      break;
  }
  return "checked as JSON (no sha256 compiled in or from the hub)";
}

class Downloader {
 public:
  Downloader(const DownloadOptions& o, std::vector<std::string> base_urls)
      : o_(o), base_urls_(std::move(base_urls)), downloads_per_base_(base_urls_.size(), 0) {
    curl_ = curl_easy_init();
    if (curl_ == nullptr) throw DownloadError("cannot initialize libcurl");
    tty_ = ::isatty(STDERR_FILENO) == 1;
  }
  ~Downloader() { curl_easy_cleanup(curl_); }
  Downloader(const Downloader&) = delete;
  Downloader& operator=(const Downloader&) = delete;

  // Files downloaded from each base URL, in the order of the base URLs.
  const std::vector<int>& DownloadsPerBase() const { return downloads_per_base_; }
  // Files installed or kept NOT verified (--allow-unverified).
  const std::vector<std::string>& Unverified() const { return unverified_; }

  // Returns true when the file was downloaded, false when it was already there.
  bool Ensure(const ModelFile& f) {
    const fs::path final_path = o_.dest / f.path;
    fs::path part = final_path;
    part += ".part";
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (ec) {
      throw DownloadError("cannot create " + final_path.parent_path().string() + ": " + ec.message());
    }
    // The hub is asked (a HEAD request) only when a request is needed anyway or the checksum must come from it.
    std::optional<HubAnswer> answer;
    const auto ask = [&]() -> const HubAnswer& {
      if (!answer) answer = Ask(f);
      return *answer;
    };
    const Expectation expect =
        f.sha256.empty() ? FromHub(f, ask()) : Expectation{f, Expectation::Source::kCompiledIn, ""};
    if (expect.source == Expectation::Source::kNone && NeedsChecksum(f)) {
      const bool had_part = fs::exists(part);
      RemoveQuietly(part);
      throw DownloadError(
          "no checksum to verify " + f.path + " against: none is compiled in for " + o_.release.name + ", and " +
          RedactUrl(ask().url) + " reported none for revision " + o_.release.revision +
          " (Hugging Face sends a large file's sha256 in its X-Linked-Etag header). Refusing to install an "
          "unverified file" + (had_part ? "; its partial download " + part.string() + " was deleted" : "") +
          ". Pass --manifest with the sha256 you trust, or a --base-url that answers like the hub.");
    }
    if (expect.source == Expectation::Source::kHubOverHttp) {
      const bool had_part = fs::exists(part);
      RemoveQuietly(part);
      throw DownloadError(
          "cannot verify " + f.path + ": no checksum is compiled in for " + o_.release.name + ", and the sha256 " +
          RedactUrl(ask().url) + " reported for it came over plain http, where whoever can alter the file in "
          "transit can alter that header too: it verifies nothing. Refusing to install an unverified file" +
          (had_part ? "; its partial download " + part.string() + " was deleted" : "") +
          ". Use an https --base-url (the hub's sha256 then comes from the authenticated host), pass --manifest "
          "with the sha256 you trust, or pass --allow-unverified to install it anyway, NOT verified.");
    }
    if (expect.source == Expectation::Source::kHubUnverified) unverified_.push_back(f.path);
    if (o_.force) {
      RemoveQuietly(part);  // a present file stays until its replacement is verified
    } else if (fs::exists(final_path)) {
      const std::string problem = VerifyFile(final_path, expect.file, final_path.string());
      if (problem.empty()) {
        std::cerr << "  " << f.path << ": present, " << HowVerified(expect) << "\n";
        return false;
      }
      std::cerr << "  " << f.path << ": present but does not verify; downloading it again\n";
      if (!fs::remove(final_path, ec) || ec) {
        throw DownloadError("cannot replace " + final_path.string() + (ec ? ": " + ec.message() : ""));
      }
    }
    const auto where = [&]() {  // for messages: no request just to name the source
      return RedactUrl(answer ? answer->url : JoinUrl(base_urls_[current_base_], f.path));
    };
    Fetch(expect, ask, where, part);
    fs::rename(part, final_path, ec);
    if (ec) throw DownloadError("cannot rename " + part.string() + " to " + final_path.string() + ": " + ec.message());
    SyncPath(final_path.parent_path());
    if (answer) ++downloads_per_base_[answer->base];
    return true;
  }

 private:
  Expectation FromHub(const ModelFile& f, const HubAnswer& answer) const {
    Expectation e{f, Expectation::Source::kNone, ""};
    if (answer.sha256.empty()) return e;
    // A sha256 verifies only when it comes from the authenticated hub: over plain http whoever can alter the file
    // in transit can alter its header too.
    e.source = answer.sha256_over_https ? Expectation::Source::kHub
               : o_.allow_unverified    ? Expectation::Source::kHubUnverified
                                        : Expectation::Source::kHubOverHttp;
    e.file.sha256 = answer.sha256;
    if (e.file.size < 0) e.file.size = answer.size;
    e.revision = answer.commit.empty() ? o_.release.revision : answer.commit;
    return e;
  }

  // The first base URL, from the one that served the previous file on, that serves `f`.
  HubAnswer Ask(const ModelFile& f) {
    std::vector<std::string> refusals;
    bool network = false;
    for (size_t i = current_base_; i < base_urls_.size(); ++i) {
      const std::string url = JoinUrl(base_urls_[i], f.path);
      std::string refusal;
      bool unreachable = false;
      // Each base gets the file's whole time: one that never answers leaves the next its chance.
      const auto asked_at = std::chrono::steady_clock::now();
      const auto deadline = asked_at + std::chrono::seconds(AskTimeoutS());
      if (auto answer = AskBase(f, url, deadline, &refusal, &unreachable)) {
        answer->base = i;
        answer->asked_at = asked_at;
        current_base_ = i;
        if (!answer->commit.empty() && !EqualsIgnoreCase(answer->commit, o_.release.revision.c_str())) {
          throw DownloadError("refusing " + f.path + ": " + RedactUrl(url) + " serves revision " + answer->commit +
                              " (its X-Repo-Commit header), not the pinned revision " + o_.release.revision +
                              " of " + o_.release.name +
                              ". Check --base-url: {revision} must stand for the pinned commit, not a branch.");
        }
        return *answer;
      }
      network = network || unreachable;
      refusals.push_back(base_urls_.size() == 1 ? refusal : RedactUrl(base_urls_[i]) + ": " + refusal);
      if (i + 1 < base_urls_.size()) {
        std::cerr << "  " << f.path << ": not served by " << RedactUrl(base_urls_[i]) << " (" << refusal
                  << "); trying " << RedactUrl(base_urls_[i + 1]) << "\n";
      }
    }
    std::string message;
    if (refusals.size() == 1) {
      message = refusals.front();
    } else {
      message = "no base URL serves " + f.path + ":";
      for (const auto& r : refusals) message += "\n  " + r;
      message += "\n";
    }
    const bool ends_a_sentence = !message.empty() && (message.back() == '?' || message.back() == '.');
    const std::string gap = refusals.size() > 1 ? "" : ends_a_sentence ? " " : ". ";
    if (network) return Fail(message + gap + kMountHint);
    return Fail(message + gap + "Check --base-url (or " + kBaseUrlsEnv +
                "): each must be the folder that holds onnx/ and voice_styles/, {model} and {revision} standing for " +
                o_.release.name + " and " + o_.release.revision + " (the defaults are " + DefaultsShown() + ").");
  }

  [[noreturn]] static HubAnswer Fail(const std::string& message) { throw DownloadError(message); }

  static std::string DefaultsShown() {
    std::string shown;
    for (const auto& b : DefaultBaseUrls()) shown += (shown.empty() ? "" : ", then ") + RedactBaseUrl(b);
    return shown;
  }

  // HEAD of BASE/path. A relative redirect (a renamed repository on Hugging
  // Face) is followed, any other redirect is the answer: the hub states the
  // file's sha256 beside its redirect to the CDN, which is not asked.
  // Returns nothing, with why in *refusal, when this base does not serve the file.
  std::optional<HubAnswer> AskBase(const ModelFile& f, const std::string& url,
                                   std::chrono::steady_clock::time_point deadline, std::string* refusal,
                                   bool* unreachable) {
    HubAnswer answer;
    answer.url = url;
    std::string current = url;
    std::string linked_etag, linked_size, sha_etag, commit, content_length;
    bool linked_etag_https = false, sha_etag_https = false;
    const std::string shown_url = RedactUrl(url);
    for (int hop = 0; hop <= 5; ++hop) {
      HeadResponse r;
      if (!Head(current, f.path, deadline, &r, refusal, unreachable)) return std::nullopt;
      if (linked_etag.empty()) {
        linked_etag = r.linked_etag;
        linked_etag_https = IsHttps(current);
      }
      if (linked_size.empty()) linked_size = r.linked_size;
      if (commit.empty()) commit = r.repo_commit;
      if (sha_etag.empty() && IsSha256Hex(NormalizeEtag(r.etag))) {
        sha_etag = NormalizeEtag(r.etag);
        sha_etag_https = IsHttps(current);
      }
      if (r.status >= 200 && r.status < 300) content_length = r.content_length;
      const std::string via = current != url ? " (redirected to " + RedactUrl(current) + ")" : "";
      if (r.status >= 300 && r.status < 400) {
        char* target = nullptr;
        curl_easy_getinfo(curl_, CURLINFO_REDIRECT_URL, &target);
        const std::string next = target != nullptr ? target : "";
        if (!next.empty() && LooksLikeLoginPage(next)) {
          *refusal = "redirected to a login page (" + RedactUrl(next) + ") for " + shown_url;
          return std::nullopt;
        }
        const bool relative = !r.location.empty() && r.location.front() == '/' && r.location.rfind("//", 0) != 0;
        if (relative && r.linked_etag.empty() && !next.empty()) {
          current = next;
          continue;
        }
        break;  // the hub's answer: a redirect to where the bytes are
      }
      if (r.status >= 200 && r.status < 300) {
        if (r.content_type.rfind("text/html", 0) == 0) {
          *refusal = "an HTML page instead of " + f.path + " at " + shown_url + via + " (a login or error page?)";
          return std::nullopt;
        }
        break;
      }
      if (r.status == 405 || r.status == 501) break;  // no HEAD here: the download itself will tell
      if (r.status == 404 || r.status == 410) {
        *refusal = "HTTP " + std::to_string(r.status) + (r.status == 404 ? " Not Found" : " Gone") + " for " +
                   shown_url + via + " (" + f.path + ")";
      } else if (r.status == 401 || r.status == 403) {
        *refusal = "HTTP " + std::to_string(r.status) + " (access denied) for " + shown_url + via +
                   ": a private or moved repository (Hugging Face answers 401 for one that does not exist), "
                   "or a private mirror that needs credentials in its URL";
      } else {
        *refusal = "unexpected HTTP " + std::to_string(r.status) + " for " + shown_url + via;
      }
      return std::nullopt;
    }
    const std::string linked = NormalizeEtag(linked_etag);
    answer.sha256 = IsSha256Hex(linked) ? linked : sha_etag;
    answer.sha256_over_https = IsSha256Hex(linked) ? linked_etag_https : sha_etag_https;
    const auto parse_size = [](const std::string& text) -> int64_t {
      char* end = nullptr;
      const long long size = std::strtoll(text.c_str(), &end, 10);
      return !text.empty() && end != text.c_str() && *end == '\0' && size >= 0 ? size : -1;
    };
    if (!answer.sha256.empty()) answer.size = parse_size(linked_size);
    // The size the server announces bounds what is accepted of the body, checksum or not (a HEAD answered with
    // Content-Length 0 is taken to say nothing).
    answer.announced_size = parse_size(linked_size);
    if (answer.announced_size < 0 && parse_size(content_length) > 0) answer.announced_size = parse_size(content_length);
    answer.commit = Trim(commit);
    return answer;
  }

  // The deadline of the requests that ask a base about a file (before its size, which sets the automatic
  // deadline, is known): --file-timeout, else the fixed part of the automatic one.
  long AskTimeoutS() const { return o_.file_timeout_s > 0 ? o_.file_timeout_s : kDeadlineAllowanceS; }

  std::string AskTimeoutShown() const {
    return std::to_string(AskTimeoutS()) + " s (" +
           (o_.file_timeout_s > 0 ? "--file-timeout" : "the default --file-timeout before the file's size is known") +
           ")";
  }

  // One HEAD request, retried after transient failures while the file's
  // deadline leaves time for another attempt (as its download is). False,
  // with why in *refusal, when the host cannot be reached or keeps failing.
  bool Head(const std::string& url, const std::string& path, std::chrono::steady_clock::time_point deadline,
            HeadResponse* r, std::string* refusal, bool* unreachable) {
    const int max_attempts = 1 + std::max(0, o_.retries);
    const std::string host = HostPortOf(url);
    for (int attempt = 1;; ++attempt) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                              std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        *refusal = "no answer from " + host + " for " + path + " within " + AskTimeoutShown();
        return false;
      }
      char errbuf[CURL_ERROR_SIZE] = {0};
      curl_easy_reset(curl_);
      curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
      curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 0L);
      curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
      if (!o_.ca_bundle.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, o_.ca_bundle.c_str());
      curl_easy_setopt(curl_, CURLOPT_USERAGENT, "supertonic-tts-download/1 (libcurl)");
      curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, o_.connect_timeout_s);
      const long attempt_ms = 1000 * std::max<long>(o_.stall_timeout_s, o_.connect_timeout_s + 10);
      curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(std::min<int64_t>(attempt_ms, left.count())));
      curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf);
      curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, OnHeadHeader);
      curl_easy_setopt(curl_, CURLOPT_HEADERDATA, r);
      *r = HeadResponse{};
      const CURLcode rc = curl_easy_perform(curl_);
      const std::string detail = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
      std::string problem;
      if (rc == CURLE_OK) {
        if (r->status != 408 && r->status != 429 && r->status < 500) return true;
        problem = "HTTP " + std::to_string(r->status) + " from " + RedactUrl(url);
      } else {
        curl_off_t connect_us = 0;
        curl_easy_getinfo(curl_, CURLINFO_CONNECT_TIME_T, &connect_us);
        switch (rc) {
          case CURLE_COULDNT_RESOLVE_HOST:
            *unreachable = true;
            *refusal = "cannot resolve host " + HostPortOf(url, false) + " (" + detail + "): no network or no DNS?";
            return false;
          case CURLE_COULDNT_RESOLVE_PROXY:
            throw DownloadError("cannot resolve the proxy (" + detail +
                                "); check the https_proxy/http_proxy variables. " + kMountHint);
          case CURLE_COULDNT_CONNECT:
            *unreachable = true;
            *refusal = "cannot connect to " + host + " (" + detail + "): no network, or a firewall?";
            return false;
          case CURLE_OPERATION_TIMEDOUT:
            // libcurl's clock and ours differ by a little: within 100 ms of the deadline, it was the deadline.
            if (std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= deadline) {
              *unreachable = r->status == 0;
              *refusal = "no answer from " + host + " for " + path + " within " + AskTimeoutShown();
              return false;
            }
            if (connect_us == 0 && r->status == 0) {
              *unreachable = true;
              *refusal = "cannot connect to " + host + " within " + std::to_string(o_.connect_timeout_s) + " s (" +
                         detail + "): no network, or a firewall?";
              return false;
            }
            break;
          case CURLE_PEER_FAILED_VERIFICATION:
          case CURLE_SSL_CACERT_BADFILE:
          case CURLE_SSL_CERTPROBLEM:
            throw DownloadError("TLS verification failed for " + host + " (" + detail +
                                "): is the ca-certificates package installed, or is a proxy intercepting TLS? A "
                                "mirror with a private CA: pass its certificate with --ca-bundle.");
          case CURLE_UNSUPPORTED_PROTOCOL:
          case CURLE_URL_MALFORMAT:
            throw DownloadError("bad URL " + RedactUrl(url) + " (" + detail + "); check --base-url");
          default:
            break;
        }
        problem = "no answer from " + host + " (" + detail + ")";
      }
      if (attempt >= max_attempts) {
        *refusal = problem + " (attempt " + std::to_string(attempt) + " of " + std::to_string(max_attempts) + ")";
        return false;
      }
      const auto backoff = std::chrono::milliseconds(std::min(1000 << std::min(attempt - 1, 4), 10000));
      if (std::chrono::steady_clock::now() + backoff >= deadline) {
        *refusal = problem + "; no time is left for another attempt within " + AskTimeoutShown();
        return false;
      }
      std::cerr << "  " << problem << "; retrying in " << backoff.count() / 1000.0 << " s\n";
      std::this_thread::sleep_for(backoff);
    }
  }

  // Brings `part` to the verified content of `expect.file`; throws DownloadError.
  template <typename AskFn, typename WhereFn>
  void Fetch(const Expectation& expect, const AskFn& ask, const WhereFn& where, const fs::path& part) {
    const ModelFile& f = expect.file;
    const int max_attempts = 1 + std::max(0, o_.retries);
    int attempt = 0;
    bool restarted = false;
    // The most bytes the file may have, and what says so; then the time for all its requests together.
    Bounds bounds;
    if (f.size >= 0) {
      bounds.limit = f.size;
      bounds.why = expect.source == Expectation::Source::kCompiledIn ? "the size the manifest states"
                                                                      : "the size the hub states";
    } else if (ask().announced_size >= 0) {
      bounds.limit = ask().announced_size;
      bounds.why = "the size the server announced for it";
    } else {
      const bool json = EndsWith(f.path, ".json");
      bounds.limit = json ? kMaxUnknownJsonBytes : kMaxUnknownOtherBytes;
      bounds.why = std::string("the cap for a ") + (json ? "JSON file" : "file") + " of unknown size";
    }
    bounds.timeout_s = o_.file_timeout_s > 0 ? o_.file_timeout_s
                                             : kDeadlineAllowanceS + bounds.limit / kFloorBytesPerSecond;
    while (true) {
      int64_t offset = FileSizeOr(part, 0);
      if (f.size >= 0 && offset > f.size) {  // longer than the file can be: not resumable
        RemoveQuietly(part);
        offset = 0;
      }
      const int64_t resumed_from = offset;
      // A .part with the full size (an earlier run stopped before verifying) is verified without a request.
      if (!(f.size > 0 && offset == f.size)) {
        ++attempt;
        if (offset > 0) std::cerr << "  " << f.path << ": resuming at " << HumanBytes(offset) << "\n";
        std::string problem;
        // The deadline counts from the first request to the base that serves the file, its HEAD included.
        const HubAnswer& answer = ask();
        bounds.deadline = answer.asked_at + std::chrono::seconds(bounds.timeout_s);
        if (RunAttempt(f, answer.url, part, offset, bounds, &problem) == AttemptResult::kRetry) {
          const auto backoff = std::chrono::milliseconds(std::min(1000 << std::min(attempt - 1, 4), 10000));
          if (std::chrono::steady_clock::now() + backoff >= bounds.deadline) {
            throw DownloadError(problem + "; no time is left for another attempt within " + TimeoutShown(bounds) +
                                ". The partial file " + part.string() + " is kept: run the command again to "
                                "resume.");
          }
          if (attempt >= max_attempts) {
            throw DownloadError(problem + " (attempt " + std::to_string(attempt) + " of " +
                                std::to_string(max_attempts) + "). The partial file " + part.string() +
                                " is kept: run the command again to resume.");
          }
          std::cerr << "  " << f.path << ": " << problem << "; retrying in " << backoff.count() / 1000.0 << " s\n";
          std::this_thread::sleep_for(backoff);
          continue;
        }
      }
      const std::string problem = VerifyFile(part, f, where());
      if (problem.empty()) {
        SyncPath(part);
        std::cerr << "  " << f.path << ": " << HumanBytes(FileSizeOr(part, 0)) << " downloaded, "
                  << HowVerified(expect) << "\n";
        return;
      }
      RemoveQuietly(part);
      if (resumed_from > 0 && !restarted) {
        // The kept part may come from another version of the file: one fresh try.
        std::cerr << "  " << f.path << ": did not verify after resuming a partial file; downloading it again "
                                       "from the start\n";
        restarted = true;
        continue;
      }
      const std::string why =
          expect.source == Expectation::Source::kHub || expect.source == Expectation::Source::kHubUnverified
              ? "the server holds a different file than the hub's sha256 for revision " + expect.revision +
                    " describes: check --base-url, or pass --manifest with the checksums you trust."
              : "the server holds a different file than the manifest describes: check --base-url, or pass "
                "--manifest with the checksums you trust.";
      throw DownloadError(problem + "\nThe bad file was deleted. Run the command again; if the mismatch repeats, " +
                          why);
    }
  }


  // The limits of one file's download (Fetch).
  struct Bounds {
    int64_t limit = -1;  // bytes
    std::string why;     // where that limit comes from
    long timeout_s = 0;
    std::chrono::steady_clock::time_point deadline;
  };

  std::string TimeoutShown(const Bounds& b) const {
    return std::to_string(b.timeout_s) + " s (" +
           (o_.file_timeout_s > 0 ? std::string("--file-timeout")
                                  : "--file-timeout, by default " + std::to_string(kDeadlineAllowanceS) +
                                        " s plus its size at " + std::to_string(kFloorBytesPerSecond / 1024) +
                                        " KiB/s") +
           ")";
  }

  AttemptResult RunAttempt(const ModelFile& f, const std::string& url, const fs::path& part, int64_t offset,
                           const Bounds& bounds, std::string* problem) {
    Attempt a;
    a.curl = curl_;
    a.part = part;
    a.label = f.path;
    a.offset = offset;
    a.file_size = f.size;
    a.limit = bounds.limit;
    a.limit_why = bounds.why;
    a.tty = tty_;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(bounds.deadline -
                                                                            std::chrono::steady_clock::now());
    char errbuf[CURL_ERROR_SIZE] = {0};
    const std::string range = std::to_string(offset) + "-";

    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl_, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl_, CURLOPT_REDIR_PROTOCOLS_STR, RedirectProtocolsFor(url));
    if (!o_.ca_bundle.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, o_.ca_bundle.c_str());
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, "supertonic-tts-download/1 (libcurl)");
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, o_.connect_timeout_s);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, o_.stall_timeout_s);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(left.count(), 1)));
    // libcurl refuses a response announcing more than the file may have; OnBody holds the file's answer (200 or
    // 206) to the exact limit, announced or not. The floor of 1 MiB leaves an error page (a CDN's 403) about a
    // small file to be reported as what it is.
    if (bounds.limit >= 0) {
      curl_easy_setopt(curl_, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(std::max<int64_t>(bounds.limit, int64_t{1} << 20)));
    }
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, &a);
    curl_easy_setopt(curl_, CURLOPT_NOPROGRESS, 0L);
    if (offset > 0) curl_easy_setopt(curl_, CURLOPT_RANGE, range.c_str());

    const CURLcode rc = curl_easy_perform(curl_);
    if (a.out != nullptr) {
      std::fflush(a.out);
      std::fclose(a.out);
    }
    if (a.progress_shown && tty_) std::cerr << "\n";
    if ((a.status == 200 || a.status == 206) && !a.body_started && rc == CURLE_OK) {
      if (a.status == 200) std::ofstream(part, std::ios::binary | std::ios::trunc);  // an empty file
    }

    char* effective = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_EFFECTIVE_URL, &effective);
    long redirects = 0;
    curl_easy_getinfo(curl_, CURLINFO_REDIRECT_COUNT, &redirects);
    const std::string last_url = effective != nullptr ? effective : url;
    const std::string detail = errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc);
    // Every URL in a message goes through RedactUrl: no credentials, no (signed) query strings.
    const std::string shown_url = RedactUrl(url);
    const std::string shown_last = RedactUrl(last_url);
    const std::string via = redirects > 0 && last_url != url ? " (redirected to " + shown_last + ")" : "";
    const int64_t have = FileSizeOr(part, 0);
    const bool https_only = IsHttps(url);

    if (rc == CURLE_OK) {
      if (a.status == 200 || a.status == 206) {
        if (a.content_length >= 0 && a.received < a.content_length) {
          *problem = "truncated download of " + f.path + " from " + shown_url + ": the connection ended after " +
                     std::to_string(have) + " bytes";
          return AttemptResult::kRetry;
        }
        return AttemptResult::kComplete;
      }
      if (a.status == 416) {  // the range starts at or past the end: the part may be complete
        if (a.range_total >= 0 && a.range_total == offset) return AttemptResult::kComplete;
        RemoveQuietly(part);
        *problem = "the server refused to resume " + f.path + " at byte " + std::to_string(offset) +
                   " (HTTP 416); starting over";
        return AttemptResult::kRetry;
      }
      if (a.status == 404 || a.status == 410) {
        throw DownloadError("HTTP " + std::to_string(a.status) + (a.status == 404 ? " Not Found" : " Gone") +
                            " for " + shown_url + via + " (" + f.path +
                            "). Check --base-url: it must be the folder that holds onnx/ and voice_styles/ (the "
                            "defaults are " + DefaultsShown() + ").");
      }
      if (a.status == 401 || a.status == 403) {
        throw DownloadError("HTTP " + std::to_string(a.status) + " (access denied) for " + shown_url + via +
                            ". Check --base-url; a private mirror may need credentials in its URL.");
      }
      if (a.status == 408 || a.status == 429 || a.status >= 500) {
        *problem = "HTTP " + std::to_string(a.status) + " from " + shown_last;
        return AttemptResult::kRetry;
      }
      std::string body = a.error_body;
      std::replace(body.begin(), body.end(), '\n', ' ');
      throw DownloadError("unexpected HTTP " + std::to_string(a.status) + " for " + shown_url + via +
                          (body.empty() ? "" : ": " + Trim(body)));
    }

    const std::string host = HostPortOf(last_url);
    curl_off_t connect_us = 0;
    curl_easy_getinfo(curl_, CURLINFO_CONNECT_TIME_T, &connect_us);
    switch (rc) {
      case CURLE_COULDNT_RESOLVE_HOST:
        throw DownloadError("cannot resolve host " + HostPortOf(last_url, false) + " (" + detail +
                            "): no network or no DNS? " + kMountHint);
      case CURLE_COULDNT_RESOLVE_PROXY:
        throw DownloadError("cannot resolve the proxy (" + detail + "); check the https_proxy/http_proxy "
                            "variables. " + kMountHint);
      case CURLE_COULDNT_CONNECT:
        throw DownloadError("cannot connect to " + host + " (" + detail + "): no network, or a firewall? " +
                            kMountHint);
      case CURLE_OPERATION_TIMEDOUT:
        // libcurl's clock and ours differ by a little: within 100 ms of the deadline, it was the deadline.
        if (std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= bounds.deadline) {
          throw DownloadError("download of " + f.path + " from " + host + " did not complete within " +
                              TimeoutShown(bounds) + ", after " + std::to_string(have) +
                              " bytes (a server trickling the file?). Nothing was installed; "
                              "the partial file " + part.string() + " is kept: run the command again to resume, "
                              "with a larger --file-timeout on a slow link.");
        }
        if (!a.saw_response && connect_us == 0) {
          throw DownloadError("cannot connect to " + host + " within " + std::to_string(o_.connect_timeout_s) +
                              " s (" + detail + "): no network, or a firewall? " + kMountHint);
        }
        *problem = "download of " + f.path + " from " + host + " stalled (" + detail + ") after " +
                   std::to_string(have) + " bytes";
        return AttemptResult::kRetry;
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
        throw DownloadError("TLS verification failed for " + host + " (" + detail +
                            "): is the ca-certificates package installed, or is a proxy intercepting TLS? A mirror "
                            "with a private CA: pass its certificate with --ca-bundle.");
      case CURLE_TOO_MANY_REDIRECTS:
        throw DownloadError("too many redirects for " + shown_url + " (" + detail + ")");
      case CURLE_UNSUPPORTED_PROTOCOL:
        if (redirects > 0) {
          if (https_only && EqualsIgnoreCase(ParsedUrl(last_url).Get(CURLUPART_SCHEME), "http")) {
            throw DownloadError("refused a redirect from https to plain http (" + shown_url + " redirected to " +
                                shown_last + " for " + f.path + "): a download that starts over https is never "
                                "continued over plain http, where the file could be read or altered in transit. "
                                "Use a mirror that serves https throughout.");
          }
          throw DownloadError("refused a redirect from " + shown_url + " to " + shown_last + " (" + detail +
                              "): only " + (https_only ? "https" : "http and https") + " redirects are followed");
        }
        [[fallthrough]];
      case CURLE_URL_MALFORMAT:
        throw DownloadError("bad URL " + shown_url + " (" + detail + "); check --base-url");
      case CURLE_FILESIZE_EXCEEDED:
        if (a.local_error.empty()) {
          a.local_error = f.path + ": the server announced more than " + std::to_string(bounds.limit) + " bytes (" +
                          bounds.why + ")";
        }
        a.oversize = true;
        [[fallthrough]];
      case CURLE_WRITE_ERROR:
        if (a.oversize) {
          RemoveQuietly(part);
          throw DownloadError(a.local_error + " at " + shown_url + via + ". Refusing it: the download was stopped, "
                              "its partial file " + part.string() + " deleted and nothing installed. Check "
                              "--base-url, or pass --manifest with the size and sha256 you trust.");
        }
        if (a.local_error.rfind("the server answered a range", 0) == 0) {
          RemoveQuietly(part);
          *problem = a.local_error + " while resuming " + f.path + "; starting over";
          return AttemptResult::kRetry;
        }
        throw DownloadError(a.local_error.empty() ? "cannot write " + part.string() + " (" + detail + ")"
                                                  : a.local_error);
      default:
        break;
    }
    // The connection broke or ended early (CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, ...): resumable.
    std::ostringstream os;
    os << "truncated download of " << f.path << " from " << host << ": the connection ended after " << have;
    if (a.range_total >= 0) {
      os << " of " << a.range_total;
    } else if (a.content_length >= 0) {
      os << " of " << (a.offset + a.content_length);
    }
    os << " bytes (" << detail << ")";
    *problem = os.str();
    return AttemptResult::kRetry;
  }

  const DownloadOptions& o_;
  const std::vector<std::string> base_urls_;  // expanded
  std::vector<int> downloads_per_base_;
  size_t current_base_ = 0;  // where the previous file was served
  std::vector<std::string> unverified_;
  CURL* curl_ = nullptr;
  bool tty_ = false;
};

}  // namespace

std::string RedactUrl(const std::string& url) {
  ParsedUrl u(url);
  if (!u.ok()) {
    // Not a URL libcurl can parse (so nothing was fetched from it); shown only when nothing in it can be a
    // credential or a query string.
    if (url.find_first_of("@?#") != std::string::npos) return "(a malformed URL, not shown: it may hold credentials)";
    return url;
  }
  const bool had_query = u.Has(CURLUPART_QUERY);
  if (u.Has(CURLUPART_PASSWORD)) {
    u.Set(CURLUPART_PASSWORD, "***");  // user:***@host
  } else if (u.Has(CURLUPART_USER)) {
    u.Set(CURLUPART_USER, "***");  // a bare user name is often a token: ***@host
  }
  u.Set(CURLUPART_OPTIONS, nullptr);
  u.Set(CURLUPART_QUERY, nullptr);
  u.Set(CURLUPART_FRAGMENT, nullptr);
  std::string shown = u.Get(CURLUPART_URL);
  if (shown.empty()) return "(a URL that cannot be shown)";
  if (had_query) shown += "?\u2026";  // ?… : there was a query string (signed CDN URLs carry their signature there)
  return shown;
}

const std::vector<ModelFile>& PublishedManifest() {
  // Checksums and sizes of the files of Supertone/supertonic-2: the graphs' as published (see
  // PROVENANCE.md in the shared model folder), the JSON files' computed from the published files.
  static const std::vector<ModelFile> files = [] {
    std::vector<ModelFile> v = {
        {"onnx/tts.json", "ee531d9af9b80438a2ed703e22155ee6c83b12595ab22fd3bb6de94c7502fe96", 8699},
        {"onnx/unicode_indexer.json", "b7662a73a0703f43b97c0f2e089f8e8325e26f5d841aca393b5a54c509c92df1", 262196},
        {"voice_styles/F1.json", "6106950ebeb8a5da29ea22075f605db659cd07dbc288a68292543d9129aa250f", 420050},
        {"voice_styles/F2.json", "8b97feb16d79ac0447136796708feac5f83dbabe92a5be1168212653c38729ae", 420293},
        {"voice_styles/F3.json", "7eda5bccb4e6eb7f228fa182462d5fcf982d77628234603599027f0734d70c29", 419887},
        {"voice_styles/F4.json", "e056fc2bee393edc8bff761eb28f33fb461e8dad828c3b05348a010ac1b7bb79", 419642},
        {"voice_styles/F5.json", "ce7645ad7e3c13cca04e0d62bf890ef9ac401988005ba8f5e9c9b59257bc6931", 419709},
        {"voice_styles/M1.json", "a04c823cbda6dd1c7de131ec68fea83bbb70d7f29d61623304eb871e3b83b5a1", 420510},
        {"voice_styles/M2.json", "7ddd07bf873a3fd67d09ef4e8293b486beb658158b47e371166198e4c6926072", 420285},
        {"voice_styles/M3.json", "e8e77a56459e4dc8cdfeb88e6f778dc9a0adf22e1184414f4b0e82a5d1edbe72", 420005},
        {"voice_styles/M4.json", "95322725e4d25d9ed4e7dcccbf0f3726b0e9a2471d876b7942373218dbd30174", 419957},
        {"voice_styles/M5.json", "be52f82327da63ff18481ce2dd8060c7df432e0168d748745ef3e21b92d706a5", 419619},
    };
    v.push_back({"onnx/duration_predictor.onnx",
                 "6d556b3691165c364be91dc0bd894656b5949f5acd2750d8ec2f954010845011", 1521526});
    v.push_back({"onnx/text_encoder.onnx", "dd5f535ed629f7df86071043e15f541ce1b2ab7f1bdbce4c7892b307bca79fa3",
                 27431318});
    v.push_back({"onnx/vector_estimator.onnx", "105e9d66fd8756876b210a6b4aa03fc393b1eaca3a8dadcc8d9a3bc785c86a35",
                 132471364});
    v.push_back({"onnx/vocoder.onnx", "19bd51f47a186069c752403518a40f7ea4c647455056d2511f7249691ecddf7c",
                 101405066});
    return v;
  }();
  return files;
}

std::vector<ModelFile> LoadManifest(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read manifest " + file.string());
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("manifest " + file.string() + " is not valid JSON: " + e.what());
  }
  const std::string where = "manifest " + file.string();
  if (!doc.is_object() || doc.empty()) {
    throw std::runtime_error(where + ": expected a non-empty object {\"path\": {\"sha256\": ..., \"size\": ...}}");
  }
  std::vector<ModelFile> files;
  for (const auto& [path, spec] : doc.items()) {
    CheckRelativePath(path, where);
    if (!spec.is_object()) throw std::runtime_error(where + ": the entry for " + path + " must be an object");
    ModelFile f{path, "", -1};
    for (const auto& [key, value] : spec.items()) {
      if (key == "sha256" && value.is_string()) {
        f.sha256 = value.get<std::string>();
        std::transform(f.sha256.begin(), f.sha256.end(), f.sha256.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (!IsSha256Hex(f.sha256)) throw std::runtime_error(where + ": sha256 of " + path + " is not 64 hex digits");
      } else if (key == "size" && value.is_number_integer() && value.get<int64_t>() >= 0) {
        f.size = value.get<int64_t>();
      } else {
        throw std::runtime_error(where + ": unexpected '" + key + "' for " + path +
                                 " (allowed: \"sha256\": hex string, \"size\": bytes >= 0)");
      }
    }
    files.push_back(std::move(f));
  }
  return files;
}

std::string ManifestToJson(const std::vector<ModelFile>& files) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  for (const auto& f : files) {
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    if (!f.sha256.empty()) entry["sha256"] = f.sha256;
    if (f.size >= 0) entry["size"] = f.size;
    doc[f.path] = entry;
  }
  return doc.dump(2);
}

const std::vector<ModelRelease>& KnownReleases() {
  static const std::vector<ModelRelease> releases = [] {
    // Supertonic 3 keeps Supertonic 2's file names (the official package's loader reads the same paths); no
    // checksum of its files is published here, so each is verified against the hub's.
    std::vector<ModelFile> v3_files;
    for (const auto& f : PublishedManifest()) v3_files.push_back({f.path, "", -1});
    return std::vector<ModelRelease>{
        {"supertonic-2", "75e6727618a02f323c720cba9478152d4bc16ca4", PublishedManifest()},
        {"supertonic-3", "724fb5abbf5502583fb520898d45929e62f02c0b", std::move(v3_files)},
    };
  }();
  return releases;
}

const ModelRelease& FindRelease(const std::string& name) {
  std::string known;
  for (const auto& r : KnownReleases()) {
    if (r.name == name) return r;
    known += (known.empty() ? "" : ", ") + r.name;
  }
  throw std::invalid_argument("unknown model '" + name + "' (known: " + known + ")");
}

std::vector<std::string> DefaultBaseUrls() {
  if (const char* env = std::getenv(kBaseUrlsEnv); env != nullptr) {
    std::istringstream words(env);
    std::vector<std::string> urls;
    for (std::string url; words >> url;) urls.push_back(url);
    if (!urls.empty()) return urls;
  }
  std::string endpoint = "https://huggingface.co";
  if (const char* env = std::getenv("HF_ENDPOINT"); env != nullptr && *env != '\0') endpoint = env;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return {endpoint + "/" + kSupertoneOrg + "/{model}/resolve/{revision}",
          endpoint + "/" + kArchiveOrg + "/{model}/resolve/{revision}"};
}

namespace {

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// Stand-ins that survive libcurl's URL parser, for redacting a template.
constexpr const char* kModelStandIn = "x-supertonic-model-x";
constexpr const char* kRevisionStandIn = "x-supertonic-revision-x";

}  // namespace

std::string ExpandBaseUrl(const std::string& base_url_template, const ModelRelease& release) {
  const std::string url =
      ReplaceAll(ReplaceAll(base_url_template, "{model}", release.name), "{revision}", release.revision);
  if (url.find_first_of("{}") != std::string::npos) {
    throw std::invalid_argument("base URL " + RedactBaseUrl(base_url_template) +
                                " has a placeholder other than {model} and {revision}");
  }
  return url;
}

std::string RedactBaseUrl(const std::string& base_url_template) {
  const std::string stood_in =
      ReplaceAll(ReplaceAll(base_url_template, "{model}", kModelStandIn), "{revision}", kRevisionStandIn);
  return ReplaceAll(ReplaceAll(RedactUrl(stood_in), kModelStandIn, "{model}"), kRevisionStandIn, "{revision}");
}

std::string Sha256File(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256 init failed");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got > 0 && EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(got)) != 1) {
      throw std::runtime_error("sha256 update failed");
    }
  }
  if (in.bad()) throw std::runtime_error("cannot read " + file.string());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) throw std::runtime_error("sha256 final failed");
  std::ostringstream os;
  for (unsigned int i = 0; i < len; ++i) os << std::hex << std::setw(2) << std::setfill('0') << int{digest[i]};
  return os.str();
}

void DownloadModel(const DownloadOptions& options) {
  const ModelRelease& release = options.release;
  if (release.files.empty()) throw DownloadError("nothing to download: the manifest lists no files");
  if (options.base_urls.empty()) throw DownloadError("no base URL to download from");
  std::vector<std::string> base_urls;
  for (const auto& b : options.base_urls) {
    try {
      base_urls.push_back(ExpandBaseUrl(b, release));
    } catch (const std::invalid_argument& e) {
      throw DownloadError(e.what());
    }
  }
  std::error_code ec;
  const bool created = !fs::exists(options.dest, ec);
  fs::create_directories(options.dest, ec);
  if (ec) throw DownloadError("cannot create " + options.dest.string() + ": " + ec.message());
  CurlGlobal curl_global;
  int downloaded = 0;
  int64_t bytes = 0;
  std::vector<int> per_base;
  std::vector<std::string> unverified;
  try {
    DirectoryLock lock(options.dest);
    std::string sources;
    for (const auto& b : base_urls) sources += (sources.empty() ? "" : ", then ") + RedactUrl(b);
    std::cerr << release.name << " at revision " << release.revision << ": " << release.files.size()
              << " files from " << sources << " into " << options.dest.string() << "\n";
    const auto unpinned = std::count_if(release.files.begin(), release.files.end(),
                                        [](const ModelFile& f) { return f.sha256.empty(); });
    if (unpinned > 0) {
      std::cerr << "  no checksum compiled in for " << unpinned << " of them: each is verified against the sha256 "
                << "the hub reports for it over https (X-Linked-Etag); a JSON file without one is checked to parse, "
                   "any other is refused\n";
    }
    if (options.allow_unverified) {
      std::cerr << "  --allow-unverified: a file whose only sha256 comes over plain http is installed NOT verified\n";
    }
    Downloader downloader(options, base_urls);
    for (const auto& f : release.files) {
      if (downloader.Ensure(f)) ++downloaded;
      bytes += FileSizeOr(options.dest / f.path, 0);
    }
    per_base = downloader.DownloadsPerBase();
    unverified = downloader.Unverified();
  } catch (const DownloadError&) {
    if (created) RemoveEmptyTree(options.dest);  // no empty model directory left behind; .part files stay
    throw;
  }
  std::string served;
  for (size_t i = 0; i < per_base.size(); ++i) {
    if (per_base[i] == 0) continue;
    served += (served.empty() ? "" : ", ") + RedactUrl(base_urls[i]) + " (" + std::to_string(per_base[i]) + ")";
  }
  std::cerr << "Model ready in " << options.dest.string() << ": " << release.files.size() << " files, "
            << HumanBytes(bytes) << " (" << downloaded << " downloaded, " << release.files.size() - downloaded
            << " already present)" << (served.empty() ? "" : "; downloaded from " + served) << ".\n";
  if (!unverified.empty()) {
    std::cerr << "WARNING: " << unverified.size() << " of these files are NOT verified (--allow-unverified): their "
              << "only sha256 came over plain http from the server that sent them, so a tampered file would pass:";
    for (const auto& path : unverified) std::cerr << " " << path;
    std::cerr << ". Download over https, or pass --manifest with checksums you trust, to verify them.\n";
  }
}

void DownloadFlags::Add(CLI::App* cmd) {
  std::vector<std::string> names;
  for (const auto& r : KnownReleases()) names.push_back(r.name);
  cmd->add_option("--model", model, "which release: its files and the pinned Hugging Face revision")
      ->check(CLI::IsMember(names))
      ->capture_default_str();
  cmd->add_option("--dest", dest, "model directory to fill (onnx/, voice_styles/); default models/<model>");
  std::string defaults;
  for (const auto& b : DefaultBaseUrls()) defaults += (defaults.empty() ? "" : " ") + RedactBaseUrl(b);
  cmd->add_option("--base-url", base_urls,
                  "where the files are: BASE/onnx/..., BASE/voice_styles/...; {model} and {revision} stand for the "
                  "release's name and pinned revision. Repeat it for fallbacks, tried in order (a 404, 401/403, a "
                  "login page or an unreachable host moves on to the next). Default from $" +
                      std::string(kBaseUrlsEnv) +
                      " (base URLs separated by spaces), else $HF_ENDPOINT's Supertone then supertone-archive "
                      "organization. Credentials in it (https://user:password@host/...) are never printed; "
                      "redirects from an https base URL are followed over https only")
      ->allow_extra_args(false)
      ->default_str(defaults);
  cmd->add_option("--ca-bundle", ca_bundle,
                  "PEM file of the CA certificates to trust for https instead of the system's (a mirror with a "
                  "private CA)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--manifest", manifest,
                  "JSON file listing the files to fetch and their sha256/size, replacing the model's compiled-in "
                  "table: {\"onnx/vocoder.onnx\": {\"sha256\": \"...\", \"size\": 123}, \"onnx/tts.json\": {}}");
  cmd->add_flag("--force", force, "download every file again, even when present and verified");
  cmd->add_flag("--allow-unverified", allow_unverified,
                "install a file whose only sha256 is the one the server sent over plain http (it verifies nothing: "
                "whoever alters the file in transit can alter it too); without it such a file is refused. The "
                "output says NOT verified for each");
  cmd->add_option("--file-timeout", file_timeout_s,
                  "seconds one file may take at a base URL, all its requests (the HEAD that asks for it, then the "
                  "download) and their retries together, before the download fails or the next base URL is tried "
                  "(the partial file is kept for the next run); 0: 600 s plus the file's size (or its size cap) at "
                  "64 KiB/s")
      ->check(CLI::Range(0L, 7L * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--retries", retries, "further attempts per file after a broken connection (each resumes)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_option("--connect-timeout", connect_timeout_s, "seconds to wait for a connection")
      ->check(CLI::Range(1, 600))
      ->capture_default_str();
  cmd->add_flag("--print-manifest", print_manifest, "print the model's manifest in use (JSON) and exit");
}

int RunDownload(const DownloadFlags& flags) {
  try {
    DownloadOptions options;
    options.release = FindRelease(flags.model);
    options.dest = flags.dest.empty() ? fs::path("models") / flags.model : fs::path(flags.dest);
    if (!flags.base_urls.empty()) options.base_urls = flags.base_urls;
    options.force = flags.force;
    options.retries = flags.retries;
    options.connect_timeout_s = flags.connect_timeout_s;
    options.file_timeout_s = flags.file_timeout_s;
    options.allow_unverified = flags.allow_unverified;
    options.ca_bundle = flags.ca_bundle;
    if (!flags.manifest.empty()) options.release.files = LoadManifest(flags.manifest);
    if (flags.print_manifest) {
      std::cout << ManifestToJson(options.release.files) << "\n";
      return 0;
    }
    DownloadModel(options);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace supertonic::app
