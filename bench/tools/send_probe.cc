// send_probe: sends its stdin (a pipe) to a TCP peer three ways, each handing user space a copy
// of every byte as the sending relay's inspector needs one, to measure which costs the sender
// least: bench/send_probe.py runs it.
//
//   tee       the relay's splice engine: tee(2) the input into a side pipe, splice(2) the input
//             into the socket, read(2) the side pipe 64 KiB at a time (one copy, into user space)
//   copy      read(2) into a buffer, write(2) it to the socket (two copies)
//   zerocopy  read(2) into one of a ring of buffers, send(2) with MSG_ZEROCOPY; a buffer is
//             reused only after the kernel's completion for it (one copy, unless the kernel
//             copies at delivery: it says so in each completion)
//   uring-zc  the same through io_uring: IORING_OP_SEND_ZC, a buffer reused after its
//             notification, which says whether the kernel copied (IORING_SEND_ZC_REPORT_USAGE)
//
// Prints one line of JSON: the bytes sent and, for the zero-copy modes, the sends the kernel
// completed and how many of them it had to copy after all.
//
//   cat records.jsonl | send_probe --mode=zerocopy --connect=10.213.0.2:9001

#include <absl/status/statusor.h>
#include <absl/time/clock.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/net.h"
#include "dataplane/unique_fd.h"

namespace {

constexpr size_t kTapRead = 64 << 10;  // what the relay reads of its teed copy at a time
constexpr size_t kChunk = 1 << 20;     // copy and zerocopy: bytes a read, as the copy engine's
constexpr size_t kRing = 4;            // zerocopy: buffers in flight

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "send_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// The relay's own connect (dataplane/net.h): its address forms, and its socket as it sets it up.
int Connect(std::string_view where) {
  const absl::StatusOr<sluice::dataplane::Address> address = sluice::dataplane::ParseAddress(where);
  if (!address.ok()) {
    std::fprintf(stderr, "send_probe: --connect=%.*s: %s\n", static_cast<int>(where.size()),
                 where.data(), std::string(address.status().message()).c_str());
    std::exit(2);
  }
  absl::StatusOr<sluice::dataplane::UniqueFd> fd =
      sluice::dataplane::Connect(*address, absl::Now() + absl::Seconds(10), /*stop_fd=*/-1);
  if (!fd.ok()) {
    std::fprintf(stderr, "send_probe: %s\n", std::string(fd.status().message()).c_str());
    std::exit(1);
  }
  return fd->release();
}

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t m = write(fd, p, n);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) Fail("write");
    p += m;
    n -= static_cast<size_t>(m);
  }
}

// Reads up to `n` bytes, fewer only at EOF.
size_t ReadFull(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t m = read(fd, p + got, n - got);
    if (m < 0 && errno == EINTR) continue;
    if (m < 0) Fail("read");
    if (m == 0) break;
    got += static_cast<size_t>(m);
  }
  return got;
}

uint64_t SendTee(int in, int sock) {
  int side[2];
  if (pipe2(side, O_CLOEXEC) != 0) Fail("pipe2");
  fcntl(side[1], F_SETPIPE_SZ, 1 << 20);
  std::vector<char> buf(kTapRead);
  uint64_t total = 0;
  for (;;) {
    const ssize_t n = tee(in, side[1], 1 << 20, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("tee");
    if (n == 0) break;
    for (ssize_t left = n; left > 0;) {
      const ssize_t m = splice(in, nullptr, sock, nullptr, static_cast<size_t>(left),
                               SPLICE_F_MOVE | SPLICE_F_MORE);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0) Fail("splice");
      left -= m;
    }
    for (size_t left = static_cast<size_t>(n); left > 0;) {
      const size_t m = ReadFull(side[0], buf.data(), std::min(left, buf.size()));
      if (m == 0) Fail("read of the teed copy");
      left -= m;
    }
    total += static_cast<uint64_t>(n);
  }
  return total;
}

