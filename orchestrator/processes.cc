#include "orchestrator/processes.h"

#include <absl/status/statusor.h>
#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

namespace sluice::orchestrator {
namespace {

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// In the child, before exec. It does not allocate: argv and the environment are prepared by
// the parent.
[[noreturn]] void Exec(const std::vector<char*>& argv, const std::vector<char*>& envp,
                       const std::string& stdin_path, const std::string& stdout_path,
                       const std::string& stderr_path, int listen_fd, pid_t parent) {
  // Pods do not outlive the orchestrator, even one killed with SIGKILL; and the orchestrator's
  // signal handlers are not the container's (a SIGTERM must end a child blocked opening a FIFO).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  setpgid(0, 0);  // a group of its own: signals reach what the container starts, too
  if (getppid() != parent) _exit(137);  // the orchestrator died before the line above
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  // First, so that the descriptors opened below do not take its number. dup2 leaves the copy
  // without close-on-exec; a descriptor that already has the number needs the flag cleared.
  if (listen_fd >= 0 &&
      (listen_fd == kInheritedListenFd ? fcntl(listen_fd, F_SETFD, 0)
                                       : dup2(listen_fd, kInheritedListenFd)) < 0) {
    dprintf(STDERR_FILENO, "sluice: cannot pass a listening socket to a container: %s\n",
            std::strerror(errno));
    _exit(126);
  }
  const auto redirect = [](const std::string& path, int flags, int target) {
    if (path.empty()) return;
    const int fd = open(path.c_str(), flags | O_CLOEXEC, 0640);
    if (fd < 0 || dup2(fd, target) < 0) {
      dprintf(STDERR_FILENO, "sluice: cannot open %s for a container: %s\n", path.c_str(),
              std::strerror(errno));
      _exit(126);
    }
  };
  // The order of the old sidecar design: stdin, then stdout, then stderr.
  if (stdin_path.empty()) {
    redirect("/dev/null", O_RDONLY, STDIN_FILENO);
  } else {
    redirect(stdin_path, O_RDONLY, STDIN_FILENO);
  }
  redirect(stdout_path, O_WRONLY | O_CREAT | O_APPEND, STDOUT_FILENO);
  redirect(stderr_path, O_WRONLY | O_CREAT | O_APPEND, STDERR_FILENO);
  signal(SIGPIPE, SIG_DFL);
  execvpe(argv[0], argv.data(), envp.data());
  dprintf(STDERR_FILENO, "sluice: cannot run %s: %s\n", argv[0], std::strerror(errno));
  _exit(127);
}

// Sleeps until one of `exit_fds` is readable (its process exited), a signal comes or
// `deadline`; at most 5 ms when some child has no such fd (-1, which poll passes over).
void SleepUntilExit(std::vector<pollfd> exit_fds, absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (std::any_of(exit_fds.begin(), exit_fds.end(), [](const pollfd& p) { return p.fd < 0; })) {
    left = std::min(left, absl::Milliseconds(5));
  }
  if (left <= absl::ZeroDuration()) return;
  const timespec timeout = absl::ToTimespec(left);
  ppoll(exit_fds.data(), exit_fds.size(), left == absl::InfiniteDuration() ? nullptr : &timeout,
        nullptr);
}

}  // namespace

ProcessGroup::~ProcessGroup() {
  SignalAll(SIGKILL);
  for (const Child& c : children_) waitpid(c.pid, nullptr, 0);
}

absl::StatusOr<ProcessGroup::Child> ProcessGroup::Spawn(const Process& c) {
  if (c.argv.empty()) return absl::InvalidArgumentError(c.name + ": empty command");
  std::vector<char*> argv;
  for (const std::string& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The inherited environment, less the variables the container sets, plus those.
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool overridden = false;
    for (const auto& [name, value] : c.env) {
      overridden |= entry.size() > name.size() && entry.substr(0, name.size()) == name &&
                    entry[name.size()] == '=';
    }
    if (!overridden) env_text.emplace_back(entry);
  }
  for (const auto& [name, value] : c.env) env_text.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) Exec(argv, envp, c.stdin_path, c.stdout_path, c.stderr_path, c.listen_fd, parent);
  // Not yet reaped, so the pid is still this child's. (bookworm's <sys/pidfd.h> declares
  // pidfd_open without C linkage, so the system call is made directly.)
  const int exit_fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return Child{pid, "", c.name, c.is_main, dataplane::UniqueFd(exit_fd)};
}

absl::Status ProcessGroup::Start(const ProcessSet& pod, absl::Time init_deadline) {
  for (const Process& c : pod.init_containers) {
    auto child = Spawn(c);
    if (!child.ok()) return child.status();
    const pid_t pid = child->pid;
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) break;
      if (absl::Now() > init_deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return absl::DeadlineExceededError(
            absl::StrCat(pod.name, ": init container ", c.name, " did not finish in time"));
      }
      SleepUntilExit({{child->exit_fd.get(), POLLIN, 0}}, init_deadline);
    }
    if (const int code = ExitCodeOf(status); code != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(pod.name, ": init container ", c.name, " exited ", code));
    }
  }
  for (const Process& c : pod.containers) {
    auto child = Spawn(c);
    if (!child.ok()) return child.status();
    child->pod = pod.name;
    children_.push_back(std::move(*child));
  }
  return absl::OkStatus();
}

std::vector<Exited> ProcessGroup::WaitAny(absl::Time deadline) {
  for (;;) {
    std::vector<Exited> exited;
    for (size_t i = 0; i < children_.size();) {
      int status = 0;
      if (waitpid(children_[i].pid, &status, WNOHANG) == children_[i].pid) {
        exited.push_back(
            {children_[i].pod, children_[i].container, children_[i].is_main, ExitCodeOf(status)});
        children_.erase(children_.begin() + static_cast<ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    if (!exited.empty() || children_.empty() || absl::Now() >= deadline) return exited;
    // Each exit is a step of the sync (the next pod starts, EOF passes on, the verdict is
    // made), so wake with it. A signal only interrupts the sleep: the caller checks its own
    // flags between calls, and gives a deadline for that.
    std::vector<pollfd> exit_fds;
    for (const Child& c : children_) exit_fds.push_back({c.exit_fd.get(), POLLIN, 0});
    SleepUntilExit(std::move(exit_fds), deadline);
  }
}

void ProcessGroup::SignalAll(int sig) {
  for (const Child& c : children_) {
    if (kill(-c.pid, sig) != 0) kill(c.pid, sig);  // before its setpgid, the child alone
  }
}

void ProcessGroup::Signal(const std::string& pod, const std::string& container, int sig) {
  for (const Child& c : children_) {
    if (c.pod == pod && c.container == container && kill(-c.pid, sig) != 0) kill(c.pid, sig);
  }
}

bool ProcessGroup::IsRunning(const std::string& pod, const std::string& container) const {
  for (const Child& c : children_) {
    if (c.pod != pod || c.container != container) continue;
    // Exited but not yet reaped is not running: a relay that died while the start waits for
    // its port ends the wait at once, not at the start's deadline. WNOWAIT leaves the exit
    // for WaitAny to report.
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
           info.si_pid != c.pid;
  }
  return false;
}

}  // namespace sluice::orchestrator
