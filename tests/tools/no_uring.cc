// no-uring: runs a command with io_uring_setup(2) failing, as under the default seccomp
// profiles of Docker, containerd and podman (EPERM) or under gVisor (ENOSYS).
//
//   no-uring [--errno=EPERM|ENOSYS|EINVAL] COMMAND [ARGS...]

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int err = EPERM;
  int first = 1;
  if (argc > 1 && strncmp(argv[1], "--errno=", 8) == 0) {
    const char* name = argv[1] + 8;
    err = strcmp(name, "ENOSYS") == 0 ? ENOSYS : strcmp(name, "EINVAL") == 0 ? EINVAL : EPERM;
    first = 2;
  }
  if (first >= argc) {
    fprintf(stderr, "usage: no-uring [--errno=EPERM|ENOSYS|EINVAL] COMMAND [ARGS...]\n");
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    perror("no-uring: installing the seccomp filter");
    return 1;
  }
  execvp(argv[first], argv + first);
  perror("no-uring: exec");
  return 127;
}
