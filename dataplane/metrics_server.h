// A minimal HTTP server for Prometheus scrapes: GET /metrics returns what `render` builds,
// GET /healthz returns "ok". Runs on its own thread (Boost.Asio + Beast); `render` is called
// there and must be thread-safe.
//
//   auto server = MetricsServer::Start(address, [&] { return RenderMetrics(...); });
//   ... (*server)->port() ...
//   server->reset();  // stops and joins

#ifndef SLUICE_DATAPLANE_METRICS_SERVER_H_
#define SLUICE_DATAPLANE_METRICS_SERVER_H_

#include <absl/status/statusor.h>

#include <functional>
#include <memory>
#include <string>

#include "dataplane/net.h"

namespace sluice::dataplane {

class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const Address& address,
                                                              std::function<std::string()> render);
  ~MetricsServer();  // stops accepting, closes connections, joins the thread
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;

 private:
  struct State;
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Prometheus text format: a label value with \, " and newline escaped.
std::string PromLabel(std::string_view value);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_METRICS_SERVER_H_
