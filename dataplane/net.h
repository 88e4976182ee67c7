// TCP endpoints for the relay: "host:port" and "[v6addr]:port" addresses, a listener that
// accepts one peer, and a connector that retries with backoff until a deadline (the peer pod
// may still be starting). Every stream socket gets keepalive and a user timeout, so a dead
// peer is noticed.
//
//   absl::StatusOr<Address> a = ParseAddress("[::1]:9001");
//   absl::StatusOr<UniqueFd> s = Connect(*a, absl::Now() + absl::Seconds(60), stop_fd);

#ifndef SLUICE_DATAPLANE_NET_H_
#define SLUICE_DATAPLANE_NET_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/unique_fd.h"

namespace sluice::dataplane {

struct Address {
  std::string host;  // a name, an IPv4 or an IPv6 address (no brackets); "" for any
  uint16_t port = 0;
  std::string ToString() const;  // brackets around IPv6
};

// "host:port", "[v6]:port" or ":port". Errors say what is wrong with the text.
absl::StatusOr<Address> ParseAddress(std::string_view text);

// Binds and listens (SO_REUSEADDR). "" listens on every address, IPv6 and IPv4.
absl::StatusOr<UniqueFd> Listen(const Address& address);
// Takes over `fd`, a listening socket inherited from the process that started this one (which
// bound it, so it knew the port before this process ran). Checks that it is a listening TCP
// socket and marks it close-on-exec; on error, leaves `fd` alone.
absl::StatusOr<UniqueFd> AdoptListener(int fd);
// The port a listening socket got (for ":0").
uint16_t LocalPort(int fd);
// Its address: the numeric host and the port.
Address LocalAddress(int fd);

// Waits for one connection until `deadline`; returns early with kExitTerminated when `stop_fd`
// becomes readable. `peer` receives the peer's address as text.
absl::StatusOr<UniqueFd> AcceptOne(int listen_fd, absl::Time deadline, int stop_fd,
                                   std::string* peer);

// Connects, retrying refused and unreachable attempts with exponential backoff (50 ms to 2 s)
// until `deadline`.
absl::StatusOr<UniqueFd> Connect(const Address& address, absl::Time deadline, int stop_fd);

// Keepalive (idle 30 s, interval 10 s, 3 probes) and TCP_USER_TIMEOUT (60 s).
void ConfigureStream(int fd);

// The poll(2)/epoll_wait(2) timeout for `deadline`: -1 for InfiniteFuture, 0 once it has
// passed, otherwise milliseconds rounded up (and capped, so it fits an int).
int PollTimeoutMillis(absl::Time deadline);

// Sends all of `data` on a stream socket (without SIGPIPE), waiting for room until
// `deadline` or until `stop_fd` is readable. Returns 0, ETIMEDOUT for the deadline or the stop,
// or the errno of the failed send: callers say what it means to them.
int SendAllBefore(int fd, std::string_view data, absl::Time deadline, int stop_fd);

// Waits until `fd` has `events` (poll(2) flags) or `deadline`; false on timeout or stop.
bool WaitFor(int fd, short events, absl::Time deadline, int stop_fd);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_NET_H_
