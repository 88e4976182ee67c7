#include "orchestrator/echo_receiver.h"

#include <absl/strings/str_cat.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/files.h"
#include "dataplane/engine.h"
#include "dataplane/net.h"
#include "orchestrator/backend.h"

namespace sluice::orchestrator {

absl::StatusOr<std::unique_ptr<EchoReceiver>> EchoReceiver::Start(
    const Options& options, protocol::InspectorObserver* observer, absl::Time deadline) {
  std::unique_ptr<EchoReceiver> echo(new EchoReceiver());
  echo->dir_ = options.workdir + "/orchestrator";
  if (mkdir(echo->dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", echo->dir_, ": ", std::strerror(errno)));
  }
  const std::string fifo = echo->dir_ + "/destination-stdout";
  const std::string secret = echo->dir_ + "/relay-secret";
  if (auto s = base::WriteFileAtomically(secret, options.secret, 0400); !s.ok()) return s;
  const std::string relay = RelayName(options.spec);

  ProcessSet set;
  set.name = PodName(options.spec);
  Process init;
  init.name = "init";
  init.argv = {options.relay_path, "init", fifo};
  set.init_containers.push_back(std::move(init));
  Process recv;
  recv.name = "relay-recv";
  recv.argv = {
      options.relay_path,
      "recv",
      "--name=" + relay,
      "--fifo=" + fifo,
      absl::StrCat("--listen-fd=", kInheritedListenFd),
      "--report-to=" + options.report_to,
      "--secret-file=" + secret,
      absl::StrCat("--engine=", std::string(dataplane::EngineKindName(options.spec.engine))),
      "--linger-timeout=" + absl::FormatDuration(options.spec.stall_timeout)};
  recv.stderr_path = echo->dir_ + "/relay-recv.log";
  // Bound here, so that the destination's relay knows where to connect before this one runs:
  // the pods start without waiting for it. Its own copy is the only one once it started, so a
  // relay that dies refuses connections instead of leaving them queued.
  auto listener = dataplane::Listen({options.listen_host, 0});
  if (!listener.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the orchestrator's relay: ", listener.status().message()));
  }
  recv.listen_fd = listener->get();
  echo->address_ =
      dataplane::Address{options.host, dataplane::LocalPort(listener->get())}.ToString();
  set.containers.push_back(std::move(recv));
  if (auto s = echo->group_.Start(set, deadline); !s.ok()) return s;
  listener->reset();
  // The FIFO exists (the init made it) and the relay opens it only once the destination's relay
  // connects: the keeper reads it from the start.
  auto keeper =
      StateKeeper::Start(fifo, options.spec.state_file, options.state_write_interval, observer);
  if (!keeper.ok()) return keeper.status();
  echo->keeper_ = std::move(*keeper);
  echo->relay_ = relay;
  echo->pod_ = set.name;
  return echo;
}

absl::Status EchoReceiver::AwaitListening(const ListeningPorts& ports, absl::Time deadline) {
  const auto port = AwaitReportedPort(&ports, {relay_, "echo"}, deadline,
                                      [&] { return group_.IsRunning(pod_, "relay-recv"); });
  if (port.ok()) return absl::OkStatus();
  // The status says whether the relay exited or the deadline passed.
  return absl::DeadlineExceededError(
      absl::StrCat("the orchestrator's relay (", port.status().message(), "): ", Logs(5)));
}

EchoReceiver::~EchoReceiver() {
  group_.SignalAll(SIGKILL);
  while (group_.running() > 0) group_.WaitAny(absl::InfiniteFuture());
  unlink((dir_ + "/relay-secret").c_str());
}

std::string EchoReceiver::Logs(size_t lines) const {
  return base::LastLines(base::ReadFile(dir_ + "/relay-recv.log"), lines);
}

StateKeeper::Outcome EchoReceiver::Finish() { return keeper_->Finish(); }

}  // namespace sluice::orchestrator
