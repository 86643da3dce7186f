#include "transport/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <variant>

#include "audio/audio_encoder.h"
#include "service/connection.h"
#include "service/tts_service.h"

namespace supertonic::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

bool SecretsEqual(const std::string& a, const std::string& b) {
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace {

// A token from "Authorization: Bearer <token>" or a "token" query parameter
// (browsers cannot set headers on a WebSocket).
std::string PresentedToken(const http::request<http::string_body>& req) {
  auto auth = req[http::field::authorization];
  const std::string_view bearer = "Bearer ";
  if (auth.size() > bearer.size() && auth.substr(0, bearer.size()) == bearer) {
    return std::string(auth.substr(bearer.size()));
  }
  std::string_view target = req.target();
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, 6) == "token=") return std::string(pair.substr(6));
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return {};
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession>, public service::ConnectionOutput {
 public:
  WebSocketSession(tcp::socket&& socket, service::TtsService& service)
      : ws_(std::move(socket)), service_(service), idle_timer_(ws_.get_executor()) {}

  void Start(http::request<http::string_body> req) {
    const auto& cfg = service_.config();
    websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    if (cfg.ping_interval_s > 0) {
      // Beast pings after half the idle timeout of silence, and drops a peer that does not answer.
      timeouts.idle_timeout = std::chrono::seconds(cfg.ping_interval_s * 2);
      timeouts.keep_alive_pings = true;
    } else {
      timeouts.idle_timeout = websocket::stream_base::none();
    }
    ws_.set_option(timeouts);
    // Frames up to a hard cap are read so that an oversized one gets a
    // recoverable message_too_large error; beyond the cap the stream fails.
    ws_.read_message_max(std::max<std::size_t>(4 * static_cast<std::size_t>(cfg.max_message_bytes), 1 << 20));
    ws_.auto_fragment(false);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "supertonic-tts"); }));
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) { self->OnAccept(ec); });
  }

  // service::ConnectionOutput
  void SendText(std::string json, Kind kind) override { Enqueue(Outgoing{std::move(json), kind}); }
  void SendBinary(std::vector<int16_t> frame) override { Enqueue(Outgoing{std::move(frame), Kind::kAudioFrame}); }
  std::size_t DropQueuedAudio() override {
    // The front message may be in flight; everything behind it can go.
    std::size_t segment_ends = 0;
    auto first = queue_.begin() + (writing_ ? 1 : 0);
    for (auto it = first; it != queue_.end();) {
      if (it->kind != Kind::kControl) {
        segment_ends += it->kind == Kind::kSegmentDone ? 1 : 0;
        queued_bytes_ -= it->size();
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    return segment_ends;
  }
  std::size_t queued_bytes() const override { return queued_bytes_; }
  void Close() override {
    close_after_write_ = true;
    if (!writing_) DoClose();
  }

 private:
  struct Outgoing {
    std::variant<std::string, std::vector<int16_t>> payload;
    Kind kind = Kind::kControl;  // anything but kControl is audio, dropped on barge-in
    std::size_t size() const {
      return payload.index() == 0 ? std::get<0>(payload).size() : std::get<1>(payload).size() * sizeof(int16_t);
    }
  };

  void OnAccept(beast::error_code ec) {
    if (ec) return;
    connection_ = std::make_shared<service::Connection>(service_, ws_.get_executor(), shared_from_this());
    service_.AddConnection(connection_);
    if (service_.draining()) connection_->Drain();
    ArmIdleTimer();
    DoRead();
  }

  void ArmIdleTimer() {
    const int idle_s = service_.config().idle_timeout_s;
    if (idle_s <= 0) return;
    idle_timer_.expires_after(std::chrono::seconds(std::min(idle_s, 5)));
    idle_timer_.async_wait([weak = weak_from_this(), idle_s](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->connection_) return;
      const auto idle = std::chrono::steady_clock::now() - self->connection_->last_activity();
      if (!self->connection_->has_session() && idle >= std::chrono::seconds(idle_s)) {
        spdlog::debug("closing a connection idle for {} s without a session", idle_s);
        self->Close();
        return;
      }
      self->ArmIdleTimer();
    });
  }

  void DoRead() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    // A failed write (the peer reset) finishes the connection while frames may
    // still sit in the read buffer: stop reading then, connection_ is gone.
    if (ec || !connection_) {
      Finish();
      return;
    }
    if (buffer_.size() > static_cast<std::size_t>(service_.config().max_message_bytes)) {
      connection_->OnFrameTooLarge();
    } else if (ws_.got_text()) {
      connection_->OnTextFrame(std::string_view(static_cast<const char*>(buffer_.cdata().data()), buffer_.size()));
    } else {
      connection_->OnBinaryFrame();
    }
    buffer_.consume(buffer_.size());
    MaybeRead();
  }

  // A client that sends without reading our replies is not read from either
  // (TCP backpressure) once its unsent output passes twice the audio bound:
  // memory stays bounded whatever it sends.
  std::size_t ReadPauseBytes() const {
    return 2 * static_cast<std::size_t>(service_.config().max_output_buffer_ms) * 48 * 2;
  }
  void MaybeRead() {
    if (queued_bytes_ > ReadPauseBytes()) {
      read_paused_ = true;
      return;
    }
    DoRead();
  }

  // The peer is gone or the stream failed: release the session.
  void Finish() {
    idle_timer_.cancel();
    if (connection_) {
      connection_->OnClosed();
      connection_.reset();
    }
  }

  void Enqueue(Outgoing out) {
    if (closing_) return;
    queued_bytes_ += out.size();
    queue_.push_back(std::move(out));
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    if (queue_.empty()) {
      if (close_after_write_) DoClose();
      return;
    }
    writing_ = true;
    auto& front = queue_.front();
    auto done = [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWrite(ec); };
    if (front.payload.index() == 0) {
      ws_.text(true);
      ws_.async_write(asio::buffer(std::get<0>(front.payload)), std::move(done));
    } else {
      ws_.binary(true);
      const auto& pcm = std::get<1>(front.payload);
      ws_.async_write(asio::buffer(pcm.data(), pcm.size() * sizeof(int16_t)), std::move(done));
    }
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    if (!queue_.empty()) {
      queued_bytes_ -= queue_.front().size();
      queue_.pop_front();
    }
    if (ec) {
      queue_.clear();
      queued_bytes_ = 0;
      Finish();
      return;
    }
    DoWrite();
    if (connection_) connection_->OnOutputDrained();
    if (read_paused_ && connection_ && queued_bytes_ < ReadPauseBytes() / 2) {
      read_paused_ = false;
      DoRead();
    }
  }

  void DoClose() {
    if (closing_) return;
    closing_ = true;
    ws_.async_close(websocket::close_reason(websocket::close_code::normal),
                    [self = shared_from_this()](beast::error_code) { self->Finish(); });
  }

  websocket::stream<beast::tcp_stream> ws_;
  service::TtsService& service_;
  asio::steady_timer idle_timer_;
  beast::flat_buffer buffer_;
  std::shared_ptr<service::Connection> connection_;
  std::deque<Outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_after_write_ = false;
  bool closing_ = false;
  bool read_paused_ = false;
};

