#include "dataplane/engine.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "dataplane/net.h"
#include "dataplane/relay_error.h"
#include "dataplane/unique_fd.h"

namespace sluice::dataplane {
namespace {

constexpr uint32_t kStopped = 0;     // Wait(): the stop fd fired
constexpr uint32_t kTimedOut = ~0u;  // Wait(): the deadline passed

// Readiness of one fd at a time, interruptible by the stop fd.
class Waiter {
 public:
  virtual ~Waiter() = default;
  // Blocks until `fd` reports `events` (POLLIN or POLLOUT) and returns its revents; returns
  // kStopped when `stop_fd` (if >= 0) is readable first, kTimedOut at `deadline`.
  virtual absl::StatusOr<uint32_t> Wait(int fd, uint32_t events, int stop_fd,
                                        absl::Time deadline) = 0;
};

class EpollWaiter final : public Waiter {
 public:
  EpollWaiter() : epoll_(epoll_create1(EPOLL_CLOEXEC)) {}

  absl::StatusOr<uint32_t> Wait(int fd, uint32_t events, int stop_fd,
                                absl::Time deadline) override {
    if (!epoll_.valid()) return ErrnoError(kExitIo, "epoll_create1", errno);
    if (auto s = Arm(fd, events | EPOLLONESHOT); !s.ok()) return s;
    if (stop_fd != stop_registered_) {
      if (stop_registered_ >= 0) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, stop_registered_, nullptr);
      if (stop_fd >= 0) {
        epoll_event ev{.events = EPOLLIN, .data = {.fd = stop_fd}};
        epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_fd, &ev);
      }
      stop_registered_ = stop_fd;
    }
    for (;;) {
      epoll_event ev[2];
      const int n = epoll_wait(epoll_.get(), ev, 2, PollTimeoutMillis(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError(kExitIo, "epoll_wait", errno);
      if (n == 0) return kTimedOut;
      uint32_t revents = 0;
      bool stopped = false;
      for (int i = 0; i < n; ++i) {
        if (ev[i].data.fd == fd) revents = ev[i].events;
        if (ev[i].data.fd == stop_fd) stopped = true;
      }
      if (revents != 0) return revents;
      if (stopped) return kStopped;
    }
  }

 private:
  absl::Status Arm(int fd, uint32_t events) {
    epoll_event ev{.events = events, .data = {.fd = fd}};
    if (std::find(armed_.begin(), armed_.end(), fd) != armed_.end()) {
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0) return absl::OkStatus();
    }
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return ErrnoError(kExitIo, "epoll_ctl", errno);
    }
    armed_.push_back(fd);
    return absl::OkStatus();
  }

  UniqueFd epoll_;
  std::vector<int> armed_;
  int stop_registered_ = -1;
};

// Readiness from IORING_OP_POLL_ADD completions: one io_uring_enter per wait.
class UringPollWaiter final : public Waiter {
 public:
  explicit UringPollWaiter(io_uring ring) : ring_(ring) {}
  ~UringPollWaiter() override { io_uring_queue_exit(&ring_); }

