#include "dataplane/accept.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <list>
#include <optional>
#include <mutex>
#include <thread>

#include "dataplane/net.h"
#include "dataplane/relay_error.h"

namespace sluice::dataplane {
namespace {

// One connection's handshake, on its own thread.
struct Attempt {
  UniqueFd fd;
  std::string peer;
  std::thread thread;
  bool done = false;  // guarded by the acceptor's mutex
  absl::Status status;
};

absl::StatusOr<std::pair<UniqueFd, UniqueFd>> Pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoError(kExitIo, "pipe2", errno);
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

void Poke(int fd) {
  const char c = 1;
  [[maybe_unused]] const ssize_t n = write(fd, &c, 1);
}

}  // namespace

absl::StatusOr<UniqueFd> AcceptAuthenticated(int listen_fd, const Secret& secret,
                                             const AcceptOptions& options, int stop_fd,
                                             std::string* peer,
                                             const std::function<void(const std::string&)>& log) {
  // `cancel` stays readable once poked: every handshake still running returns. `finished` is
  // poked by each handshake that ends, to wake the loop below.
  auto cancel = Pipe();
  if (!cancel.ok()) return cancel.status();
  auto finished = Pipe();
  if (!finished.ok()) return finished.status();

  std::mutex mu;
  std::list<Attempt> attempts;  // stable addresses for the threads
  absl::Status last_refusal;
  std::optional<UniqueFd> winner;

  const auto join_all = [&] {
    Poke(cancel->second.get());
    for (Attempt& a : attempts) a.thread.join();
    attempts.clear();
  };

  for (;;) {
    // Collect what ended.
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto it = attempts.begin(); it != attempts.end();) {
        if (!it->done) {
          ++it;
          continue;
        }
        it->thread.join();
        if (it->status.ok() && !winner) {
          winner = std::move(it->fd);
          *peer = it->peer;
        } else if (!it->status.ok()) {
          log("refused a connection from " + it->peer + ": " + std::string(it->status.message()));
          last_refusal = it->status;
        }
        it = attempts.erase(it);
      }
    }
    if (winner) {
      join_all();  // the others are cancelled and their connections closed
      return std::move(*winner);
    }

    const absl::Time now = absl::Now();
    if (now >= options.deadline) {
      join_all();
      if (!last_refusal.ok()) {
        return RelayError(kExitAuthFailed, "no authenticated peer before the deadline; last refusal: " +
                                               std::string(last_refusal.message()));
      }
      return RelayError(kExitNoPeer, "no peer connected to port " +
                                         std::to_string(LocalPort(listen_fd)) + " in time");
    }
    const bool room = attempts.size() < options.max_pending;
    pollfd fds[3] = {{finished->first.get(), POLLIN, 0},
                     {stop_fd, POLLIN, 0},
                     {room ? listen_fd : -1, POLLIN, 0}};  // a negative fd is ignored
    const int n = poll(fds, 3, PollTimeoutMillis(options.deadline));
    if (n < 0 && errno != EINTR) {
      const int err = errno;
      join_all();
      return ErrnoError(kExitIo, "poll while accepting", err);
    }
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(finished->first.get(), drain, sizeof drain) > 0) {
      }
    }
    if (stop_fd >= 0 && (fds[1].revents & POLLIN)) {
      join_all();
      return RelayError(kExitTerminated, "terminated while waiting for a peer");
    }
    if (room && (fds[2].revents & POLLIN)) {
      std::string from;
      auto fd = AcceptOne(listen_fd, absl::Now(), -1, &from);  // ready: does not wait
      if (!fd.ok()) {
        if (ExitCodeOf(fd.status()) == kExitNoPeer) continue;  // the connection went away
        join_all();
        return fd.status();
      }
      Attempt& a = attempts.emplace_back();
      a.fd = std::move(*fd);
      a.peer = std::move(from);
      const absl::Time deadline = std::min(options.deadline, absl::Now() + options.handshake_timeout);
      a.thread = std::thread([&a, &mu, &secret, deadline, cancel_fd = cancel->first.get(),
                              done_fd = finished->second.get()] {
        absl::Status s = ServerHandshake(a.fd.get(), secret, deadline, cancel_fd);
        {
          std::lock_guard<std::mutex> lock(mu);
          a.status = std::move(s);
          a.done = true;
        }
        Poke(done_fd);
      });
    }
  }
}

}  // namespace sluice::dataplane
