#include "app/serve.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>

#include "service/service_config.h"
#include "service/tts_service.h"
#include "text/exceptions.h"
#include "transport/http_server.h"

namespace supertonic::app {

namespace asio = boost::asio;

namespace {

spdlog::level::level_enum ToSpdlog(service::LogLevel l) {
  switch (l) {
    case service::LogLevel::kTrace: return spdlog::level::trace;
    case service::LogLevel::kDebug: return spdlog::level::debug;
    case service::LogLevel::kInfo: return spdlog::level::info;
    case service::LogLevel::kWarn: return spdlog::level::warn;
    case service::LogLevel::kError: return spdlog::level::err;
    case service::LogLevel::kCritical: return spdlog::level::critical;
    case service::LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

int Serve() {
  service::ServiceConfig config;
  try {
    config = service::ServiceConfig::FromEnvironment();
    config.Validate();
  } catch (const std::exception& e) {
    std::cerr << "configuration error: " << e.what() << "\n";
    return 2;
  }
  spdlog::set_level(ToSpdlog(config.log_level));
  for (const auto& name : service::ServiceConfig::UnknownVariables()) {
    spdlog::warn("ignoring unknown variable {} (typo?)", name);
  }
  spdlog::info("{}", config.ToString());
  if (!config.models.empty()) {
    if (const char* dir = std::getenv("TTS_MODEL_DIR"); dir != nullptr && *dir != '\0') {
      spdlog::warn("TTS_MODEL_DIR={} is ignored: TTS_MODELS names the models", dir);
    }
  }

  std::unique_ptr<service::TtsService> service;
  try {
    service = std::make_unique<service::TtsService>(config);
  } catch (const ModelError& e) {
    const bool several = !config.models.empty();
    std::cerr << "cannot load the model: " << e.what() << "\n"
              << "Put a Supertonic model there (`supertonic-tts download --model supertonic-2|supertonic-3 --dest "
                 "DIR`, or from Hugging Face: onnx/*.onnx, onnx/tts.json, onnx/unicode_indexer.json, "
                 "voice_styles/*.json) and set "
              << (several ? std::string("TTS_MODELS") : "TTS_MODEL_DIR=" + config.model_dir)
              << ", or try the protocol with the generated probe model, which beeps instead of speaking: "
                 "`make models && TTS_MODEL_DIR=models/probe build/bin/supertonic-tts serve`.\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "configuration error: " << e.what() << "\n";
    return 2;
  }

  asio::io_context io(1);
  transport::HttpServer server(io, *service);
  try {
    server.Listen(config.host, static_cast<uint16_t>(config.port));
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  spdlog::info("listening on {}:{} (WebSocket /ws/tts, the playground at /, /health/*, /metrics)", config.host, server.port());
  if (config.auth_token.empty()) {
    spdlog::warn("authentication is off (TTS_AUTH_TOKEN unset): anyone who can reach port {} may use /ws/tts and /v1/*",
                 server.port());
  } else {
    spdlog::info("authentication is on: /ws/tts and /v1/* need the token{}; /health/* is open",
                 config.metrics_require_auth ? ", /metrics too" : " (/metrics is open)");
  }

  // A model that cannot synthesize would leave a replica that is live but
  // never ready; exiting says so at once, and the orchestrator restarts it.
  std::atomic<bool> warmup_failed{false};
  std::thread warmup([&] {
    try {
      service->WarmUp();
      spdlog::info("warm-up done; ready");
    } catch (const std::exception& e) {
      spdlog::critical("warm-up synthesis failed, exiting: {}", e.what());
      warmup_failed = true;
      asio::post(io, [&io] { io.stop(); });
    }
  });

  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::steady_timer drain_timer(io);
  auto drain_deadline = std::chrono::steady_clock::now();
  bool forced = false;
  std::function<void()> check_drained = [&] {
    if (service->active_sessions() == 0 && service->open_connections() == 0) {
      spdlog::info("drained; exiting");
      io.stop();
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= drain_deadline && !forced) {
      spdlog::warn("grace period over: ending {} session(s)", service->active_sessions());
      forced = true;
      service->ForceCloseAll();
    } else if (now >= drain_deadline + std::chrono::seconds(2)) {
      io.stop();  // peers that never answer the close handshake
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(50));
    drain_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) check_drained();
    });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: draining (grace {} s)", signo, config.shutdown_grace_s);
    drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.shutdown_grace_s);
    service->StartDrain();
    check_drained();
  });

  io.run();
  warmup.join();
  service->worker().Stop();
  return warmup_failed ? 1 : 0;
}

}  // namespace supertonic::app