  absl::StatusOr<uint32_t> Wait(int fd, uint32_t events, int stop_fd,
                                absl::Time deadline) override {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_poll_add(sqe, fd, events);
    io_uring_sqe_set_data64(sqe, ++generation_);
    if (stop_fd >= 0 && !stop_armed_) {
      io_uring_sqe* stop = io_uring_get_sqe(&ring_);
      io_uring_prep_poll_add(stop, stop_fd, POLLIN);
      io_uring_sqe_set_data64(stop, kStopTag);
      stop_armed_ = true;
    }
    if (const int rc = io_uring_submit(&ring_); rc < 0)
      return ErrnoError(kExitIo, "io_uring_submit", -rc);
    for (;;) {
      io_uring_cqe* cqe = nullptr;
      int rc;
      if (deadline == absl::InfiniteFuture()) {
        rc = io_uring_wait_cqe(&ring_, &cqe);
      } else {
        const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
        const timespec t = absl::ToTimespec(left);  // left >= 0: no negative case
        __kernel_timespec ts{t.tv_sec, t.tv_nsec};
        rc = io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
        if (rc == -ETIME) return kTimedOut;
      }
      if (rc == -EINTR) continue;
      if (rc < 0) return ErrnoError(kExitIo, "io_uring_wait_cqe", -rc);
      const uint64_t tag = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      if (tag == kStopTag) {
        stop_fired_ = true;
        if (stop_fd >= 0) return kStopped;
        continue;
      }
      if (tag != generation_) continue;  // a poll left over from an earlier wait
      if (res < 0) return ErrnoError(kExitIo, "io_uring poll", -res);
      if (stop_fired_ && stop_fd >= 0) return kStopped;
      return static_cast<uint32_t>(res);
    }
  }

 private:
  static constexpr uint64_t kStopTag = ~uint64_t{0};
  io_uring ring_;
  uint64_t generation_ = 0;
  bool stop_armed_ = false;
  bool stop_fired_ = false;
};

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Grows a pipe; the default 64 KiB means 16x the syscalls per byte.
void SetPipeSize(int fd, size_t bytes) { fcntl(fd, F_SETPIPE_SZ, static_cast<int>(bytes)); }

absl::StatusOr<std::pair<UniqueFd, UniqueFd>> MakePipe(size_t bytes) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return ErrnoError(kExitIo, "pipe2", errno);
  SetPipeSize(fds[0], bytes);
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

// The error for a failed write/splice into `out`.
absl::Status OutputError(const Endpoint& out, int err) {
  if (out.is_pipe && err == EPIPE) {
    return RelayError(
        kExitReaderGone,
        std::string(out.name) + " has no reader any more (the connector closed its input)");
  }
  if (err == EPIPE || err == ECONNRESET || err == ETIMEDOUT) {
    return ErrnoError(kExitPeerLost, "writing to " + std::string(out.name), err);
  }
  return ErrnoError(kExitIo, "writing to " + std::string(out.name), err);
}

absl::Status InputError(const Endpoint& in, int err) {
  if (err == ECONNRESET || err == ETIMEDOUT) {
    return ErrnoError(kExitPeerLost, "reading from " + std::string(in.name), err);
  }
  return ErrnoError(kExitIo, "reading from " + std::string(in.name), err);
}

// Shared by the drivers: waits, with time charged to input or output, and the stop/drain logic.
absl::Status Terminated() {
  return RelayError(kExitTerminated, "stopped by SIGTERM after delivering the bytes in flight");
}

class Pumping {
 public:
  Pumping(Waiter& waiter, PumpStats& stats, int stop_fd, absl::Duration drain_timeout)
      : waiter_(waiter), stats_(stats), stop_fd_(stop_fd), drain_timeout_(drain_timeout) {}

  // Waits for input. Nothing is in flight, so a stop ends the pump: kStopped.
  absl::StatusOr<uint32_t> WaitInput(int fd) {
    if (stopping_) return kStopped;
    return Timed(fd, POLLIN, stats_.input_wait_ns);
  }
  // Waits for the output to take in-flight bytes. A stop starts the drain: bytes in flight are
  // still delivered until the drain deadline, then kExitTerminated.
  absl::Status WaitOutput(const Endpoint& out) {
    for (;;) {
      auto r = Timed(out.fd, POLLOUT, stats_.output_wait_ns);
      if (!r.ok()) return r.status();
      if (*r == kTimedOut) {
        return RelayError(kExitTerminated,
                          "stopped: " + std::string(out.name) +
                              " did not take the in-flight bytes within the drain timeout");
      }
      if (*r != kStopped) return absl::OkStatus();
    }
  }
  bool stopping() const { return stopping_; }
  // After a read or splice from `in` failed with `err`: OK to try again (after waiting for
  // input on EAGAIN), or the error that ends the pump.
  absl::Status AfterFailedRead(const Endpoint& in, int err) {
    if (err == EINTR) return absl::OkStatus();
    if (err != EAGAIN) return InputError(in, err);
    auto r = WaitInput(in.fd);
    if (!r.ok()) return r.status();
    if (*r == kStopped) return Terminated();
    return absl::OkStatus();
  }

