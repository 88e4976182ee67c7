#include "orchestrator/kube_client.h"

#include <absl/status/status.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <limits>
#include <optional>
#include <thread>
#include <type_traits>

namespace sluice::orchestrator {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct Server {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
};

absl::StatusOr<Server> ParseServer(const std::string& url) {
  Server s;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    s.tls = false;
    rest = url.substr(7);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("server '", url, "' must be an https:// or http:// URL"));
  }
  rest = rest.substr(0, rest.find('/'));
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos)
      return absl::InvalidArgumentError("server '" + url + "': no ']'");
    s.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    s.port = rest.size() > 1 && rest[0] == ':' ? rest.substr(1) : "";
  } else {
    const size_t colon = rest.rfind(':');
    s.host = rest.substr(0, colon);
    s.port = colon == std::string::npos ? "" : rest.substr(colon + 1);
  }
  if (s.host.empty()) return absl::InvalidArgumentError("server '" + url + "' has no host");
  if (s.port.empty()) s.port = s.tls ? "443" : "80";
  return s;
}

std::chrono::steady_clock::time_point Steady(absl::Time deadline) {
  const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             absl::ToChronoNanoseconds(std::min(left, absl::Hours(24 * 365))));
}

// Runs the io_context until the operations started on it are done (each stores its error).
// With `cancel`, looks at it every 100 ms and, once it is set, closes `tcp`: the operation then
// ends with operation_aborted, on this thread (Asio objects are not touched from another).
void RunAll(net::io_context& ioc, const std::atomic<bool>* cancel = nullptr,
            beast::tcp_stream* tcp = nullptr) {
  if (cancel == nullptr) {
    ioc.run();
  } else {
    while (!ioc.stopped()) {
      ioc.run_for(std::chrono::milliseconds(100));
      if (cancel->load() && tcp->socket().is_open()) tcp->socket().close();
    }
  }
  ioc.restart();
}

void SleepUntil(absl::Time t) {
  const absl::Duration d = t - absl::Now();
  if (d > absl::ZeroDuration()) std::this_thread::sleep_for(absl::ToChronoNanoseconds(d));
}

}  // namespace

class KubeClient::Impl {
 public:
  Impl(KubeConfig config, Server server, std::unique_ptr<ssl::context> ctx)
      : config_(std::move(config)), server_(std::move(server)), ctx_(std::move(ctx)) {}

  const KubeConfig& config() const { return config_; }

  // One request on a new connection. `on_body` (for a watch) takes the body as it streams;
  // without it the body is returned whole.
  absl::StatusOr<KubeResponse> Once(std::string_view method, std::string_view target,
                                    std::string_view body, absl::Time deadline,
                                    const std::function<bool(std::string_view)>* on_body,
                                    std::optional<absl::Duration>* retry_after,
                                    const std::atomic<bool>* cancel) {
    auto token = config_.CurrentToken();
    if (!token.ok()) return token.status();
    http::request<http::string_body> req{
        http::string_to_verb(beast::string_view(method.data(), method.size())),
        beast::string_view(target.data(), target.size()), 11};
    req.set(http::field::host, server_.host);
    req.set(http::field::user_agent, "sluice");
    req.set(http::field::accept, "application/json");
    if (!token->empty() && server_.tls) req.set(http::field::authorization, "Bearer " + *token);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::string(body);
    }
    req.prepare_payload();

