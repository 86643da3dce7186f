#pragma once
// HTTP/1.1 and WebSocket on one port (Boost.Beast): bytes only. The routes
// (service/api_routes.h) say what each path means; WebSocket frames go to a
// service::Connection, speech requests to a service::OpenAiSpeech.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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

// The token a request presents: "Authorization: Bearer <token>" (the scheme
// in any case) or a percent-decoded "token" query parameter; empty when none.
std::string PresentedToken(std::string_view authorization, std::string_view target);

}  // namespace supertonic::transport