// POST /v1/audio/speech (OpenAI-compatible): one request is one protocol
// session driven through service::Connection, so it shares the scheduler,
// limits and backpressure of WebSocket sessions. The audio streams back as a
// chunked HTTP body as soon as the first chunk is vocoded.
class SpeechSession : public std::enable_shared_from_this<SpeechSession>, public service::ConnectionOutput {
 public:
  SpeechSession(beast::tcp_stream&& stream, service::TtsService& service)
      : stream_(std::move(stream)), service_(service) {}

  void Start(const http::request<http::string_body>& req) {
    version_ = req.version();
    nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
    if (!body.is_object()) return Fail(http::status::bad_request, "invalid_request_error", "body must be a JSON object");
    auto text_field = [&](const char* key) -> std::optional<std::string> {
      if (!body.contains(key) || body[key].is_null()) return std::nullopt;
      if (!body[key].is_string()) return std::string("\x01");  // wrong type marker
      return body[key].get<std::string>();
    };
    const auto input = text_field("input");
    if (!input || *input == "\x01" || input->empty()) {
      return Fail(http::status::bad_request, "invalid_request_error", "'input' must be a non-empty string");
    }
    // mp3 when absent, as OpenAI does.
    format_ = text_field("response_format").value_or("mp3");
    try {
      audio::CheckAudioFormat(format_);
    } catch (const std::invalid_argument& e) {
      return Fail(http::status::bad_request, "invalid_request_error", e.what());
    }
    service::StartSession start;
    start.session_id = "http-" + std::to_string(service_.NextSessionUid());
    if (auto v = text_field("voice")) start.voice = MapVoice(*v);
    if (auto l = text_field("language")) start.lang_code = *l;
    if (auto l = text_field("lang_code")) start.lang_code = *l;
    if (body.contains("speed") && body["speed"].is_number()) start.speed = body["speed"].get<double>();
    if (body.contains("sample_rate") && body["sample_rate"].is_number_integer()) {
      start.sample_rate = body["sample_rate"].get<int>();
    }
    if (!start.sample_rate) start.sample_rate = 24000;  // OpenAI's audio is 24 kHz

    connection_ = std::make_shared<service::Connection>(service_, stream_.get_executor(), shared_from_this());
    service_.AddConnection(connection_);
    connection_->OnTextFrame(service::SerializeClientMessage(start));
    if (failed_) return;
    connection_->OnTextFrame(service::SerializeClientMessage(service::SendText{*input}));
    connection_->OnTextFrame(service::SerializeClientMessage(service::EndSession{}));
  }

