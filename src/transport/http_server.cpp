#include "transport/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <variant>

#include "service/api_routes.h"
#include "service/connection.h"
#include "service/openai_speech.h"
#include "service/tts_service.h"

namespace supertonic::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxRequestHeaderBytes = 16 * 1024;

// A connection must send its first request's line and headers this soon:
// one that sends nothing would hold a connection slot for nothing.
constexpr auto kFirstHeaderTimeout = std::chrono::seconds(5);
// A connection let in over capacity only to answer a probe gets less.
constexpr auto kProbeOnlyHeaderTimeout = std::chrono::seconds(2);
// A kept-alive connection's wait for its next request, and a body's upload.
constexpr auto kKeepAliveTimeout = std::chrono::seconds(30);
constexpr auto kBodyTimeout = std::chrono::seconds(30);
// Connections over capacity whose request line is read to see whether it is
// a probe: bounded apart from TTS_MAX_CONNECTIONS, in all and per address.
constexpr std::size_t kMaxProbeOnlyConnections = 64;
constexpr std::size_t kMaxProbeOnlyPerAddress = 8;

}  // namespace

// The token from "Authorization: Bearer <token>" (the scheme in any case, as
// RFC 7235 says) or a "token" query parameter (browsers cannot set headers on
// a WebSocket), percent-decoded.
std::string PresentedToken(std::string_view authorization, std::string_view target) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() > kScheme.size() && beast::iequals(authorization.substr(0, kScheme.size()), kScheme) &&
      (authorization[kScheme.size()] == ' ' || authorization[kScheme.size()] == '\t')) {
    std::string_view token = authorization.substr(kScheme.size());
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    return std::string(token);
  }
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  return service::QueryParameter(target.substr(q + 1), "token").value_or("");
}

namespace {

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }
std::string_view QueryOf(std::string_view target) {
  const auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// After an error response the client may still be sending (a body over the
// limit, a request it sent before our 503): closing with unread bytes would
// reset the connection, and the client could lose the response. So: stop
// sending, read and drop what comes for a moment (bounded in bytes and
// time), then close.
constexpr std::size_t kLingerMaxBytes = 1 << 20;

void LingerThenClose(std::shared_ptr<beast::tcp_stream> stream) {
  struct Linger : std::enable_shared_from_this<Linger> {
    explicit Linger(std::shared_ptr<beast::tcp_stream> s) : stream(std::move(s)) {}
    void Read() {
      stream->async_read_some(asio::buffer(buffer), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
        self->total += n;
        if (ec || self->total > kLingerMaxBytes) {
          beast::error_code ignored;
          self->stream->socket().close(ignored);
          return;
        }
        self->Read();
      });
    }
    std::shared_ptr<beast::tcp_stream> stream;
    std::array<char, 4096> buffer{};
    std::size_t total = 0;
  };
  beast::error_code ec;
  stream->socket().shutdown(tcp::socket::shutdown_send, ec);
  stream->expires_after(std::chrono::seconds(2));
  std::make_shared<Linger>(std::move(stream))->Read();
}

// Open TCP connections against TTS_MAX_CONNECTIONS, in all and per peer
// address (TTS_MAX_CONNECTIONS_PER_ADDRESS), and the few let in beyond them
// to answer probes. A Slot is held by whatever object owns the socket, so the
// count follows the socket's life through upgrades. All on the one network
// thread.
class ConnectionCount {
 public:
  ConnectionCount(service::ServiceMetrics& metrics, std::size_t max, std::size_t per_address)
      : metrics_(metrics), max_(max), per_address_(per_address) {}

  enum class Admission { kAdmitted, kServerFull, kAddressFull, kRefused };

  class Slot {
   public:
    Slot() = default;
    Slot(std::shared_ptr<ConnectionCount> count, asio::ip::address address, bool probe_only)
        : count_(std::move(count)), address_(address), probe_only_(probe_only) {
      if (count_) count_->Change(+1, address_, probe_only_);
    }
    Slot(Slot&& o) noexcept : count_(std::move(o.count_)), address_(o.address_), probe_only_(o.probe_only_) {}
    Slot& operator=(Slot&& o) noexcept {
      Release();
      count_ = std::move(o.count_);
      address_ = o.address_;
      probe_only_ = o.probe_only_;
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }

   private:
    void Release() {
      if (count_) count_->Change(-1, address_, probe_only_);
      count_.reset();
    }
    std::shared_ptr<ConnectionCount> count_;
    asio::ip::address address_;
    bool probe_only_ = false;
  };

  // Where a new connection from `address` stands: admitted; over a limit but
  // let in to send a probe (kServerFull, kAddressFull); or refused outright.
  Admission Admit(const asio::ip::address& address) const {
    const auto count = [](const std::map<asio::ip::address, std::size_t>& m, const asio::ip::address& a) {
      const auto it = m.find(a);
      return it == m.end() ? std::size_t{0} : it->second;
    };
    Admission over = Admission::kAdmitted;
    if (open_ >= max_) {
      over = Admission::kServerFull;
    } else if (count(by_address_, address) >= per_address_) {
      over = Admission::kAddressFull;
    }
    if (over == Admission::kAdmitted) return over;
    if (probe_only_open_ >= kMaxProbeOnlyConnections || count(probe_only_by_address_, address) >= kMaxProbeOnlyPerAddress) {
      return Admission::kRefused;
    }
    return over;
  }

 private:
  void Change(int delta, const asio::ip::address& address, bool probe_only) {
    auto& by_address = probe_only ? probe_only_by_address_ : by_address_;
    auto& open = probe_only ? probe_only_open_ : open_;
    open = static_cast<std::size_t>(static_cast<long long>(open) + delta);
    auto& n = by_address[address];
    n = static_cast<std::size_t>(static_cast<long long>(n) + delta);
    if (n == 0) by_address.erase(address);
    if (!probe_only) metrics_.SetOpenConnections(static_cast<double>(open_));
  }
  service::ServiceMetrics& metrics_;
  std::size_t max_;
  std::size_t per_address_;
  std::size_t open_ = 0;
  std::map<asio::ip::address, std::size_t> by_address_;
  std::size_t probe_only_open_ = 0;
  std::map<asio::ip::address, std::size_t> probe_only_by_address_;
};
using Slot = ConnectionCount::Slot;

// Bytes of HTTP replies handed to the socket and not yet written, reported
// with the WebSocket output in tts_buffered_output_bytes.
class QueuedReplyBytes {
 public:
  QueuedReplyBytes(service::TtsService& service, std::size_t bytes) : service_(service), bytes_(bytes) {
    service_.ChangeQueuedHttpBytes(static_cast<int64_t>(bytes_));
  }
  ~QueuedReplyBytes() { service_.ChangeQueuedHttpBytes(-static_cast<int64_t>(bytes_)); }
  QueuedReplyBytes(const QueuedReplyBytes&) = delete;
  QueuedReplyBytes& operator=(const QueuedReplyBytes&) = delete;

