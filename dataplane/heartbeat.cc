#include "dataplane/heartbeat.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "dataplane/relay_error.h"

namespace sluice::dataplane {

uint64_t PipeUnread(int pipe_fd) {
  int n = 0;
  if (ioctl(pipe_fd, FIONREAD, &n) != 0 || n < 0) return 0;
  return static_cast<uint64_t>(n);
}

ProgressBeacon::ProgressBeacon(int socket_fd, int fifo_fd, const PumpStats& stats,
                               absl::Duration interval)
    : socket_fd_(socket_fd),
      fifo_fd_(fifo_fd),
      stats_(stats),
      interval_(interval),
      thread_([this] { Run(); }) {}

ProgressBeacon::~ProgressBeacon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ProgressBeacon::Run() {
  uint64_t last_bytes = stats_.bytes.load(), last_unread = PipeUnread(fifo_fd_);
  const auto wait = std::chrono::nanoseconds(absl::ToInt64Nanoseconds(interval_));
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, wait, [this] { return stop_; })) {
    const uint64_t bytes = stats_.bytes.load(), unread = PipeUnread(fifo_fd_);
    if (bytes == last_bytes && unread == last_unread) continue;  // nothing moved
    last_bytes = bytes;
    last_unread = unread;
    const char beat = 0;
    // Never blocks the beacon: a full send buffer means a beat is already on its way.
    [[maybe_unused]] const ssize_t n = send(socket_fd_, &beat, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

PeerProgress::PeerProgress(int socket_fd, int stop_fd) : socket_fd_(socket_fd), stop_fd_(stop_fd) {
  int fds[2] = {-1, -1};
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_.reset(fds[0]);
    wake_write_.reset(fds[1]);
  }
  thread_ = std::thread([this] { Run(); });
}

PeerProgress::~PeerProgress() {
  const char c = 1;
  [[maybe_unused]] const ssize_t n = write(wake_write_.get(), &c, 1);
  thread_.join();
}

absl::Time PeerProgress::LastProgress(absl::Time floor) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::max(last_, floor);
}

void PeerProgress::Run() {
  char buf[4096];
  for (;;) {
    pollfd fds[3] = {{socket_fd_, POLLIN, 0}, {wake_read_.get(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int n = poll(fds, stop_fd_ >= 0 ? 3 : 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return;
    if (stop_fd_ >= 0 && (fds[2].revents & POLLIN)) {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      cv_.notify_all();
      return;
    }
    const ssize_t r = recv(socket_fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (r > 0) {
      last_ = absl::Now();
    } else if (r == 0) {
      closed_ = true;
    } else {
      error_ = errno;
    }
    cv_.notify_all();
    if (r <= 0) return;
  }
}

absl::Status PeerProgress::WaitForClose(absl::Duration timeout) {
  const absl::Time start = absl::Now();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (closed_) return absl::OkStatus();
    if (error_ != 0) return ErrnoError(kExitPeerLost, "waiting for the peer to close", error_);
    if (stopped_) return RelayError(kExitTerminated, "terminated while waiting for the peer to close");
    const absl::Time deadline = std::max(last_, start) + timeout;
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return RelayError(kExitLingerTimeout,
                        "every byte was sent but the peer showed no progress and did not close the "
                        "connection within " +
                            absl::FormatDuration(timeout));
    }
    cv_.wait_for(lock, std::chrono::nanoseconds(absl::ToInt64Nanoseconds(deadline - now)));
  }
}

}  // namespace sluice::dataplane
