#include "dataplane/net.h"

#include <absl/strings/numbers.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dataplane/relay_error.h"

namespace sluice::dataplane {
namespace {

std::string SockaddrText(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

absl::StatusOr<std::unique_ptr<addrinfo, AddrInfoDeleter>> Resolve(const Address& a, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* result = nullptr;
  const std::string port = std::to_string(a.port);
  const int rc =
      getaddrinfo(a.host.empty() ? nullptr : a.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    return RelayError(kExitConnectFailed,
                      "cannot resolve " + a.ToString() + ": " + gai_strerror(rc));
  }
  return std::unique_ptr<addrinfo, AddrInfoDeleter>(result);
}

}  // namespace

std::string Address::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

absl::StatusOr<Address> ParseAddress(std::string_view text) {
  Address a;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return RelayError(kExitUsage, "address '" + std::string(text) +
                                        "': an IPv6 address is written [addr]:port");
    }
    a.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return RelayError(kExitUsage,
                        "address '" + std::string(text) + "' has no port: use host:port");
    }
    a.host = std::string(text.substr(0, colon));
    if (a.host.find(':') != std::string::npos) {
      return RelayError(kExitUsage, "address '" + std::string(text) +
                                        "': put an IPv6 address in brackets, [addr]:port");
    }
    port = text.substr(colon + 1);
  }
  uint32_t p = 0;
  if (port.empty() || !absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &p) ||
      p > 65535) {
    return RelayError(kExitUsage,
                      "address '" + std::string(text) + "': bad port '" + std::string(port) + "'");
  }
  a.port = static_cast<uint16_t>(p);
  return a;
}

absl::StatusOr<UniqueFd> Listen(const Address& address) {
  auto ai = Resolve(address, /*passive=*/true);
  if (!ai.ok()) return ai.status();
  // With no host, prefer the IPv6 wildcard: it takes IPv4 too (unless IPV6_V6ONLY).
  std::vector<addrinfo*> candidates;
  for (addrinfo* p = ai->get(); p != nullptr; p = p->ai_next) candidates.push_back(p);
  std::stable_sort(candidates.begin(), candidates.end(), [](addrinfo* x, addrinfo* y) {
    return x->ai_family == AF_INET6 && y->ai_family != AF_INET6;
  });
  int last_errno = 0;
  for (addrinfo* p : candidates) {
    UniqueFd fd(socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol));
    if (!fd.valid()) {
      last_errno = errno;
      continue;
    }
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), p->ai_addr, p->ai_addrlen) == 0 && listen(fd.get(), 16) == 0) return fd;
    last_errno = errno;
  }
  return ErrnoError(kExitNoPeer, "cannot listen on " + address.ToString(), last_errno);
}

absl::StatusOr<UniqueFd> AdoptListener(int fd) {
  const std::string what = "the listening socket passed as file descriptor " + std::to_string(fd);
  int domain = 0, type = 0, listening = 0;
  socklen_t len = sizeof domain;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    return ErrnoError(kExitUsage,
                      what +
                          " (--listen-fd) is not an open socket: start the relay "
                          "with that descriptor open, or give --listen=ADDR",
                      fd < 0 ? EBADF : errno);
  }
  len = sizeof type;
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
  len = sizeof listening;
  getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
  if ((domain != AF_INET && domain != AF_INET6) || type != SOCK_STREAM || listening == 0) {
    return RelayError(kExitUsage, what +
                                      " (--listen-fd) is not a TCP socket that listens: bind "
                                      "and listen before starting the relay, or give "
                                      "--listen=ADDR");
  }
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return ErrnoError(kExitIo, "fcntl on " + what, errno);
  return UniqueFd(fd);
}

uint16_t LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

Address LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  char host[INET6_ADDRSTRLEN] = "";
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    const void* addr =
        ss.ss_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr)
            : &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
    inet_ntop(ss.ss_family, addr, host, sizeof host);
  }
  return {host, LocalPort(fd)};
}

int PollTimeoutMillis(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;  // the arithmetic below would overflow
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

bool WaitFor(int fd, short events, absl::Time deadline, int stop_fd) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    const int n = poll(fds, stop_fd >= 0 ? 2 : 1, PollTimeoutMillis(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (stop_fd >= 0 && (fds[1].revents & POLLIN)) return false;
    return true;
  }
}

int SendAllBefore(int fd, std::string_view data, absl::Time deadline, int stop_fd) {
  while (!data.empty()) {
    if (!WaitFor(fd, POLLOUT, deadline, stop_fd)) return ETIMEDOUT;
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return errno;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

absl::StatusOr<UniqueFd> AcceptOne(int listen_fd, absl::Time deadline, int stop_fd,
                                   std::string* peer) {
  for (;;) {
    if (!WaitFor(listen_fd, POLLIN, deadline, stop_fd)) {
      if (absl::Now() >= deadline) {
        return RelayError(kExitNoPeer, "no peer connected to port " +
                                           std::to_string(LocalPort(listen_fd)) + " in time");
      }
      return RelayError(kExitTerminated, "terminated while waiting for a peer");
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    UniqueFd fd(accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      return ErrnoError(kExitIo, "accept", errno);
    }
    *peer = SockaddrText(reinterpret_cast<sockaddr*>(&ss));
    ConfigureStream(fd.get());
    return fd;
  }
}

absl::StatusOr<UniqueFd> Connect(const Address& address, absl::Time deadline, int stop_fd) {
  absl::Duration backoff = absl::Milliseconds(50);
  std::string last_error = "no attempt";
  for (;;) {
    auto ai = Resolve(address, /*passive=*/false);
    if (ai.ok()) {
      for (addrinfo* p = ai->get(); p != nullptr; p = p->ai_next) {
        UniqueFd fd(
            socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol));
        if (!fd.valid()) continue;
        int rc = connect(fd.get(), p->ai_addr, p->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
          if (!WaitFor(fd.get(), POLLOUT, std::min(deadline, absl::Now() + absl::Seconds(10)),
                       stop_fd)) {
            last_error = "connect timed out";
            continue;
          }
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
          rc = err == 0 ? 0 : -1;
          errno = err;
        }
        if (rc == 0) {
          fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
          ConfigureStream(fd.get());
          return fd;
        }
        last_error = std::strerror(errno);
      }
    } else {
      last_error = std::string(ai.status().message());
    }
    if (absl::Now() + backoff >= deadline) {
      return RelayError(kExitConnectFailed, "cannot connect to " + address.ToString() +
                                                " before the deadline: " + last_error);
    }
    // Sleep the backoff, or stop early on SIGTERM.
    if (WaitFor(stop_fd, POLLIN, absl::Now() + backoff, -1)) {
      return RelayError(kExitTerminated, "terminated while connecting");
    }
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

void ConfigureStream(int fd) {
  const int one = 1, idle = 30, interval = 10, count = 3;
  const unsigned user_timeout_ms = 60000;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

}  // namespace sluice::dataplane