  // Polls the stop fd without waiting; a stop starts the drain.
  bool CheckStop() {
    pollfd p{stop_fd_, POLLIN, 0};
    if (!stopping_ && stop_fd_ >= 0 && poll(&p, 1, 0) > 0) {
      stopping_ = true;
      drain_deadline_ = absl::Now() + drain_timeout_;
    }
    return stopping_;
  }

 private:
  absl::StatusOr<uint32_t> Timed(int fd, uint32_t events, std::atomic<uint64_t>& counter) {
    const absl::Time start = absl::Now();
    auto r = waiter_.Wait(fd, events, stopping_ ? -1 : stop_fd_,
                          stopping_ ? drain_deadline_ : absl::InfiniteFuture());
    counter += static_cast<uint64_t>(absl::ToInt64Nanoseconds(absl::Now() - start));
    if (r.ok() && *r == kStopped) {
      stopping_ = true;
      drain_deadline_ = absl::Now() + drain_timeout_;
    }
    return r;
  }

  Waiter& waiter_;
  PumpStats& stats_;
  const int stop_fd_;
  const absl::Duration drain_timeout_;
  bool stopping_ = false;
  absl::Time drain_deadline_;
};

// Delivers exactly `n` bytes to `out` through `io(bytes_left)` (a splice or a write that
// returns what it moved, or -1 with errno), waiting for the output when it is full.
template <typename Io>
absl::Status DeliverAll(const Endpoint& out, size_t n, PumpStats& stats, Pumping& pumping,
                        Io&& io) {
  while (n > 0) {
    const ssize_t m = io(n);
    if (m > 0) {
      n -= static_cast<size_t>(m);
      stats.bytes += static_cast<uint64_t>(m);
      ++stats.transfers;
      continue;
    }
    if (m < 0 && errno == EINTR) continue;
    if (m < 0 && errno == EAGAIN) {
      if (auto s = pumping.WaitOutput(out); !s.ok()) return s;
      continue;
    }
    if (m == 0) return RelayError(kExitIo, "moved nothing into " + std::string(out.name));
    return OutputError(out, errno);
  }
  return absl::OkStatus();
}

// A socket output is kept blocking: one call returns once its bytes are in the socket, without
// EAGAIN/poll round trips (+5-7% on sends, bench/RESULTS.md). Waiting is then the call's wall
// time less this thread's CPU time. SIGTERM interrupts a blocked call; from then on the output
// is non-blocking, so the drain runs against its deadline. Other outputs are non-blocking.
class OutputMode {
 public:
  void Setup(const Endpoint& out) {
    blocking_ = out.is_socket;
    if (blocking_) {
      fcntl(out.fd, F_SETFL, fcntl(out.fd, F_GETFL) & ~O_NONBLOCK);
    } else {
      SetNonBlocking(out.fd);
    }
  }

  // One splice or write into `out`: `io(nonblocking)` returns what it moved, or -1 with errno.
  template <typename Io>
  ssize_t Call(const Endpoint& out, PumpStats& stats, Pumping& pumping, Io&& io) {
    if (blocking_ && pumping.stopping()) Unblock(out);
    if (!blocking_) return io(true);
    const int64_t wall = MonotonicNanos(), cpu = ThreadCpuNanos();
    const ssize_t m = io(false);
    const int err = errno;
    const int64_t waited = (MonotonicNanos() - wall) - (ThreadCpuNanos() - cpu);
    if (waited > 0) stats.output_wait_ns += static_cast<uint64_t>(waited);
    if (m < 0 && err == EINTR && pumping.CheckStop()) Unblock(out);
    errno = err;
    return m;
  }

