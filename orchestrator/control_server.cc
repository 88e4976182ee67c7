#include "orchestrator/control_server.h"

#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <thread>

#include "dataplane/auth.h"
#include "dataplane/unique_fd.h"
#include "protocol/report.h"

namespace sluice::orchestrator {

using dataplane::UniqueFd;

class ControlServer::Impl {
 public:
  Impl(UniqueFd listener, std::string secret, SyncProgress* progress, UniqueFd stop_read,
       UniqueFd stop_write)
      : listener_(std::move(listener)),
        secret_(std::move(secret)),
        progress_(progress),
        stop_read_(std::move(stop_read)),
        stop_write_(std::move(stop_write)) {
    accepter_ = std::thread([this] { Accept(); });
  }

  ~Impl() {
    const char c = 1;
    [[maybe_unused]] const ssize_t n = write(stop_write_.get(), &c, 1);
    accepter_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (Connection& c : connections_) c.thread.join();
  }

  uint16_t port() const { return dataplane::LocalPort(listener_.get()); }

  void NamePeer(const std::string& relay, const std::string& address) {
    std::lock_guard<std::mutex> lock(mu_);
    peers_[relay] = address;
    for (Connection& c : connections_) SendPeer(c);
  }

  void Drain(absl::Time deadline) {
    while (absl::Now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        bool open = false;
        for (const Connection& c : connections_) open |= !c.done;
        if (!open) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  struct Connection {
    UniqueFd fd;
    std::thread thread;
    std::atomic<bool> done{false};
    std::string relay;       // guarded by mu_: as it said hello ("" until then)
    bool peer_sent = false;  // guarded by mu_
  };

  // Names the connection's relay its peer, when it said hello and the peer is known. A relay
  // that cannot take the line within 5 s is past waiting for it.
  void SendPeer(Connection& c) {
    if (c.relay.empty() || c.peer_sent || c.done) return;
    const auto it = peers_.find(c.relay);
    if (it == peers_.end()) return;
    c.peer_sent = true;
    const std::string line =
        absl::StrCat("{\"peer\":{\"address\":", protocol::JsonString(it->second), "}}\n");
    dataplane::SendAllBefore(c.fd.get(), line, absl::Now() + absl::Seconds(5), stop_read_.get());
  }

  void Accept() {
    for (;;) {
      std::string peer;
      auto fd = dataplane::AcceptOne(listener_.get(), absl::InfiniteFuture(), stop_read_.get(), &peer);
      if (!fd.ok()) return;  // stopped (or the listener broke: the relays then report nothing)
      std::lock_guard<std::mutex> lock(mu_);
      // Reap what ended, so the list stays as long as the connections that are open.
      for (auto it = connections_.begin(); it != connections_.end();) {
        if (it->done) {
          it->thread.join();
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
      if (connections_.size() >= 64) continue;  // closes it: relays are a handful per sync
      Connection& c = connections_.emplace_back();
      c.fd = std::move(*fd);
      c.thread = std::thread([this, &c] {
        Serve(c);
        c.done = true;
      });
    }
  }

  void Serve(Connection& c) {
    const int fd = c.fd.get();
    const dataplane::Secret secret(secret_);
    if (!dataplane::ServerHandshake(fd, secret, absl::Now() + absl::Seconds(10), stop_read_.get()).ok()) {
      return;
    }
    std::string relay = "relay", pending;
    char buf[1 << 16];
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents & POLLIN) return;
      const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return;
      pending.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        const std::string_view line(pending.data(), nl);
        // The first line names the relay: {"hello":{"relay":NAME,...}}.
        if (line.rfind("{\"hello\":", 0) == 0) {
          const size_t at = line.find("\"relay\":\"");
          if (at != std::string_view::npos) {
            const size_t start = at + 9, end = line.find('"', start);
            if (end != std::string_view::npos) relay = std::string(line.substr(start, end - start));
          }
          std::lock_guard<std::mutex> lock(mu_);
          c.relay = relay;
          SendPeer(c);
        } else {
          progress_->OnReport(relay, line);
        }
        pending.erase(0, nl + 1);
      }
      if (pending.size() > (64 << 20)) return;  // a line this long is not a report
    }
  }

  const UniqueFd listener_;
  const std::string secret_;
  SyncProgress* const progress_;
  const UniqueFd stop_read_, stop_write_;
  std::mutex mu_;
  std::list<Connection> connections_;  // guarded by mu_
  std::map<std::string, std::string> peers_;  // guarded by mu_: relay -> its peer's address
  std::thread accepter_;
};

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(
    const dataplane::Address& address, std::string secret, SyncProgress* progress) {
  auto listener = dataplane::Listen(address);
  if (!listener.ok()) return listener.status();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(std::string("pipe2: ") + std::strerror(errno));
  }
  return std::unique_ptr<ControlServer>(new ControlServer(std::make_unique<Impl>(
      std::move(*listener), std::move(secret), progress, UniqueFd(fds[0]), UniqueFd(fds[1]))));
}

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlServer::~ControlServer() = default;
uint16_t ControlServer::port() const { return impl_->port(); }
void ControlServer::NamePeer(const std::string& relay, const std::string& address) {
  impl_->NamePeer(relay, address);
}
void ControlServer::Drain(absl::Time deadline) { impl_->Drain(deadline); }

}  // namespace sluice::orchestrator
