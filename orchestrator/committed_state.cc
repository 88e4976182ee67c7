#include "orchestrator/committed_state.h"

#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/files.h"
#include "base/mutex.h"
#include "protocol/inspector.h"

namespace sluice::orchestrator {

CommittedState CommittedStateOf(const protocol::InspectorStats& stats) {
  CommittedState out;
  out.echoed = stats.type(protocol::MessageType::kState).count;
  std::string json = "[";
  const auto keep = [&](const std::optional<protocol::KeptState>& k) {
    if (!k) return;
    if (!k->kept) {
      out.complete = false;
      return;
    }
    absl::StrAppend(&json, out.messages > 0 ? "," : "", k->raw);
    ++out.messages;
  };
  keep(stats.latest_global);
  for (const auto& [id, s] : stats.streams) keep(s.latest_state);
  keep(stats.latest_legacy);
  if (stats.untracked.states > 0 || stats.oversize_states > 0) out.complete = false;
  out.json = json + "]\n";
  return out;
}

class StateKeeper::Impl {
 public:
  Impl(int fifo_fd, int stop_read, int stop_write, std::string state_file, absl::Duration every,
       protocol::InspectorObserver* observer)
      : inspector_({.observer = observer}),
        fifo_fd_(fifo_fd),
        stop_read_(stop_read),
        stop_write_(stop_write),
        state_file_(std::move(state_file)),
        every_(every) {
    thread_ = std::thread([this] { Run(); });
  }

  ~Impl() {
    Stop();
    close(fifo_fd_);
    close(stop_read_);
    close(stop_write_);
  }

  Outcome Finish() {
    Stop();
    Outcome out;
    out.stats = inspector_.Snapshot();
    out.state = CommittedStateOf(out.stats);
    base::MutexLock lock(&mu_);
    Write(out.state);
    out.written = written_;
    return out;
  }

 private:
  void Stop() {
    if (!thread_.joinable()) return;
    const char c = 1;
    [[maybe_unused]] const ssize_t n = write(stop_write_, &c, 1);
    thread_.join();
    inspector_.Finish();
  }

  void Run() {
    char buf[1 << 16];
    absl::Time next_write = absl::InfinitePast(), next_check = absl::InfinitePast();
    uint64_t written_states = 0;
    bool stopping = false;
    for (;;) {
      // Until stopped: wait for bytes. Once stopped: take what is in the pipe, then end.
      pollfd fds[2] = {{fifo_fd_, POLLIN, 0}, {stop_read_, POLLIN, 0}};
      const int n = poll(fds, 2, stopping ? 0 : 200);
      if (n < 0 && errno == EINTR) continue;
      if (fds[1].revents & POLLIN) stopping = true;
      if (fds[0].revents & (POLLIN | POLLHUP)) {
        const ssize_t r = read(fifo_fd_, buf, sizeof buf);
        if (r > 0) {
          inspector_.Consume(std::string_view(buf, static_cast<size_t>(r)));
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          return;  // the writer is gone: everything it wrote was read
        }
      } else if (stopping) {
        return;
      }
      // Persist what was newly committed, at most once per `every_`, looking at most every
      // 100 ms (without copying the state text) whether there is anything new.
      const absl::Time now = absl::Now();
      if (now < next_check) continue;
      next_check = now + absl::Milliseconds(100);
      const uint64_t states =
          inspector_.Snapshot(/*state_text=*/false).type(protocol::MessageType::kState).count;
      if (states == written_states || now < next_write) continue;
      const protocol::InspectorStats stats = inspector_.Snapshot();
      written_states = stats.type(protocol::MessageType::kState).count;
      next_write = now + every_;
      base::MutexLock lock(&mu_);
      Write(CommittedStateOf(stats));
    }
  }

  void Write(const CommittedState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (state_file_.empty() || state.echoed == 0) return;  // nothing committed: nothing to say
    written_ = base::WriteFileAtomically(state_file_, state.json);
  }

  protocol::Inspector inspector_;  // thread-safe: Consume on the reader, Snapshot anywhere
  const int fifo_fd_;
  const int stop_read_;
  const int stop_write_;
  const std::string state_file_;
  const absl::Duration every_;
  base::Mutex mu_;
  absl::Status written_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<StateKeeper>> StateKeeper::Start(const std::string& fifo,
                                                                std::string state_file,
                                                                absl::Duration every,
                                                                protocol::InspectorObserver* observer) {
  // Non-blocking: a FIFO with no writer yet polls as nothing until one comes (POLLIN) or comes
  // and goes (POLLHUP).
  const int fd = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", fifo, " for the destination's output: ", std::strerror(errno)));
  }
  int stop[2];
  if (pipe2(stop, O_CLOEXEC | O_NONBLOCK) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  return std::unique_ptr<StateKeeper>(new StateKeeper(
      std::make_unique<Impl>(fd, stop[0], stop[1], std::move(state_file), every, observer)));
}

StateKeeper::StateKeeper(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateKeeper::~StateKeeper() = default;
StateKeeper::Outcome StateKeeper::Finish() { return impl_->Finish(); }

}  // namespace sluice::orchestrator