  // service::ConnectionOutput
  void SendText(std::string json, Kind) override {
    auto m = nlohmann::json::parse(json, nullptr, false);
    const std::string type = m.value("type", "");
    if (type == "session_started") {
      StartBody(m.value("sample_rate", 24000));  // the rate the session validated
    } else if (type == "error" && !header_sent_) {
      const std::string code = m.value("code", "internal");
      const auto status = code == "capacity"        ? http::status::too_many_requests
                          : code == "shutting_down" ? http::status::service_unavailable
                          : code == "internal"      ? http::status::internal_server_error
                                                    : http::status::bad_request;
      Fail(status, code, m.value("message", ""));
    } else if (type == "error") {
      Abort();  // the status line is gone: cutting the body short is the only signal left
    } else if (type == "session_ended") {
      if (!Encode([&] { return encoder_->Finish(); })) return;
      Enqueue(std::string());  // the last chunk
    }
  }
  void SendBinary(std::vector<int16_t> frame) override {
    Encode([&] { return encoder_->Encode(frame); });
  }
  std::size_t DropQueuedAudio() override { return 0; }
  std::size_t queued_bytes() const override { return queued_bytes_; }
  void Close() override { Abort(); }

 private:
  // OpenAI's voice names map onto the Supertonic voices; our own names pass through.
  static std::string MapVoice(const std::string& v) {
    static const std::map<std::string, std::string> kOpenAi = {
        {"alloy", "F1"}, {"ash", "M1"},   {"ballad", "M2"}, {"coral", "F2"},  {"echo", "M3"},
        {"fable", "F3"}, {"nova", "F4"},  {"onyx", "M4"},   {"sage", "F5"},   {"shimmer", "M5"}};
    auto it = kOpenAi.find(v);
    return it == kOpenAi.end() ? v : it->second;
  }

