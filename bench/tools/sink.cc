// sink: the benchmark's reader. Accepts one TCP connection (or opens a FIFO) and splices
// everything into /dev/null through a 1 MiB pipe, so the reader is never what limits a case.
// Prints the bytes received, then exits.
//
//   sink --listen=127.0.0.1:9001      (prints "listening PORT" first)
//   sink --fifo=/pipes/stdin

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  std::string listen_addr, fifo;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--listen=", 0) == 0)
      listen_addr = a.substr(9);
    else if (a.rfind("--fifo=", 0) == 0)
      fifo = a.substr(7);
  }
  if (listen_addr.empty() == fifo.empty()) {
    std::fprintf(stderr, "usage: sink (--listen=HOST:PORT | --fifo=PATH)\n");
    return 2;
  }
  int in;
  if (!fifo.empty()) {
    in = open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
  } else {
    const size_t colon = listen_addr.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(listen_addr.c_str() + colon + 1)));
    inet_pton(AF_INET, listen_addr.substr(0, colon).c_str(), &addr.sin_addr);
    const int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(l, 1) != 0) {
      std::perror("sink: listen");
      return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len);
    std::printf("listening %d\n", ntohs(addr.sin_port));
    std::fflush(stdout);
    in = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    close(l);
  }
  if (in < 0) {
    std::perror("sink: open");
    return 1;
  }
  const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return 1;
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  unsigned long long total = 0;
  for (;;) {
    const ssize_t n = splice(in, nullptr, p[1], nullptr, 1 << 20, SPLICE_F_MOVE | SPLICE_F_MORE);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("sink: splice");
      return 1;
    }
    if (n == 0) break;
    total += static_cast<unsigned long long>(n);
    for (ssize_t left = n; left > 0;) {
      const ssize_t m =
          splice(p[0], nullptr, null, nullptr, static_cast<size_t>(left), SPLICE_F_MOVE);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) return 1;
      left -= m;
    }
  }
  std::printf("%llu\n", total);
  return 0;
}