 private:
  service::TtsService& service_;
  std::size_t bytes_;
};

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession>, public service::ConnectionOutput {
 public:
  WebSocketSession(tcp::socket&& socket, service::TtsService& service, Slot slot)
      : ws_(std::move(socket)), service_(service), slot_(std::move(slot)), idle_timer_(ws_.get_executor()) {}

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
  void Send(service::ServerMessage message) override {
    const Kind kind = std::holds_alternative<service::SegmentDone>(message) ? Kind::kSegmentDone
                      : service::IsAudioEvent(message)                      ? Kind::kSegmentEvent
                                                                            : Kind::kControl;
    const auto* done = std::get_if<service::SegmentDone>(&message);
    Enqueue(Outgoing{service::Serialize(message), kind, done != nullptr ? done->duration_ms : 0.0});
  }
  void SendAudio(std::vector<int16_t> frame) override { Enqueue(Outgoing{std::move(frame), Kind::kAudio}); }
  service::DroppedAudio DropQueuedAudio() override {
    // The front message may be in flight; everything behind it can go.
    service::DroppedAudio dropped;
    auto first = queue_.begin() + (writing_ ? 1 : 0);
    for (auto it = first; it != queue_.end();) {
      if (it->kind != Kind::kControl) {
        if (it->kind == Kind::kSegmentDone) {
          ++dropped.segment_ends;
          dropped.segment_audio_ms += it->segment_audio_ms;
        }
        dropped.frames += it->kind == Kind::kAudio ? 1 : 0;
        queued_bytes_ -= it->size();
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    return dropped;
  }
  std::size_t queued_bytes() const override { return queued_bytes_; }
  void Close() override {
    close_after_write_ = true;
    if (!writing_) DoClose();
  }

 private:
  enum class Kind { kControl, kSegmentEvent, kAudio, kSegmentDone };  // all but kControl go on barge-in
  struct Outgoing {
    std::variant<std::string, std::vector<int16_t>> payload;
    Kind kind = Kind::kControl;
    double segment_audio_ms = 0;  // a segment_done's duration_ms
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
    if (!connection_) return;
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
    if (closing_ || !connection_) return;
    queued_bytes_ += out.size();
    queue_.push_back(std::move(out));
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    if (writing_) return;
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
  Slot slot_;
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

// The HTTP side of POST /v1/audio/speech: a chunked body written one write
// at a time, in order (header, chunks, last chunk), whatever the service
// queues meanwhile.
class SpeechResponse : public std::enable_shared_from_this<SpeechResponse>, public service::SpeechResponseSink {
 public:
  SpeechResponse(beast::tcp_stream&& stream, unsigned version, Slot slot)
      : stream_(std::move(stream)), version_(version), slot_(std::move(slot)) {}

  void Start(service::TtsService& service, std::string_view body) {
    auto speech = std::make_shared<service::OpenAiSpeech>(service, stream_.get_executor(), shared_from_this());
    speech_ = speech;
    WatchPeer();
    speech->Start(body);
  }

  // service::SpeechResponseSink
  void StartBody(std::string content_type) override {
    if (done_) return;
    header_ = std::make_unique<http::response<http::empty_body>>(http::status::ok, version_);
    header_->set(http::field::server, "supertonic-tts");
    header_->set(http::field::content_type, content_type);
    header_->chunked(true);
    header_->keep_alive(false);
    header_serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*header_);
    Pump();
  }
  void SendChunk(std::string bytes) override {
    if (done_ || bytes.empty()) return;
    queued_bytes_ += bytes.size();
    chunks_.push_back(std::move(bytes));
    Pump();
  }
  void EndBody() override {
    end_queued_ = true;
    Pump();
  }
  void Fail(const service::HttpError& error) override {
    if (done_ || header_) return;
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(error.status), version_);
    res->set(http::field::server, "supertonic-tts");
    res->set(http::field::content_type, "application/json");
    res->keep_alive(false);
    res->body() = error.Body();
    res->prepare_payload();
    writing_ = true;
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
      self->writing_ = false;
      self->Finish();
    });
    failed_ = true;
  }
  void Abort() override {
    if (done_) return;
    chunks_.clear();
    queued_bytes_ = 0;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    Finish();
  }
  std::size_t queued_bytes() const override { return queued_bytes_; }

 private:
  // The only write in flight: nothing starts another until it completes.
  void Pump() {
    if (writing_ || done_ || !header_) return;
    auto done = [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnWritten(ec); };
    if (!header_written_) {
      writing_ = true;
      header_written_ = true;
      http::async_write_header(stream_, *header_serializer_, std::move(done));
      return;
    }
    if (!chunks_.empty()) {
      writing_ = true;
      in_flight_ = std::move(chunks_.front());
      chunks_.pop_front();
      asio::async_write(stream_, http::make_chunk(asio::buffer(in_flight_)), std::move(done));
      return;
    }
    if (end_queued_) {
      writing_ = true;
      last_chunk_in_flight_ = true;
      asio::async_write(stream_, http::make_chunk_last(), std::move(done));
    }
  }

  void OnWritten(beast::error_code ec) {
    writing_ = false;
    queued_bytes_ -= std::min(queued_bytes_, in_flight_.size());
    in_flight_.clear();
    if (ec) return Abort();
    if (last_chunk_in_flight_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return Finish();
    }
    if (auto speech = speech_.lock()) speech->OnWritten();
    Pump();
  }

  // A client that goes away while its audio is still being synthesized is
  // noticed at once (its slot and its model time are freed), not at the next
  // write. Anything it sends meanwhile is read and ignored.
  void WatchPeer() {
    stream_.async_read_some(asio::buffer(peer_buffer_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Abort();
      self->WatchPeer();
    });
  }

  void Finish() {
    if (done_) return;
    done_ = true;
    // Never from inside the service's own call: it may be on the stack.
    asio::post(stream_.get_executor(), [weak = speech_] {
      if (auto speech = weak.lock()) speech->OnFinished();
    });
    beast::error_code ec;
    if (failed_) {
      // The peer watch goes on reading (and dropping) until the client
      // closes, for 2 s at most, so that the error response is not lost to
      // a reset.
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      stream_.expires_after(std::chrono::seconds(2));
      return;
    }
    if (!writing_) stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  unsigned version_;
  Slot slot_;
  std::weak_ptr<service::OpenAiSpeech> speech_;
  std::unique_ptr<http::response<http::empty_body>> header_;
  std::unique_ptr<http::response_serializer<http::empty_body>> header_serializer_;
  std::deque<std::string> chunks_;
  std::string in_flight_;
  std::array<char, 512> peer_buffer_{};
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool header_written_ = false;
  bool end_queued_ = false;
  bool last_chunk_in_flight_ = false;
  bool failed_ = false;  // an error response was written instead of the body
  bool done_ = false;
};

// What every HTTP connection shares: the service, the connection count and
// the thread the routes run on that must not hold up the network thread.
struct HttpContext {
  HttpContext(service::TtsService& s, std::shared_ptr<ConnectionCount> c) : service(s), connections(std::move(c)) {}
  service::TtsService& service;
  std::shared_ptr<ConnectionCount> connections;
  asio::thread_pool blocking{1};
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `over_capacity`: kAdmitted, or the limit the connection is over (it is
  // then let in for one probe request only).
  HttpSession(tcp::socket&& socket, std::shared_ptr<HttpContext> context, Slot slot,
              ConnectionCount::Admission over_capacity)
      : stream_(std::move(socket)), context_(std::move(context)), service_(context_->service), slot_(std::move(slot)),
        over_capacity_(over_capacity) {}

  void Run() { DoRead(); }

  // Not even a probe can be read: one response, then close, without reading.
  static void RefuseAtCapacity(tcp::socket&& socket, const service::TtsService& service) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    const service::HttpReply reply = service::CapacityRefusal(service, "/v1/", false);
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), 11);
    res->set(http::field::server, "supertonic-tts");
    res->set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) res->set(name, value);
    res->keep_alive(false);
    res->body() = reply.body;
    res->prepare_payload();
    stream->expires_after(std::chrono::seconds(5));
    http::async_write(*stream, *res, [stream, res](beast::error_code ec, std::size_t) {
      if (!ec) LingerThenClose(stream);
    });
  }

 private:
  bool probe_only() const { return over_capacity_ != ConnectionCount::Admission::kAdmitted; }

  // The header first: the route it names decides whether the body is read at
  // all (a refusal answers at once) and how large it may be.
  void DoRead() {
    parser_.emplace();
    route_ = nullptr;
    parser_->body_limit(boost::none);  // the route's limit is set, and a Content-Length checked, once it is known
    parser_->header_limit(kMaxRequestHeaderBytes);
    stream_.expires_after(probe_only() ? kProbeOnlyHeaderTimeout
                          : requests_ == 0 ? kFirstHeaderTimeout
                                           : kKeepAliveTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  // Answers or drops a failed read; false when there was no failure.
  bool ReadFailed(beast::error_code ec) {
    if (!ec) return false;
    if (ec == http::error::body_limit) {
      const std::size_t limit = route_ ? service::BodyLimit(service_, *route_) : service::kDefaultBodyLimit;
      RespondError(service::ErrorCode::kRequestTooLarge, "the body exceeds " + std::to_string(limit) + " bytes");
      return true;
    }
    if (ec == http::error::header_limit) {
      RespondError(service::ErrorCode::kHeadersTooLarge,
                   "the request headers exceed " + std::to_string(kMaxRequestHeaderBytes) + " bytes");
      return true;
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return true;
    }
    RespondError(service::ErrorCode::kBadRequest, "malformed HTTP request: " + ec.message());
    return true;
  }

  void OnHeader(beast::error_code ec) {
    if (ReadFailed(ec)) return;
    ++requests_;
    const auto& req = parser_->get();
    const std::string_view path = PathOf(req.target());
    const std::string token = PresentedToken(req[http::field::authorization], req.target());
    const auto match = service::MatchRoute(
        service_, service::RequestHead{.method = std::string_view(req.method_string()),
                                       .path = path,
                                       .websocket_upgrade = websocket::is_upgrade(req),
                                       .presented_token = token,
                                       .origin = req[http::field::origin],
                                       .host = req[http::field::host],
                                       .content_type = req[http::field::content_type]});
    if (probe_only() && (match.route == nullptr || !match.route->served_at_capacity)) {
      service_.metrics().Error(service::WireName(service::ErrorCode::kCapacity));
      return Respond(req, service::CapacityRefusal(service_, path,
                                                   over_capacity_ == ConnectionCount::Admission::kAddressFull));
    }
    if (match.refusal) return Respond(req, *match.refusal);
    route_ = match.route;
    const std::size_t limit = service::BodyLimit(service_, *route_);
    if (const auto length = parser_->content_length(); length && *length > limit) {
      ReadFailed(http::error::body_limit);
      return;
    }
    parser_->body_limit(limit);  // a chunked body is counted as it comes
    if (parser_->is_done()) return OnRead({});
    stream_.expires_after(kBodyTimeout);
    // curl and others wait for this before sending a large body.
    if (req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue), [self = shared_from_this()](beast::error_code e, std::size_t) {
        if (e) return;
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ReadFailed(ec)) return;
    auto req = parser_->release();
    switch (route_->endpoint) {
      case service::Endpoint::kWebSocket:
        stream_.expires_never();
        std::make_shared<WebSocketSession>(stream_.release_socket(), service_, std::move(slot_))->Start(std::move(req));
        return;
      case service::Endpoint::kSpeech: {
        stream_.expires_never();
        auto response = std::make_shared<SpeechResponse>(std::move(stream_), req.version(), std::move(slot_));
        response->Start(service_, req.body());
        return;
      }
      case service::Endpoint::kReply: {
        if (!route_->off_network_thread) return Respond(req, Reply(*route_, req));
        // Nothing is read meanwhile: the connection's next request waits for this reply.
        stream_.expires_never();
        auto request = std::make_shared<http::request<http::string_body>>(std::move(req));
        asio::post(context_->blocking, [self = shared_from_this(), request, route = route_]() mutable {
          auto reply = std::make_shared<service::HttpReply>(self->Reply(*route, *request));
          auto executor = self->stream_.get_executor();
          // Every reference goes back with the reply: the session must end on
          // the network thread, which owns its socket and its connection slot.
          asio::post(executor, [self = std::move(self), request = std::move(request), reply = std::move(reply)] {
            self->Respond(*request, *reply);
          });
        });
        return;
      }
    }
  }

  service::HttpReply Reply(const service::Route& route, const http::request<http::string_body>& req) {
    const service::ApiRequest api{std::string_view(req.method_string()), PathOf(req.target()), QueryOf(req.target()),
                                  req.body()};
    try {
      return route.reply(service_, api);
    } catch (const std::exception& e) {
      spdlog::error("{} {} failed: {}", std::string_view(req.method_string()), PathOf(req.target()), e.what());
      constexpr auto kInternal = service::ErrorCode::kInternal;
      return service::HttpReply{service::HttpStatusFor(kInternal), "application/json",
                                service::JsonErrorBody(kInternal, "internal error")};
    }
  }

  void RespondError(service::ErrorCode code, const std::string& message) {
    service::HttpReply reply{service::HttpStatusFor(code), "application/json", service::JsonErrorBody(code, message)};
    http::request<http::string_body> req;
    req.version(11);
    req.keep_alive(false);
    Respond(req, reply);
  }

  void Respond(const http::request<http::string_body>& req, const service::HttpReply& reply) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status),
                                                                   req.version());
    res->set(http::field::server, "supertonic-tts");
    res->set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) res->set(name, value);
    // An error leaves the request's body possibly unread: close rather than
    // parse what follows it as the next request. A connection let in over
    // capacity answers its one probe and goes.
    res->keep_alive(req.keep_alive() && reply.status < 400 && !probe_only());
    res->body() = req.method() == http::verb::head ? std::string() : reply.body;
    res->prepare_payload();
    if (req.method() == http::verb::head) res->content_length(reply.body.size());
    // A client that does not read its reply holds it in memory: counted, and
    // dropped when it reads nothing for TTS_SLOW_CONSUMER_TIMEOUT_S.
    auto queued = std::make_shared<QueuedReplyBytes>(service_, res->body().size());
    stream_.expires_after(std::chrono::seconds(service_.config().slow_consumer_timeout_s));
    http::async_write(stream_, *res, [self = shared_from_this(), res, queued](beast::error_code ec, std::size_t) {
      if (ec) return;
      if (!res->keep_alive()) return LingerThenClose(std::make_shared<beast::tcp_stream>(std::move(self->stream_)));
      self->DoRead();
    });
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpContext> context_;
  service::TtsService& service_;
  Slot slot_;
  ConnectionCount::Admission over_capacity_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const service::Route* route_ = nullptr;  // of the request being read, once its header is
  std::size_t requests_ = 0;               // whose header was read on this connection
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, service::TtsService& s)
      : io(io), service(s), acceptor(io),
        context(std::make_shared<HttpContext>(
            s, std::make_shared<ConnectionCount>(s.metrics(), static_cast<std::size_t>(s.config().max_connections),
                                                 static_cast<std::size_t>(s.config().ResolvedMaxConnectionsPerAddress())))) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        if (self->failed_accepts > 0) {
          spdlog::info("accepting again after {} failed attempts", self->failed_accepts);
          self->failed_accepts = 0;
        }
        self->Admit(std::move(socket));
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

  // A connection over a limit is still read, briefly, so that a probe or a
  // scrape is answered whatever clients hold: the rest get 503 (or 429 when
  // its address is over its share) once their request line shows what they are.
  void Admit(tcp::socket socket) {
    using Admission = ConnectionCount::Admission;
    beast::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) return;  // gone already
    const auto address = peer.address();
    const Admission admission = context->connections->Admit(address);
    if (admission != Admission::kAdmitted && refused_connections++ % 100 == 0) {
      spdlog::warn("a connection from {} is over {}: only a probe is answered on it ({} such so far)",
                   address.to_string(),
                   admission == Admission::kAddressFull
                       ? "its address's share (TTS_MAX_CONNECTIONS_PER_ADDRESS " +
                             std::to_string(service.config().ResolvedMaxConnectionsPerAddress()) + ")"
                       : "TTS_MAX_CONNECTIONS (" + std::to_string(service.config().max_connections) + ")",
                   refused_connections);
    }
    if (admission == Admission::kRefused) {
      service.metrics().Error(service::WireName(service::ErrorCode::kCapacity));
      return HttpSession::RefuseAtCapacity(std::move(socket), service);
    }
    const bool probe_only = admission != Admission::kAdmitted;
    std::make_shared<HttpSession>(std::move(socket), context, Slot(context->connections, address, probe_only),
                                  admission)
        ->Run();
  }

  asio::io_context& io;
  service::TtsService& service;
  tcp::acceptor acceptor;
  std::shared_ptr<HttpContext> context;
  asio::steady_timer retry{io};
  uint64_t failed_accepts = 0;
  uint64_t refused_connections = 0;
};

HttpServer::HttpServer(asio::io_context& io, service::TtsService& service)
    : impl_(std::make_shared<Impl>(io, service)) {}

HttpServer::~HttpServer() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
  // Before the io_context goes: a reply being made there posts back to it.
  impl_->context->blocking.stop();
  impl_->context->blocking.join();
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
