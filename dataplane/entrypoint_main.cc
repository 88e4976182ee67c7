// sluice-entrypoint: runs a connector with its standard streams on the pod's FIFOs, in images
// that have no shell (FROM scratch). The classic pod ran `sh -c 'connector <in >out 2>err'`,
// which assumes a shell in every connector image; this binary, static and self-contained, is
// copied into the pod's shared volume by the init container (`sluice-relay init
// --install-entrypoint=PATH`), and the main container runs it, as Tekton and Argo run user
// images.
//
//   sluice-entrypoint [--stdin=FIFO] [--stdout=FIFO] [--stderr=FIFO] [--exit-code-file=PATH]
//                     -- CONNECTOR [ARGS...]
//
// The FIFOs are opened in the classic order (stdin, stdout, stderr), each blocking until its
// relay has the other end. Outside a container's PID namespace and without --exit-code-file,
// the connector replaces this process (its exit code is the container's). As a container's
// PID 1, it stays, as tini does: the kernel delivers to PID 1 no signal it has no handler for,
// so a connector run as PID 1 would ignore SIGTERM and SIGPIPE (a write to a FIFO whose relay
// died would only fail, and a connector may then exit 1 as if it had failed on its own). The
// connector runs as a child instead; the signals sent to the container are forwarded to it,
// orphans are reaped, and its exit code (128 + the signal number when a signal ended it) is
// returned. With --exit-code-file that code is also written to PATH: a backend that cannot read
// a container's exit status reads the file.
//
// Exit codes of its own: 2 usage, 126 a FIFO cannot be opened, 127 the connector cannot run.
// Plain C and POSIX on purpose: it links statically, with nothing else in the image.

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr char kUsage[] =
    "usage: sluice-entrypoint [--stdin=FIFO] [--stdout=FIFO] [--stderr=FIFO] "
    "[--exit-code-file=PATH] -- CONNECTOR [ARGS...]\n";

int Usage(const char* error) {
  dprintf(STDERR_FILENO, "sluice-entrypoint: %s\n%s", error, kUsage);
  return 2;
}

// Opens `path` onto `target`; on failure says which and returns false.
bool Redirect(const char* path, int flags, int target) {
  if (path == nullptr) return true;
  int fd;
  do {
    fd = open(path, flags | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0 || dup2(fd, target) < 0) {
    dprintf(STDERR_FILENO, "sluice-entrypoint: cannot open %s: %s\n", path, strerror(errno));
    return false;
  }
  if (fd != target) close(fd);
  return true;
}

// Writes `code` to `path` through a temporary file and a rename.
bool WriteExitCode(const char* path, int code) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= static_cast<int>(sizeof tmp)) return false;
  const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  char text[16];
  const int n = snprintf(text, sizeof text, "%d\n", code);
  const bool ok = write(fd, text, static_cast<size_t>(n)) == n && fsync(fd) == 0;
  close(fd);
  return ok && rename(tmp, path) == 0;
}

volatile pid_t child = 0;

void Forward(int sig) {
  if (child > 0) kill(child, sig);
}

}  // namespace

int main(int argc, char** argv) {
  const char* in = nullptr;
  const char* out = nullptr;
  const char* err = nullptr;
  const char* exit_file = nullptr;
  int i = 1;
  for (; i < argc; ++i) {
    const char* a = argv[i];
    if (strcmp(a, "--") == 0) {
      ++i;
      break;
    }
    if (strncmp(a, "--stdin=", 8) == 0) {
      in = a + 8;
    } else if (strncmp(a, "--stdout=", 9) == 0) {
      out = a + 9;
    } else if (strncmp(a, "--stderr=", 9) == 0) {
      err = a + 9;
    } else if (strncmp(a, "--exit-code-file=", 17) == 0) {
      exit_file = a + 17;
    } else {
      return Usage("unknown argument before --");
    }
  }
  if (i >= argc) return Usage("give the connector's command after --");
  // The classic order: stdin, then stdout, then stderr (each waits for its relay).
  if (!Redirect(in != nullptr ? in : "/dev/null", O_RDONLY, STDIN_FILENO) ||
      !Redirect(out, O_WRONLY, STDOUT_FILENO) || !Redirect(err, O_WRONLY, STDERR_FILENO)) {
    return 126;
  }
  if (exit_file == nullptr && getpid() != 1) {
    execvp(argv[i], argv + i);
    dprintf(STDERR_FILENO, "sluice-entrypoint: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
  }
  const pid_t pid = fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    execvp(argv[i], argv + i);
    dprintf(STDERR_FILENO, "sluice-entrypoint: cannot run %s: %s\n", argv[i], strerror(errno));
    _exit(127);
  }
  // Signals meant for the container (sent to this process, its PID 1) reach the connector.
  child = pid;
  struct sigaction forward = {};
  forward.sa_handler = Forward;
  sigaction(SIGTERM, &forward, nullptr);
  sigaction(SIGINT, &forward, nullptr);
  sigaction(SIGHUP, &forward, nullptr);
  int status = 0;
  for (;;) {  // as PID 1, orphans of the connector's are ours to reap too
    const pid_t reaped = waitpid(-1, &status, 0);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) break;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (exit_file != nullptr && !WriteExitCode(exit_file, code)) {
    dprintf(STDERR_FILENO, "sluice-entrypoint: cannot write the exit code to %s: %s\n", exit_file,
            strerror(errno));
  }
  return code;
}
