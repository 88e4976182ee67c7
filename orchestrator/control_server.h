// The orchestrator's end of the relays' report channels (dataplane/report_channel.h): a
// listener that authenticates each relay with the sync's secret and hands every line it sends
// to a SyncProgress. Each connection has a thread of its own; a peer that does not prove the
// secret within 10 s is dropped, and at most 64 connections are served at once. It also names
// a relay's peer to it, for relays started with --connect-reported.
//
//   auto server = ControlServer::Start({"127.0.0.1", 0}, secret, &progress);
//   relay args: --report-to=127.0.0.1:<(*server)->port()>
//   (*server)->NamePeer("pair-source", "10.0.0.7:9000");
//
// Thread-safe; the destructor closes every connection and joins every thread.

#ifndef SLUICE_ORCHESTRATOR_CONTROL_SERVER_H_
#define SLUICE_ORCHESTRATOR_CONTROL_SERVER_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <memory>
#include <string>

#include "dataplane/net.h"
#include "orchestrator/progress.h"

namespace sluice::orchestrator {

class ControlServer {
 public:
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(const dataplane::Address& address,
                                                              std::string secret,
                                                              SyncProgress* progress);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  uint16_t port() const;

  // Tells the relay that says hello as `relay` where its peer is ({"peer":{"address":...}} on
  // its channel): now if it is connected, else as soon as it says hello. Once per relay.
  void NamePeer(const std::string& relay, const std::string& address);

  // Waits until every connection accepted so far has ended (its relay sent its summary and
  // closed), at most until `deadline`. For after the relays exited: what they sent is read.
  void Drain(absl::Time deadline);

 private:
  class Impl;
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_CONTROL_SERVER_H_
