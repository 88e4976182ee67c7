#include "dataplane/metrics_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "dataplane/relay_error.h"

namespace sluice::dataplane {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One connection: read a request, answer, close. Bounded by a 10 s timer.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const std::function<std::string()>& render)
      : stream_(std::move(socket)), render_(render) {}

  void Run() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(
        stream_, buffer_, request_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) return;
    response_.version(request_.version());
    response_.keep_alive(false);
    const std::string_view target(request_.target().data(), request_.target().size());
    if (request_.method() == http::verb::get &&
        (target == "/metrics" || target.starts_with("/metrics?"))) {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response_.body() = render_();
    } else if (request_.method() == http::verb::get && target == "/healthz") {
      response_.result(http::status::ok);
      response_.body() = "ok\n";
    } else {
      response_.result(http::status::not_found);
      response_.body() = "try /metrics\n";
    }
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  const std::function<std::string()>& render_;
};

}  // namespace

struct MetricsServer::State {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::function<std::string()> render;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed: the server is stopping
      std::make_shared<Session>(std::move(socket), render)->Run();
      Accept();
    });
  }
};

MetricsServer::MetricsServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const Address& address, std::function<std::string()> render) {
  auto state = std::make_unique<State>();
  state->render = std::move(render);
  beast::error_code ec;
  const std::string host = address.host.empty() ? "::" : address.host;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) return RelayError(kExitUsage, "--metrics-addr: '" + host + "' is not an IP address");
  const tcp::endpoint endpoint(ip, address.port);
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return RelayError(kExitUsage, "--metrics-addr " + address.ToString() + ": " + ec.message());
  }
  state->Accept();
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

MetricsServer::~MetricsServer() {
  asio::post(state_->io, [s = state_.get()] {
    beast::error_code ignored;
    s->acceptor.close(ignored);
    s->io.stop();
  });
  state_->thread.join();
}

uint16_t MetricsServer::port() const { return state_->acceptor.local_endpoint().port(); }

std::string PromLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace sluice::dataplane
