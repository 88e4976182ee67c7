// Accepting the one authenticated peer of a listening relay, with handshakes served
// concurrently, so that idle or slow connections cannot keep the real peer out.
//
// Each accepted connection runs the handshake of dataplane/auth.h on a thread of its own, with
// a deadline of its own (handshake_timeout, and never past the accept deadline). At most
// `max_pending` handshakes run at once; further connections wait in the listen backlog until a
// place frees. The first connection to complete the handshake wins: the others are cancelled
// and closed. A refused peer is logged and the wait goes on until the accept deadline.
//
//   auto fd = AcceptAuthenticated(listen_fd, secret, {.deadline = ..., ...}, stop_fd, &peer, log);
//
// Thread-safe to call from one thread; it joins every thread it starts before returning.

#ifndef SLUICE_DATAPLANE_ACCEPT_H_
#define SLUICE_DATAPLANE_ACCEPT_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <functional>
#include <string>

#include "dataplane/auth.h"
#include "dataplane/unique_fd.h"

namespace sluice::dataplane {

struct AcceptOptions {
  absl::Time deadline;  // no authenticated peer by then: kExitNoPeer (or kExitAuthFailed)
  absl::Duration handshake_timeout = absl::Seconds(10);  // per connection
  size_t max_pending = 16;                               // handshakes at once
};

// The authenticated connection; `peer` gets its address. kExitNoPeer when nobody connected
// in time, kExitAuthFailed when someone did but nobody proved the secret (the message quotes
// the last refusal), kExitTerminated when `stop_fd` became readable. `log` receives one line
// per refused connection.
absl::StatusOr<UniqueFd> AcceptAuthenticated(int listen_fd, const Secret& secret,
                                             const AcceptOptions& options, int stop_fd,
                                             std::string* peer,
                                             const std::function<void(const std::string&)>& log);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_ACCEPT_H_