uint64_t SendCopy(int in, int sock) {
  std::vector<char> buf(kChunk);
  uint64_t total = 0;
  while (const size_t n = ReadFull(in, buf.data(), buf.size())) {
    WriteAll(sock, buf.data(), n);
    total += n;
  }
  return total;
}

struct ZeroCopy {
  int sock;
  std::vector<bool> done;  // by send id: completed
  uint32_t next_id = 0;    // the id of the next successful MSG_ZEROCOPY send
  uint32_t upto = 0;       // every send before this id completed
  uint64_t completions = 0;
  uint64_t copied = 0;  // completions for which the kernel copied the bytes after all

  // Reads every completion queued; with `block`, waits for at least one first.
  void Reap(bool block) {
    if (block) {
      pollfd p{sock, 0, 0};  // POLLERR is reported whatever is asked
      if (poll(&p, 1, -1) < 0 && errno != EINTR) Fail("poll");
    }
    for (;;) {
      char control[128];
      msghdr msg{};
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      if (recvmsg(sock, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        Fail("recvmsg(MSG_ERRQUEUE)");
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR) continue;
        sock_extended_err err;
        std::memcpy(&err, CMSG_DATA(c), sizeof err);
        if (err.ee_origin != SO_EE_ORIGIN_ZEROCOPY || err.ee_errno != 0) continue;
        for (uint32_t id = err.ee_info; id != err.ee_data + 1; ++id) done[id] = true;
        const uint64_t n = err.ee_data - err.ee_info + 1;
        completions += n;
        if (err.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) copied += n;
      }
    }
  }

  // Sends all of [p, p+n); returns the id of its last send.
  uint32_t Send(const char* p, size_t n) {
    uint32_t last = 0;
    while (n > 0) {
      const ssize_t m = send(sock, p, n, MSG_ZEROCOPY);
      if (m < 0 && errno == EINTR) continue;
      if (m < 0 && errno == ENOBUFS) {  // the pinned pages' limit: wait for completions
        Reap(/*block=*/true);
        continue;
      }
      if (m <= 0) Fail("send(MSG_ZEROCOPY)");
      last = next_id++;
      if (done.size() <= last) done.resize(last + 1 + 1024, false);
      p += m;
      n -= static_cast<size_t>(m);
      Reap(/*block=*/false);
    }
    return last;
  }

  // Waits until every send up to and including `id` completed.
  void WaitFor(uint32_t id) {
    while (upto <= id) {
      if (done[upto]) {
        ++upto;
      } else {
        Reap(/*block=*/true);
      }
    }
  }
};