  void StartBody(int sample_rate) {
    try {
      encoder_ = audio::MakeAudioEncoder(format_, sample_rate);
    } catch (const std::exception& e) {
      return Fail(http::status::internal_server_error, "internal", e.what());
    }
    header_sent_ = true;
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, version_);
    res->set(http::field::server, "supertonic-tts");
    res->set(http::field::content_type, std::string(encoder_->content_type()));
    res->chunked(true);
    res->keep_alive(false);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    writing_ = true;
    http::async_write_header(stream_, *sr, [self = shared_from_this(), res, sr](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->Abort();
      self->DoWrite();
    });
  }

  // Queues what the encoder returns (it buffers whole codec frames, so often
  // nothing). An encoder failure cuts the body short, as a failed synthesis does.
  template <typename F>
  bool Encode(F&& encode) {
    if (!encoder_ || failed_) return false;  // the request already failed
    std::string bytes;
    try {
      bytes = encode();
    } catch (const std::exception& e) {
      spdlog::error("encoding {} audio failed: {}", encoder_->content_type(), e.what());
      Abort();
      return false;
    }
    if (!bytes.empty()) Enqueue(std::move(bytes));
    return true;
  }

  void Enqueue(std::string bytes) {
    if (aborted_) return;
    queued_bytes_ += bytes.size();
    queue_.push_back(std::move(bytes));
    if (!writing_ && header_sent_) DoWrite();
  }

  void DoWrite() {
    if (queue_.empty() || aborted_) return;
    writing_ = true;
    auto chunk = std::make_shared<std::string>(std::move(queue_.front()));
    queue_.pop_front();
    queued_bytes_ -= chunk->size();
    auto done = [self = shared_from_this(), chunk](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->Abort();
      if (chunk->empty()) return self->Finish();
      if (self->connection_) self->connection_->OnOutputDrained();
      self->DoWrite();
    };
    if (chunk->empty()) {
      asio::async_write(stream_, http::make_chunk_last(), std::move(done));
    } else {
      asio::async_write(stream_, http::make_chunk(asio::buffer(*chunk)), std::move(done));
    }
  }

  void Fail(http::status status, const std::string& code, const std::string& message) {
    failed_ = true;
    auto res = std::make_shared<http::response<http::string_body>>(status, version_);
    res->set(http::field::server, "supertonic-tts");
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    res->body() = nlohmann::json{{"error", {{"message", message}, {"type", code}, {"code", code}}}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) { self->Finish(); });
  }

  void Abort() {
    if (aborted_) return;
    aborted_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    Finish();
  }

  void Finish() {
    if (connection_) {
      auto c = std::move(connection_);
      c->OnClosed();
    }
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  service::TtsService& service_;
  std::shared_ptr<service::Connection> connection_;
  unsigned version_ = 11;
  std::string format_;
  std::unique_ptr<audio::AudioEncoder> encoder_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool header_sent_ = false;
  bool failed_ = false;
  bool aborted_ = false;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, service::TtsService& service) : stream_(std::move(socket)), service_(service) {}

  void Run() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    auto req = parser_->release();
    const auto& cfg = service_.config();
    const std::string_view path = PathOf(req.target());
    if (websocket::is_upgrade(req)) {
      if (path != "/ws/tts") return Respond(req, http::status::not_found, "no WebSocket endpoint here; use /ws/tts\n");
      if (!cfg.auth_token.empty() && !SecretsEqual(PresentedToken(req), cfg.auth_token)) {
        service_.metrics().Error("unauthorized");
        return Respond(req, http::status::unauthorized, "missing or wrong token\n");
      }
      stream_.expires_never();
      std::make_shared<WebSocketSession>(stream_.release_socket(), service_)->Start(std::move(req));
      return;
    }
    const bool api = path.substr(0, 4) == "/v1/";
    if (api && !cfg.auth_token.empty() && !SecretsEqual(PresentedToken(req), cfg.auth_token)) {
      service_.metrics().Error("unauthorized");
      return Respond(req, http::status::unauthorized,
                     R"({"error":{"message":"missing or wrong token","type":"unauthorized","code":"unauthorized"}})",
                     "application/json");
    }
    if (path == "/v1/audio/speech" && req.method() == http::verb::post) {
      stream_.expires_never();
      std::make_shared<SpeechSession>(std::move(stream_), service_)->Start(req);
      return;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return Respond(req, http::status::method_not_allowed, "GET only (POST for /v1/audio/speech)\n");
    }
    if (path == "/v1/models") {
      nlohmann::json models = {{"object", "list"},
                               {"data", {{{"id", "supertonic-2"}, {"object", "model"}, {"owned_by", "supertone"}}}}};
      return Respond(req, http::status::ok, models.dump(), "application/json");
    }
    if (path == "/v1/voices") {
      const auto& synth = service_.synthesizer();
      nlohmann::json voices = {{"voices", synth.voices().names()}, {"languages", synth.model_config().languages}};
      return Respond(req, http::status::ok, voices.dump(), "application/json");
    }
    if (path == "/health/live") return Respond(req, http::status::ok, "ok\n");
    if (path == "/health/startup") {
      return service_.started() ? Respond(req, http::status::ok, "started\n")
                                : Respond(req, http::status::service_unavailable, "loading\n");
    }
    if (path == "/health/ready") {
      if (service_.ready()) return Respond(req, http::status::ok, "ready\n");
      const char* why = !service_.started() ? "loading\n" : service_.draining() ? "draining\n" : "at capacity\n";
      return Respond(req, http::status::service_unavailable, why);
    }
    if (path == "/metrics") {
      if (cfg.metrics_require_auth && !cfg.auth_token.empty() && !SecretsEqual(PresentedToken(req), cfg.auth_token)) {
        return Respond(req, http::status::unauthorized, "missing or wrong token\n");
      }
      return Respond(req, http::status::ok, service_.metrics().Serialize(), "text/plain; version=0.0.4");
    }
    Respond(req, http::status::not_found, "not found\n");
  }

  void Respond(const http::request<http::string_body>& req, http::status status, std::string body,
               const char* content_type = "text/plain") {
    auto res = std::make_shared<http::response<http::string_body>>(status, req.version());
    res->set(http::field::server, "supertonic-tts");
    res->set(http::field::content_type, content_type);
    res->keep_alive(req.keep_alive());
    res->body() = req.method() == http::verb::head ? std::string() : std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (!res->keep_alive()) {
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
      self->DoRead();
    });
  }

  beast::tcp_stream stream_;
  service::TtsService& service_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, service::TtsService& s) : io(io), service(s), acceptor(io) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (self->failed_accepts > 0) {
          spdlog::info("accepting again after {} failed attempts", self->failed_accepts);
          self->failed_accepts = 0;
        }
        std::make_shared<HttpSession>(std::move(socket), self->service)->Run();
        self->Accept();
        return;
      }
      // e.g. out of file descriptors: retrying at once would spin a core, and
      // logging every retry would flood the log (one line per 10 s).
      if (self->failed_accepts++ % 100 == 0) {
        spdlog::warn("accept failed: {} ({} times in a row); retrying every 100 ms", ec.message(),
                     self->failed_accepts);
      }
      self->retry.expires_after(std::chrono::milliseconds(100));
      self->retry.async_wait([self](beast::error_code e) {
        if (!e) self->Accept();
      });
    });
  }

  asio::io_context& io;
  service::TtsService& service;
  tcp::acceptor acceptor;
  asio::steady_timer retry{io};
  uint64_t failed_accepts = 0;
};

HttpServer::HttpServer(asio::io_context& io, service::TtsService& service)
    : impl_(std::make_shared<Impl>(io, service)) {}

HttpServer::~HttpServer() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

void HttpServer::Listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("TTS_HOST '" + host + "' is not an IP address");
  tcp::endpoint endpoint(address, port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  impl_->Accept();
}

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace supertonic::transport
