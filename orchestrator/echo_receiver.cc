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
    const Options& options, const SyncProgress& progress, protocol::InspectorObserver* observer,
    absl::Time deadline) {
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
      "--listen=" + dataplane::Address{options.listen_host, 0}.ToString(),
      "--report-to=" + options.report_to,
      "--secret-file=" + secret,
      absl::StrCat("--engine=", std::string(dataplane::EngineKindName(options.spec.engine))),
      "--linger-timeout=" + absl::FormatDuration(options.spec.stall_timeout)};
  recv.stderr_path = echo->dir_ + "/relay-recv.log";
  set.containers.push_back(std::move(recv));
  if (auto s = echo->group_.Start(set, deadline); !s.ok()) return s;
  // The FIFO exists (the init made it) and the relay opens it only once the destination's relay
  // connects: the keeper reads it from the start.
  auto keeper =
      StateKeeper::Start(fifo, options.spec.state_file, options.state_write_interval, observer);
  if (!keeper.ok()) return keeper.status();
  echo->keeper_ = std::move(*keeper);
  const auto port = AwaitReportedPort(&progress, {relay, "echo"}, deadline, [&] {
    return echo->group_.IsRunning(PodName(options.spec), "relay-recv");
  });
  if (!port.ok()) {
    // The status says whether the relay exited or the deadline passed.
    return absl::DeadlineExceededError(
        absl::StrCat("the orchestrator's relay (", port.status().message(), "): ", echo->Logs(5)));
  }
  echo->address_ = dataplane::Address{options.host, static_cast<uint16_t>(*port)}.ToString();
  return echo;
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
