// A small client of the Kubernetes API server: Boost.Beast over OpenSSL (or plain HTTP for a
// `kubectl proxy`), JSON bodies, one connection per request, no kubectl underneath.
//
//   auto client = KubeClient::Create(config);                 // kube_config.h
//   auto pod = (*client)->Call("GET", "/api/v1/namespaces/etl/pods/x", "", deadline);
//   (*client)->Watch("/api/v1/namespaces/etl/pods?watch=1&resourceVersion=7", deadline,
//                    [](std::string_view event) { ...; return true; });
//
// Call() retries as the API asks: a 429 after its Retry-After (seconds), a 5xx or a lost
// connection with capped exponential backoff (100 ms doubling to 5 s), until `deadline`; any
// other answer is returned as it is, for the caller to read (404, 409 AlreadyExists, 410 Gone).
// The bearer token is read for each request (kube_config.h: a rotated token is followed) and
// is in no error message.
//
// Thread-compatible: one thread at a time per client.

#ifndef SLUICE_ORCHESTRATOR_KUBE_CLIENT_H_
#define SLUICE_ORCHESTRATOR_KUBE_CLIENT_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "orchestrator/kube_config.h"

namespace sluice::orchestrator {

struct KubeResponse {
  int status = 0;    // the HTTP status
  std::string body;  // JSON: the object, a list, or a Status
};

class KubeClient {
 public:
  static absl::StatusOr<std::unique_ptr<KubeClient>> Create(KubeConfig config);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const KubeConfig& config() const;

  // One request, retried as above. `target` is the path and query; `body` is JSON ("" for none).
  absl::StatusOr<KubeResponse> Call(std::string_view method, std::string_view target,
                                    std::string_view body, absl::Time deadline);

  // A watch (GET `target`, which has watch=1): each line the server streams (one WatchEvent's
  // JSON) goes to `on_event` as it arrives, until the server ends the stream (OK: watch again),
  // `on_event` returns false (OK), `*cancel` is set (OK, within 100 ms: another thread may set
  // it), or `deadline` (DeadlineExceeded). Not retried: a lost connection is Unavailable, a
  // 410 Gone answer OutOfRange (list again), any other non-200 answer FailedPrecondition, with
  // the status and body in the message.
  absl::Status Watch(std::string_view target, absl::Time deadline,
                     const std::function<bool(std::string_view event)>& on_event,
                     const std::atomic<bool>* cancel = nullptr);

  // How long Call() waits before retry `attempt` (0, 1, ...) of a 5xx or a lost connection.
  static absl::Duration Backoff(int attempt);

 private:
  class Impl;
  explicit KubeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_KUBE_CLIENT_H_
