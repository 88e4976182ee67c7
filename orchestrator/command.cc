#include "orchestrator/command.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice::orchestrator {

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Time deadline) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCommand: empty command");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);
    if (getppid() != parent) _exit(137);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_IGN);  // the orchestrator decides what an interrupt stops
    signal(SIGPIPE, SIG_DFL);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, STDIN_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  CommandResult result;
  constexpr size_t kMaxOutput = 1 << 20;
  // Reads what is there; false at the end of the output.
  const auto drain = [&]() {
    char buf[16384];
    for (;;) {
      const ssize_t r = read(fds[0], buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return errno == EAGAIN;
      if (r == 0) return false;
      result.output.append(buf, static_cast<size_t>(r));
      if (result.output.size() > 2 * kMaxOutput) {
        result.output.erase(0, result.output.size() - kMaxOutput);
      }
    }
  };
  // Until the command exits: what it leaves running (podman's conmon) may hold the pipe open.
  bool timed_out = false, open = true;
  int status = 0;
  for (;;) {
    if (open) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 20) > 0) open = drain();
    } else {
      usleep(20000);
    }
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (open) drain();
      break;
    }
    if (absl::Now() >= deadline) {
      timed_out = true;
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
  }
  close(fds[0]);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("`", absl::StrJoin(argv, " "), "` did not finish in time"));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.output.size() > kMaxOutput) result.output.erase(0, result.output.size() - kMaxOutput);
  return result;
}

}  // namespace sluice::orchestrator
