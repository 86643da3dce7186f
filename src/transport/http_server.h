#pragma once
// HTTP/1.1 and WebSocket on one port (Boost.Beast): /ws/tts, /health/*,
// /metrics. Knows nothing of TTS beyond handing frames to service::Connection.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace supertonic::service {
class TtsService;
}

namespace supertonic::transport {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, service::TtsService& service);
  ~HttpServer();
  // Binds and starts accepting; throws std::runtime_error naming the address.
  void Listen(const std::string& host, uint16_t port);
  uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Constant-time comparison for secrets (auth tokens).
bool SecretsEqual(const std::string& a, const std::string& b);

}  // namespace supertonic::transport
