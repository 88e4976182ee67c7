#include "orchestrator/kube_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace sluice::orchestrator {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr char kToken[] = "test-bearer-token-value";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A test CA and a certificate for 127.0.0.1 it signed, made with the openssl CLI.
struct Certificates {
  std::string dir, ca, other_ca;
  Certificates() {
    char templ[] = "/tmp/sluice-kube-tls-XXXXXX";
    dir = mkdtemp(templ);
    std::ofstream(dir + "/san.ext") << "subjectAltName=IP:127.0.0.1\n";
    const std::string d = dir;
    const std::string script =
        "cd " + d + " && " +
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key "
        "-out ca.crt -days 2 -subj /CN=sluice-test-ca 2>/dev/null && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "
        "other.key "
        "-out other.crt -days 2 -subj /CN=another-ca 2>/dev/null && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key "
        "-out server.csr -subj /CN=127.0.0.1 2>/dev/null && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt "
        "-days 2 -extfile san.ext 2>/dev/null";
    EXPECT_EQ(std::system(script.c_str()), 0) << script;
    ca = ReadAll(dir + "/ca.crt");
    other_ca = ReadAll(dir + "/other.crt");
  }
  ~Certificates() { std::filesystem::remove_all(dir); }
};

struct Reply {
  int status = 200;
  std::string body;
  std::string retry_after;
  std::vector<std::string> stream;  // a chunked watch: these lines, one chunk each
  absl::Duration hold;              // then the stream stays open this long before it ends
};

// An HTTPS server that answers each request with the handler's Reply, on its own thread.
class Server {
 public:
  Server(const Certificates& certs,
         std::function<Reply(const http::request<http::string_body>&)> handler)
      : ctx_(ssl::context::tls_server),
        acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}),
        handler_(std::move(handler)) {
    ctx_.use_certificate_chain_file(certs.dir + "/server.crt");
    ctx_.use_private_key_file(certs.dir + "/server.key", ssl::context::pem);
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~Server() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket wake(ioc_);
    wake.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  void Serve() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket = acceptor_.accept(ec);
      if (stop_ || ec) return;
      beast::ssl_stream<tcp::socket> stream(std::move(socket), ctx_);
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) continue;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(stream, buffer, req, ec);
      if (ec) continue;
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back(std::string(req.method_string()) + " " + std::string(req.target()) + " " +
                        std::string(req[http::field::authorization]));
      }
      const Reply reply = handler_(req);
      if (!reply.stream.empty()) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        res.chunked(true);
        http::response_serializer<http::empty_body> sr{res};
        http::write_header(stream, sr, ec);
        for (const std::string& line : reply.stream) {
          net::write(stream, http::make_chunk(net::buffer(line + "\n")), ec);
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::this_thread::sleep_for(absl::ToChronoNanoseconds(reply.hold));
        net::write(stream, http::make_chunk_last(), ec);
      } else {
        http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
        res.set(http::field::content_type, "application/json");
        if (!reply.retry_after.empty()) res.set(http::field::retry_after, reply.retry_after);
        res.body() = reply.body;
        res.prepare_payload();
        http::write(stream, res, ec);
      }
      stream.shutdown(ec);
    }
  }

  net::io_context ioc_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::function<Reply(const http::request<http::string_body>&)> handler_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> seen_;
  std::thread thread_;
};

class KubeClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { certs_ = new Certificates(); }
  static void TearDownTestSuite() { delete certs_; }

  std::unique_ptr<KubeClient> Client(const Server& server, const std::string& ca = certs_->ca) {
    KubeConfig c;
    c.server = server.url();
    c.ca_pem = ca;
    c.token = kToken;
    auto client = KubeClient::Create(c);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }
  static absl::Time Soon() { return absl::Now() + absl::Seconds(20); }

  static Certificates* certs_;
};
Certificates* KubeClientTest::certs_ = nullptr;

TEST_F(KubeClientTest, ARequestCarriesTheBearerTokenOverVerifiedTls) {
  Server server(*certs_, [](const auto& req) {
    return req[http::field::authorization] == std::string("Bearer ") + kToken
               ? Reply{200, R"({"kind":"Pod"})", "", {}, {}}
               : Reply{401, R"({"kind":"Status","code":401})", "", {}, {}};
  });
  auto r = Client(server)->Call("GET", "/api/v1/namespaces/etl/pods/x", "", Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"kind":"Pod"})");
  EXPECT_EQ(server.seen(), (std::vector<std::string>{
                               std::string("GET /api/v1/namespaces/etl/pods/x Bearer ") + kToken}));
}