    net::io_context ioc;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    const auto endpoints = resolver.resolve(server_.host, server_.port, ec);
    if (ec) return Failed("resolve", ec);
    if (!server_.tls) {
      beast::tcp_stream stream(ioc);
      return Exchange(ioc, stream, stream, endpoints, req, deadline, on_body, retry_after, cancel);
    }
    beast::ssl_stream<beast::tcp_stream> stream(ioc, *ctx_);
    net::ip::make_address(server_.host, ec);
    if (ec) SSL_set_tlsext_host_name(stream.native_handle(), server_.host.c_str());  // SNI: names
    ec = {};
    stream.set_verify_callback(ssl::host_name_verification(server_.host));
    return Exchange(ioc, stream, beast::get_lowest_layer(stream), endpoints, req, deadline, on_body,
                    retry_after, cancel);
  }

 private:
  template <typename Stream>
  absl::StatusOr<KubeResponse> Exchange(net::io_context& ioc, Stream& stream,
                                        beast::tcp_stream& tcp,
                                        const tcp::resolver::results_type& endpoints,
                                        http::request<http::string_body>& req, absl::Time deadline,
                                        const std::function<bool(std::string_view)>* on_body,
                                        std::optional<absl::Duration>* retry_after,
                                        const std::atomic<bool>* cancel) {
    beast::error_code ec;
    const auto run = [&] { RunAll(ioc, cancel, &tcp); };
    const auto cancelled = [&] { return cancel != nullptr && cancel->load(); };
    tcp.expires_at(Steady(deadline));
    tcp.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (cancelled()) return absl::CancelledError("the watch was cancelled");
    if (ec) return Failed("connect to", ec);
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
      run();
      if (ec && ec.category() == net::error::get_ssl_category()) {
        // Not a hiccup to retry: the server is not the one the CA vouches for.
        return absl::FailedPreconditionError(absl::StrCat(
            "the TLS handshake with the API server at ", config_.server, " failed: ", ec.message(),
            " (check the cluster's certificate authority in the kubeconfig)"));
      }
      if (ec) return Failed("TLS handshake with", ec);
    }
    http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec) return Failed("send to", ec);

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    http::async_read_header(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec) return Failed("read from", ec);
    KubeResponse response;
    response.status = static_cast<int>(parser.get().result_int());
    if (const auto it = parser.get().find(http::field::retry_after); it != parser.get().end()) {
      int64_t seconds = 0;
      if (absl::SimpleAtoi(std::string(it->value().data(), it->value().size()), &seconds) &&
          seconds >= 0) {
        *retry_after = absl::Seconds(seconds);
      }
    }
    const bool streaming = on_body != nullptr && response.status == 200;
    std::string pending;  // a watch's partial line
    char chunk[64 * 1024];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      // read_some: an event is handed over as it arrives, not once 64 KiB of them did.
      http::async_read_some(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
      run();
      if (ec == http::error::need_buffer) ec = {};
      if (cancelled()) return response;  // the caller stopped watching
      const std::string_view got(chunk, sizeof chunk - parser.get().body().size);
      if (!streaming) {
        response.body.append(got);
        if (response.body.size() > (64u << 20))
          return absl::ResourceExhaustedError("a response over 64 MiB");
      } else {
        pending.append(got);
        for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
          if (nl > 0 && !(*on_body)(std::string_view(pending.data(), nl))) return response;
        }
        if (pending.size() > (64u << 20))
          return absl::ResourceExhaustedError("a watch event over 64 MiB");
      }
      if (ec == beast::error::timeout)
        return absl::DeadlineExceededError("the watch reached its deadline");
      if (ec) return Failed("read from", ec);
    }
    if (streaming && !pending.empty()) (*on_body)(pending);
    return response;
  }

  absl::Status Failed(const char* what, const beast::error_code& ec) const {
    const std::string message =
        absl::StrCat("cannot ", what, " the API server at ", config_.server, ": ", ec.message());
    return ec == beast::error::timeout ? absl::DeadlineExceededError(message)
                                       : absl::UnavailableError(message);
  }

  const KubeConfig config_;
  const Server server_;
  const std::unique_ptr<ssl::context> ctx_;
};

absl::StatusOr<std::unique_ptr<KubeClient>> KubeClient::Create(KubeConfig config) {
  auto server = ParseServer(config.server);
  if (!server.ok()) return server.status();
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  beast::error_code ec;
  if (!config.ca_pem.empty()) {
    ctx->add_certificate_authority(net::buffer(config.ca_pem), ec);
    if (ec)
      return absl::InvalidArgumentError("the cluster's CA is not a PEM certificate: " +
                                        ec.message());
  } else {
    ctx->set_default_verify_paths(ec);
  }
  ctx->set_verify_mode(config.insecure_skip_tls_verify ? ssl::verify_none : ssl::verify_peer);
  if (!config.client_cert_pem.empty()) {
    ctx->use_certificate_chain(net::buffer(config.client_cert_pem), ec);
    if (!ec) ctx->use_private_key(net::buffer(config.client_key_pem), ssl::context::pem, ec);
    if (ec)
      return absl::InvalidArgumentError("the client certificate or key is not usable: " +
                                        ec.message());
  }
  return std::unique_ptr<KubeClient>(new KubeClient(
      std::make_unique<Impl>(std::move(config), std::move(*server), std::move(ctx))));
}

KubeClient::KubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubeClient::~KubeClient() = default;
const KubeConfig& KubeClient::config() const { return impl_->config(); }

absl::Duration KubeClient::Backoff(int attempt) {
  return std::min(absl::Milliseconds(100) * (int64_t{1} << std::min(attempt, 10)),
                  absl::Seconds(5));
}

absl::StatusOr<KubeResponse> KubeClient::Call(std::string_view method, std::string_view target,
                                              std::string_view body, absl::Time deadline) {
  for (int attempt = 0;; ++attempt) {
    std::optional<absl::Duration> retry_after;
    auto r = impl_->Once(method, target, body, deadline, nullptr, &retry_after, nullptr);
    absl::Duration wait;
    if (!r.ok()) {
      if (r.status().code() != absl::StatusCode::kUnavailable) return r;
      wait = Backoff(attempt);  // a lost connection
    } else if (r->status == 429) {
      wait = retry_after.value_or(absl::Seconds(1));
    } else if (r->status >= 500) {
      wait = Backoff(attempt);
    } else {
      return r;
    }
    if (absl::Now() + wait >= deadline) return r;  // the last answer: nothing better in time
    SleepUntil(absl::Now() + wait);
  }
}

absl::Status KubeClient::Watch(std::string_view target, absl::Time deadline,
                               const std::function<bool(std::string_view event)>& on_event,
                               const std::atomic<bool>* cancel) {
  std::optional<absl::Duration> retry_after;
  auto r = impl_->Once("GET", target, "", deadline, &on_event, &retry_after, cancel);
  if (!r.ok()) return r.status();
  if (r->status == 410) {
    return absl::OutOfRangeError(
        absl::StrCat("watch ", std::string(target), ": HTTP 410 Gone: ", r->body.substr(0, 500)));
  }
  if (r->status != 200) {
    return absl::FailedPreconditionError(absl::StrCat("watch ", std::string(target), ": HTTP ",
                                                      r->status, ": ", r->body.substr(0, 500)));
  }
  return absl::OkStatus();
}

}  // namespace sluice::orchestrator