uint64_t SendZeroCopy(int in, int sock, uint64_t* completions, uint64_t* copied) {
  const int one = 1;
  if (setsockopt(sock, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0)
    Fail("setsockopt(SO_ZEROCOPY)");
  ZeroCopy zc{sock, {}};
  std::vector<std::vector<char>> ring(kRing, std::vector<char>(kChunk));
  std::vector<int64_t> last_send(kRing, -1);  // per buffer: the id of its last send
  uint64_t total = 0;
  for (size_t slot = 0;; slot = (slot + 1) % kRing) {
    if (last_send[slot] >= 0) zc.WaitFor(static_cast<uint32_t>(last_send[slot]));
    const size_t n = ReadFull(in, ring[slot].data(), kChunk);
    if (n == 0) break;
    last_send[slot] = zc.Send(ring[slot].data(), n);
    total += n;
  }
  if (zc.next_id > 0) zc.WaitFor(zc.next_id - 1);
  *completions = zc.completions;
  *copied = zc.copied;
  return total;
}

// liburing 2.3's headers predate these (Linux 6.2).
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

// One send in flight at a time (two on one socket could run out of order), its buffer's
// notification still pending while the next buffer is read and sent.
uint64_t SendUringZeroCopy(int in, int sock, uint64_t* completions, uint64_t* copied) {
  io_uring ring;
  if (const int e = io_uring_queue_init(2 * kRing, &ring, 0); e < 0) {
    errno = -e;
    Fail("io_uring_queue_init");
  }
  struct Slot {
    std::vector<char> buf = std::vector<char>(kChunk);
    int notifications = 0;  // still to come
  };
  std::vector<Slot> slots(kRing);
  const auto submit = [&](size_t slot, const char* p, size_t n) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_send_zc(sqe, sock, p, n, 0, IORING_SEND_ZC_REPORT_USAGE);
    io_uring_sqe_set_data64(sqe, slot);
    if (io_uring_submit(&ring) != 1) Fail("io_uring_submit");
  };
  // Takes one completion; returns the bytes a send moved, or -1 for a notification.
  const auto take = [&]() -> int64_t {
    io_uring_cqe* cqe;
    if (const int e = io_uring_wait_cqe(&ring, &cqe); e < 0) {
      errno = -e;
      Fail("io_uring_wait_cqe");
    }
    const size_t slot = io_uring_cqe_get_data64(cqe);
    const int res = cqe->res;
    const unsigned flags = cqe->flags;
    io_uring_cqe_seen(&ring, cqe);
    if (flags & IORING_CQE_F_NOTIF) {
      --slots[slot].notifications;
      ++*completions;
      if (static_cast<unsigned>(res) & IORING_NOTIF_USAGE_ZC_COPIED) ++*copied;
      return -1;
    }
    if (flags & IORING_CQE_F_MORE) ++slots[slot].notifications;
    if (res < 0) {
      errno = -res;
      Fail("IORING_OP_SEND_ZC");
    }
    return res;
  };
  uint64_t total = 0;
  for (size_t slot = 0;; slot = (slot + 1) % kRing) {
    while (slots[slot].notifications > 0) take();
    const size_t n = ReadFull(in, slots[slot].buf.data(), kChunk);
    if (n == 0) break;
    for (size_t sent = 0; sent < n;) {
      submit(slot, slots[slot].buf.data() + sent, n - sent);
      int64_t moved;
      while ((moved = take()) < 0) {
      }
      if (moved == 0) Fail("IORING_OP_SEND_ZC sent nothing");
      sent += static_cast<size_t>(moved);
    }
    total += n;
  }
  for (const Slot& s : slots) {
    while (s.notifications > 0) take();
  }
  io_uring_queue_exit(&ring);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view mode, where;
  bool unknown = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--mode=")) {
      mode = a.substr(7);
    } else if (a.starts_with("--connect=")) {
      where = a.substr(10);
    } else {
      unknown = true;
    }
  }
  if (unknown || (mode != "tee" && mode != "copy" && mode != "zerocopy" && mode != "uring-zc") ||
      where.empty()) {
    std::fprintf(
        stderr, "usage: send_probe --mode=tee|copy|zerocopy|uring-zc --connect=HOST:PORT < PIPE\n");
    return 2;
  }
  // Every mode reads a pipe as large as the relay makes its FIFOs.
  if (fcntl(STDIN_FILENO, F_SETPIPE_SZ, 1 << 20) < 0) Fail("F_SETPIPE_SZ on stdin (a pipe?)");
  const int sock = Connect(where);
  uint64_t completions = 0, copied = 0, total = 0;
  if (mode == "tee") {
    total = SendTee(STDIN_FILENO, sock);
  } else if (mode == "copy") {
    total = SendCopy(STDIN_FILENO, sock);
  } else if (mode == "zerocopy") {
    total = SendZeroCopy(STDIN_FILENO, sock, &completions, &copied);
  } else {
    total = SendUringZeroCopy(STDIN_FILENO, sock, &completions, &copied);
  }
  if (shutdown(sock, SHUT_WR) != 0) Fail("shutdown");
  std::printf("{\"bytes\": %llu, \"completions\": %llu, \"copied\": %llu}\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(completions),
              static_cast<unsigned long long>(copied));
  return 0;
}