 private:
  void Unblock(const Endpoint& out) {
    SetNonBlocking(out.fd);
    blocking_ = false;
  }

  bool blocking_ = false;
};

// The teed bytes are read out of the inspection pipe this many at a time. Reading 1 MiB (a
// whole pipe) at once spent as much system time as the rest of the send relay together:
// `perf` put 40% of the relay in the kernel's copy to user space, and 128 KiB reads were as
// slow; 64 KiB and 16 KiB reads halved the relay's system time (bench/RESULTS.md). The
// inspector then reads bytes that are still in cache.
constexpr size_t kTapReadBytes = 64 << 10;

// Reads exactly `n` teed bytes out of the inspection pipe `side` into the tap, through `buf`
// (kTapReadBytes).
absl::Status TapTeed(int side, size_t n, char* buf, const Tap& tap) {
  while (n > 0) {
    const ssize_t r = read(side, buf, std::min(n, kTapReadBytes));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return ErrnoError(kExitIo, "reading the inspection pipe", r < 0 ? errno : EIO);
    tap(std::string_view(buf, static_cast<size_t>(r)));
    n -= static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

class SpliceEngine final : public Engine {
 public:
  SpliceEngine(std::string name, std::unique_ptr<Waiter> waiter, PumpOptions options)
      : name_(std::move(name)),
        waiter_(std::move(waiter)),
        options_(options),
        buf_(std::make_unique<char[]>(kTapReadBytes)) {}

  std::string_view name() const override { return name_; }

  absl::Status Pump(const Endpoint& in, const Endpoint& out, const Tap* tap, PumpStats& stats,
                    int stop_fd, Holdback* holdback) override {
    if (holdback != nullptr && in.is_pipe) {
      return RelayError(kExitUsage, "a holdback needs an input that is not a pipe");
    }
    SetNonBlocking(in.fd);
    output_.Setup(out);
    if (in.is_pipe) SetPipeSize(in.fd, options_.pipe_bytes);
    if (out.is_pipe) SetPipeSize(out.fd, options_.pipe_bytes);
    Pumping pumping(*waiter_, stats, stop_fd, options_.drain_timeout);
    std::pair<UniqueFd, UniqueFd> side;
    if (tap != nullptr) {
      auto p = MakePipe(options_.pipe_bytes);
      if (!p.ok()) return p.status();
      side = std::move(*p);
    }
    if (in.is_pipe) return FromPipe(in, out, tap, side, stats, pumping);
    auto mid = MakePipe(options_.pipe_bytes);
    if (!mid.ok()) return mid.status();
    return ThroughPipe(in, out, tap, side, *mid, stats, pumping, holdback);
  }

 private:
  // Splices exactly `n` bytes from the pipe `from` to `out`.
  absl::Status SpliceExactly(int from, const Endpoint& out, size_t n, PumpStats& stats,
                             Pumping& pumping) {
    return DeliverAll(out, n, stats, pumping, [&](size_t left) {
      return output_.Call(out, stats, pumping, [&](bool nonblocking) {
        return splice(from, nullptr, out.fd, nullptr, left,
                      SPLICE_F_MORE | (nonblocking ? SPLICE_F_NONBLOCK : 0));
      });
    });
  }

  // The input is a pipe (send: FIFO -> socket). Tee n, splice exactly those n, then tap them: the
  // peer reads and the FIFO's writer refills while the inspector parses (sending 1.2x faster
  // than tapping first; bench/RESULTS.md).
  absl::Status FromPipe(const Endpoint& in, const Endpoint& out, const Tap* tap,
                        std::pair<UniqueFd, UniqueFd>& side, PumpStats& stats, Pumping& pumping) {
    for (;;) {
      int available = 0;
      if (ioctl(in.fd, FIONREAD, &available) != 0) return InputError(in, errno);
      if (available == 0) {
        auto r = pumping.WaitInput(in.fd);
        if (!r.ok()) return r.status();
        if (*r == kStopped) return Terminated();
        if (ioctl(in.fd, FIONREAD, &available) != 0) return InputError(in, errno);
        if (available == 0 && (*r & (POLLHUP | POLLERR))) return absl::OkStatus();  // EOF
        if (available == 0) continue;
      }
      size_t n = std::min<size_t>(static_cast<size_t>(available), options_.pipe_bytes);
      if (tap != nullptr) {
        const ssize_t t = tee(in.fd, side.second.get(), n, SPLICE_F_NONBLOCK);
        if (t < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (t <= 0) return ErrnoError(kExitIo, "tee into the inspection pipe", t < 0 ? errno : EIO);
        n = static_cast<size_t>(t);
      }
      if (auto s = SpliceExactly(in.fd, out, n, stats, pumping); !s.ok()) return s;
      if (tap != nullptr) {
        if (auto s = TapTeed(side.first.get(), n, buf_.get(), *tap); !s.ok()) return s;
      }
      if (pumping.stopping()) return Terminated();
    }
  }

  // The input is not a pipe (recv: socket -> FIFO): socket -> mid pipe -> out, tee from mid.
  // With a holdback, the last holdback->bytes stay in the mid pipe until more arrive or EOF.
  absl::Status ThroughPipe(const Endpoint& in, const Endpoint& out, const Tap* tap,
                           std::pair<UniqueFd, UniqueFd>& side, std::pair<UniqueFd, UniqueFd>& mid,
                           PumpStats& stats, Pumping& pumping, Holdback* holdback) {
    const size_t keep = holdback != nullptr ? holdback->bytes : 0;
    size_t in_mid = 0;  // bytes spliced into the mid pipe and not yet out
    for (;;) {
      const ssize_t n = splice(in.fd, nullptr, mid.second.get(), nullptr,
                               options_.pipe_bytes - in_mid, SPLICE_F_NONBLOCK | SPLICE_F_MORE);
      if (n == 0) break;  // the peer half-closed: EOF
      if (n < 0) {
        if (auto s = pumping.AfterFailedRead(in, errno); !s.ok()) return s;
        continue;
      }
      in_mid += static_cast<size_t>(n);
      if (in_mid <= keep) continue;
      const size_t forward = in_mid - keep;
      if (auto s = Forward(mid.first.get(), out, tap, side, forward, stats, pumping); !s.ok())
        return s;
      in_mid -= forward;
      if (pumping.stopping()) return Terminated();
    }
    if (holdback != nullptr) {
      holdback->held.resize(in_mid);
      for (size_t got = 0; got < in_mid;) {
        const ssize_t r = read(mid.first.get(), holdback->held.data() + got, in_mid - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return ErrnoError(kExitIo, "reading the held-back bytes", r < 0 ? errno : EIO);
        got += static_cast<size_t>(r);
      }
    }
    return absl::OkStatus();
  }

  // Moves the first `n` bytes of the pipe `from` to `out`, tapping them once out. tee copies from
  // the head of the pipe: take exactly what was teed out before teeing again.
  absl::Status Forward(int from, const Endpoint& out, const Tap* tap,
                       std::pair<UniqueFd, UniqueFd>& side, size_t n, PumpStats& stats,
                       Pumping& pumping) {
    while (n > 0) {
      size_t chunk = n;
      if (tap != nullptr) {
        const ssize_t t = tee(from, side.second.get(), n, SPLICE_F_NONBLOCK);
        if (t < 0 && errno == EINTR) continue;
        if (t <= 0) return ErrnoError(kExitIo, "tee into the inspection pipe", t < 0 ? errno : EIO);
        chunk = static_cast<size_t>(t);
      }
      if (auto s = SpliceExactly(from, out, chunk, stats, pumping); !s.ok()) return s;
      if (tap != nullptr) {
        if (auto s = TapTeed(side.first.get(), chunk, buf_.get(), *tap); !s.ok()) return s;
      }
      n -= chunk;
    }
    return absl::OkStatus();
  }

  const std::string name_;
  std::unique_ptr<Waiter> waiter_;
  const PumpOptions options_;
  std::unique_ptr<char[]> buf_;
  OutputMode output_;
};

class CopyEngine final : public Engine {
 public:
  explicit CopyEngine(PumpOptions options)
      : waiter_(std::make_unique<EpollWaiter>()),
        options_(options),
        buf_(std::make_unique<char[]>(options.pipe_bytes)) {}

  std::string_view name() const override { return "copy"; }

  absl::Status Pump(const Endpoint& in, const Endpoint& out, const Tap* tap, PumpStats& stats,
                    int stop_fd, Holdback* holdback) override {
    SetNonBlocking(in.fd);
    output_.Setup(out);
    if (in.is_pipe) SetPipeSize(in.fd, options_.pipe_bytes);
    if (out.is_pipe) SetPipeSize(out.fd, options_.pipe_bytes);
    Pumping pumping(*waiter_, stats, stop_fd, options_.drain_timeout);
    const size_t keep = holdback != nullptr ? holdback->bytes : 0;
    size_t held = 0;  // bytes at the front of buf_ kept back from the last read
    if (in.is_pipe) {
      // A FIFO that no writer has opened yet reads as EOF; it polls as nothing until a writer
      // has come (POLLIN) or come and gone (POLLHUP).
      auto r = pumping.WaitInput(in.fd);
      if (!r.ok()) return r.status();
      if (*r == kStopped) return Terminated();
    }
    for (;;) {
      const ssize_t n = read(in.fd, buf_.get() + held, options_.pipe_bytes - held);
      if (n == 0) break;
      if (n < 0) {
        if (auto s = pumping.AfterFailedRead(in, errno); !s.ok()) return s;
        continue;
      }
      const size_t total = held + static_cast<size_t>(n);
      if (total <= keep) {
        held = total;
        continue;
      }
      const size_t forward = total - keep;
      if (tap != nullptr) (*tap)(std::string_view(buf_.get(), forward));
      if (auto s = WriteAll(out, forward, stats, pumping); !s.ok()) return s;
      std::memmove(buf_.get(), buf_.get() + forward, keep);
      held = keep;
      if (pumping.stopping()) return Terminated();
    }
    if (holdback != nullptr) holdback->held.assign(buf_.get(), held);
    return absl::OkStatus();
  }

 private:
  absl::Status WriteAll(const Endpoint& out, size_t n, PumpStats& stats, Pumping& pumping) {
    return DeliverAll(out, n, stats, pumping, [&](size_t left) {
      return output_.Call(out, stats, pumping,
                          [&](bool) { return write(out.fd, buf_.get() + (n - left), left); });
    });
  }

  std::unique_ptr<Waiter> waiter_;
  const PumpOptions options_;
  std::unique_ptr<char[]> buf_;
  OutputMode output_;
};

// Bytes moved by IORING_OP_SPLICE and IORING_OP_TEE themselves. The kernel punts both to io-wq
// workers (they have no poll-retry), so the fds are left blocking and each op occupies a
// worker until it completes. Kept to measure against the poll-driven engine; see
// bench/RESULTS.md for which is faster.
class UringOpsEngine final : public Engine {
 public:
  UringOpsEngine(io_uring ring, PumpOptions options)
      : ring_(ring), options_(options), buf_(std::make_unique<char[]>(kTapReadBytes)) {}
  ~UringOpsEngine() override { io_uring_queue_exit(&ring_); }

  std::string_view name() const override { return "uring-ops"; }

  absl::Status Pump(const Endpoint& in, const Endpoint& out, const Tap* tap, PumpStats& stats,
                    int stop_fd, Holdback* holdback) override {
    if (holdback != nullptr && holdback->bytes > 0) {
      return RelayError(
          kExitUsage, "--engine=uring-ops does not support the end marker; use --insecure-no-auth");
    }
    (void)stop_fd;  // blocking ops: SIGTERM ends the process through the default path
    fcntl(in.fd, F_SETFL, fcntl(in.fd, F_GETFL) & ~O_NONBLOCK);
    fcntl(out.fd, F_SETFL, fcntl(out.fd, F_GETFL) & ~O_NONBLOCK);
    if (in.is_pipe) SetPipeSize(in.fd, options_.pipe_bytes);
    if (out.is_pipe) SetPipeSize(out.fd, options_.pipe_bytes);
    std::pair<UniqueFd, UniqueFd> side, mid;
    if (tap != nullptr) {
      auto p = MakePipe(options_.pipe_bytes);
      if (!p.ok()) return p.status();
      side = std::move(*p);
      // tee(2) turns non-blocking when either pipe is O_NONBLOCK.
      fcntl(side.first.get(), F_SETFL, 0);
      fcntl(side.second.get(), F_SETFL, 0);
    }
    if (in.is_pipe) {
      // A FIFO no writer has opened yet tees and splices as EOF: wait for the writer first.
      pollfd p{in.fd, POLLIN, 0};
      while (poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
    }
    int from = in.fd;
    if (!in.is_pipe) {
      auto p = MakePipe(options_.pipe_bytes);
      if (!p.ok()) return p.status();
      mid = std::move(*p);
      fcntl(mid.first.get(), F_SETFL, 0);
      fcntl(mid.second.get(), F_SETFL, 0);
      from = mid.first.get();
    }
    for (;;) {
      size_t n;
      if (!in.is_pipe) {  // socket -> mid pipe
        const ssize_t r =
            Op(IORING_OP_SPLICE, in.fd, mid.second.get(), options_.pipe_bytes, stats.input_wait_ns);
        if (r < 0) return InputError(in, static_cast<int>(-r));
        if (r == 0) return absl::OkStatus();
        n = static_cast<size_t>(r);
      } else if (tap != nullptr) {  // tee from the FIFO waits for its bytes
        const ssize_t r =
            Op(IORING_OP_TEE, in.fd, side.second.get(), options_.pipe_bytes, stats.input_wait_ns);
        if (r < 0) return InputError(in, static_cast<int>(-r));
        if (r == 0) return absl::OkStatus();
        n = static_cast<size_t>(r);
      } else {
        n = options_.pipe_bytes;  // splice whatever comes
      }
      if (tap != nullptr && !in.is_pipe) {
        const ssize_t t = Op(IORING_OP_TEE, from, side.second.get(), n, stats.input_wait_ns);
        if (t <= 0)
          return ErrnoError(kExitIo, "tee into the inspection pipe",
                            t < 0 ? static_cast<int>(-t) : EIO);
        n = static_cast<size_t>(t);
      }
      if (tap != nullptr) {
        if (auto s = TapTeed(side.first.get(), n, buf_.get(), *tap); !s.ok()) return s;
      }
      const bool exact = tap != nullptr || !in.is_pipe;
      for (size_t left = n; left > 0;) {
        const ssize_t m = Op(IORING_OP_SPLICE, from, out.fd, left, stats.output_wait_ns);
        if (m < 0) return OutputError(out, static_cast<int>(-m));
        if (m == 0) {
          if (!exact) return absl::OkStatus();  // FIFO EOF
          return RelayError(kExitIo, "splice moved nothing from a pipe that had bytes");
        }
        stats.bytes += static_cast<uint64_t>(m);
        ++stats.transfers;
        if (!exact) break;
        left -= static_cast<size_t>(m);
      }
    }
  }

 private:
  // One op, waited for: its result, or -errno.
  ssize_t Op(io_uring_op op, int from, int to, size_t len, std::atomic<uint64_t>& wait_ns) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (op == IORING_OP_TEE) {
      io_uring_prep_tee(sqe, from, to, static_cast<unsigned>(len), 0);
    } else {
      io_uring_prep_splice(sqe, from, -1, to, -1, static_cast<unsigned>(len), SPLICE_F_MORE);
    }
    const absl::Time start = absl::Now();
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc >= 0) rc = io_uring_wait_cqe(&ring_, &cqe);
    wait_ns += static_cast<uint64_t>(absl::ToInt64Nanoseconds(absl::Now() - start));
    if (rc < 0) return rc;
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return res;
  }

  io_uring ring_;
  const PumpOptions options_;
  std::unique_ptr<char[]> buf_;
};

}  // namespace

bool IoUringAvailable(std::string* why) {
  io_uring ring;
  const int rc = io_uring_queue_init(4, &ring, 0);
  if (rc < 0) {
    *why = std::string("io_uring_setup: ") + std::strerror(-rc);
    return false;
  }
  io_uring_queue_exit(&ring);
  return true;
}

std::optional<EngineKind> ParseEngineKind(std::string_view text) {
  for (const EngineKind k : {EngineKind::kAuto, EngineKind::kUring, EngineKind::kSplice,
                             EngineKind::kCopy, EngineKind::kUringOps}) {
    if (text == EngineKindName(k)) return k;
  }
  return std::nullopt;
}

std::string_view EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kAuto:
      return "auto";
    case EngineKind::kUring:
      return "uring";
    case EngineKind::kSplice:
      return "splice";
    case EngineKind::kCopy:
      return "copy";
    case EngineKind::kUringOps:
      return "uring-ops";
  }
  return "auto";
}

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(EngineKind requested, Route route,
                                                     PumpOptions options, std::string* reason) {
  const bool splice_possible = route != Route::kNoPipe;
  const auto uring = [&]() -> absl::StatusOr<std::unique_ptr<Engine>> {
    io_uring ring;
    const int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) return ErrnoError(kExitUsage, "--engine=uring: io_uring_setup failed", -rc);
    return std::make_unique<SpliceEngine>("uring", std::make_unique<UringPollWaiter>(ring),
                                          options);
  };
  const auto splice = [&]() -> std::unique_ptr<Engine> {
    return std::make_unique<SpliceEngine>("splice", std::make_unique<EpollWaiter>(), options);
  };
  const std::string name(EngineKindName(requested));
  if (requested != EngineKind::kAuto && requested != EngineKind::kCopy && !splice_possible) {
    return RelayError(kExitUsage,
                      "--engine=" + name + " needs a pipe at one end; use --engine=copy or auto");
  }
  switch (requested) {
    case EngineKind::kCopy:
      *reason = "requested with --engine=copy";
      return std::make_unique<CopyEngine>(options);
    case EngineKind::kSplice:
      *reason = "requested with --engine=splice";
      return splice();
    case EngineKind::kUring:
      *reason = "requested with --engine=uring";
      return uring();
    case EngineKind::kUringOps: {  // for measurement: bytes moved by IORING_OP_SPLICE/TEE
      io_uring ring;
      const int rc = io_uring_queue_init(8, &ring, 0);
      if (rc < 0) return ErrnoError(kExitUsage, "--engine=uring-ops: io_uring_setup failed", -rc);
      *reason = "requested with --engine=uring-ops";
      return std::make_unique<UringOpsEngine>(ring, options);
    }
    case EngineKind::kAuto:
      break;
  }
  if (!splice_possible) {
    *reason = "neither end is a pipe, so nothing can be spliced: read/write";
    return std::make_unique<CopyEngine>(options);
  }
  if (route == Route::kPipeToSocket) {
    *reason =
        "FIFO to a socket: tee for the inspector and splice measured cheaper than read/write "
        "(bench/RESULTS.md)";
    return splice();
  }
  std::string why;
  if (!IoUringAvailable(&why)) {
    *reason = "io_uring unavailable (" + why + "): epoll + splice";
    return splice();
  }
  *reason = "io_uring available";
  return uring();
}

}  // namespace sluice::dataplane
