// blast: the benchmark's writer. Loads a workload template into memory and writes it again
// and again, whole copies only, to a FIFO or a TCP peer, so the writer is never what limits a
// case. Prints the bytes written.
//
//   blast --input=template.jsonl --copies=40 --output=/pipes/stdout
//   blast --input=template.jsonl --copies=40 --connect=127.0.0.1:9001

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
  std::string input, output, connect;
  long copies = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--input=", 0) == 0)
      input = a.substr(8);
    else if (a.rfind("--output=", 0) == 0)
      output = a.substr(9);
    else if (a.rfind("--connect=", 0) == 0)
      connect = a.substr(10);
    else if (a.rfind("--copies=", 0) == 0)
      copies = std::atol(a.c_str() + 9);
  }
  if (input.empty() || output.empty() == connect.empty() || copies < 1) {
    std::fprintf(stderr,
                 "usage: blast --input=FILE --copies=N (--output=PATH | --connect=HOST:PORT)\n");
    return 2;
  }
  std::stringstream ss;
  ss << std::ifstream(input, std::ios::binary).rdbuf();
  const std::string data = ss.str();
  int fd;
  if (!output.empty()) {
    fd = open(output.c_str(), O_WRONLY | O_CLOEXEC);
  } else {
    const size_t colon = connect.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(connect.c_str() + colon + 1)));
    inet_pton(AF_INET, connect.substr(0, colon).c_str(), &addr.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
      close(fd);
      fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      usleep(20000);
    }
  }
  if (fd < 0) {
    std::perror("blast: open");
    return 1;
  }
  unsigned long long total = 0;
  for (long c = 0; c < copies; ++c) {
    for (size_t done = 0; done < data.size();) {
      const ssize_t n =
          write(fd, data.data() + done, std::min<size_t>(data.size() - done, 1 << 20));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::perror("blast: write");
        return 1;
      }
      done += static_cast<size_t>(n);
      total += static_cast<unsigned long long>(n);
    }
  }
  close(fd);
  std::printf("%llu\n", total);
  return 0;
}