TEST_F(KubeClientTest, AServerTheCaDidNotSignIsRefusedAndTheTokenNeverSent) {
  Server server(*certs_, [](const auto&) { return Reply{200, "{}", "", {}, {}}; });
  auto r =
      Client(server, certs_->other_ca)->Call("GET", "/api", "", absl::Now() + absl::Seconds(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();  // not retried
  EXPECT_NE(r.status().message().find("TLS handshake"), std::string_view::npos) << r.status();
  EXPECT_EQ(r.status().message().find(kToken), std::string_view::npos);
  EXPECT_TRUE(server.seen().empty());
}

TEST_F(KubeClientTest, A429IsRetriedAfterItsRetryAfter) {
  std::atomic<int> calls{0};
  Server server(*certs_, [&](const auto&) {
    return calls++ == 0 ? Reply{429, R"({"kind":"Status","code":429})", "1", {}, {}}
                        : Reply{201, R"({"kind":"Pod"})", "", {}, {}};
  });
  const absl::Time start = absl::Now();
  auto r = Client(server)->Call("POST", "/api/v1/namespaces/etl/pods", "{}", Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));  // it waited as told, not less
}

TEST_F(KubeClientTest, FiveHundredsAreRetriedWithBackoffOtherErrorsAreReturned) {
  std::atomic<int> calls{0};
  Server server(*certs_, [&](const auto& req) {
    if (req.method() == http::verb::post)
      return Reply{409, R"({"reason":"AlreadyExists"})", "", {}, {}};
    return calls++ < 2 ? Reply{503, "{}", "", {}, {}} : Reply{200, "{}", "", {}, {}};
  });
  auto client = Client(server);
  auto r = client->Call("GET", "/api/v1/namespaces/etl/pods", "", Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(calls.load(), 3);
  auto conflict = client->Call("POST", "/api/v1/namespaces/etl/secrets", "{}", Soon());
  ASSERT_TRUE(conflict.ok());
  EXPECT_EQ(conflict->status, 409);  // once: a conflict is an answer, not a hiccup
  EXPECT_EQ(server.seen().size(), 4u);
  EXPECT_EQ(KubeClient::Backoff(0), absl::Milliseconds(100));
  EXPECT_EQ(KubeClient::Backoff(3), absl::Milliseconds(800));
  EXPECT_EQ(KubeClient::Backoff(30), absl::Seconds(5));
}

TEST_F(KubeClientTest, AWatchHandsOverEachEventAsItStreams) {
  Server server(*certs_, [](const auto& req) {
    if (req.target().find("resourceVersion=1") != beast::string_view::npos) {
      return Reply{410, R"({"kind":"Status","code":410,"reason":"Expired"})", "", {}, {}};
    }
    return Reply{200,
                 "",
                 "",
                 {R"({"type":"ADDED","object":{}})", R"({"type":"MODIFIED","object":{}})",
                  R"({"type":"BOOKMARK","object":{}})"},
                 {}};
  });
  auto client = Client(server);
  std::vector<std::string> events;
  const auto collect = [&](std::string_view e) {
    events.emplace_back(e);
    return true;
  };
  ASSERT_TRUE(
      client->Watch("/api/v1/namespaces/etl/pods?watch=1&resourceVersion=7", Soon(), collect).ok());
  ASSERT_EQ(events.size(), 3u);  // the server ended the stream: the caller watches again
  EXPECT_EQ(events[1], R"({"type":"MODIFIED","object":{}})");
  auto gone =
      client->Watch("/api/v1/namespaces/etl/pods?watch=1&resourceVersion=1", Soon(), collect);
  EXPECT_EQ(gone.code(), absl::StatusCode::kOutOfRange);  // list again
  EXPECT_NE(gone.message().find("HTTP 410"), std::string_view::npos) << gone;
  // A caller that has seen enough stops the watch.
  events.clear();
  ASSERT_TRUE(client
                  ->Watch("/w?watch=1", Soon(),
                          [&](std::string_view e) {
                            events.emplace_back(e);
                            return false;
                          })
                  .ok());
  EXPECT_EQ(events.size(), 1u);
}

TEST_F(KubeClientTest, AnotherThreadCancelsAWatchThatWaitsForEvents) {
  Server server(*certs_, [](const auto&) {
    return Reply{200, "", "", {R"({"type":"ADDED","object":{}})"}, absl::Seconds(3)};
  });
  auto client = Client(server);
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  int events = 0;
  const absl::Time start = absl::Now();
  const absl::Status s = client->Watch(
      "/w?watch=1", Soon(),
      [&](std::string_view) {
        ++events;
        return true;
      },
      &cancel);
  const absl::Duration took = absl::Now() - start;
  canceller.join();
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(events, 1);
  EXPECT_LT(took, absl::Seconds(2));  // not the server's 3 s: the cancel ended it
}

TEST_F(KubeClientTest, NoServerIsUnavailableAtTheDeadline) {
  KubeConfig c;
  {
    Server gone(*certs_, [](const auto&) { return Reply{}; });
    c.server = gone.url();  // a port nobody listens on once it is gone
  }
  c.ca_pem = certs_->ca;
  c.token = kToken;
  auto client = KubeClient::Create(c);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Call("GET", "/api", "", absl::Now() + absl::Milliseconds(700));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(r.status().message().find(kToken), std::string_view::npos);
}

}  // namespace
}  // namespace sluice::orchestrator
