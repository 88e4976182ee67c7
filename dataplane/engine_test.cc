#include "dataplane/engine.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "dataplane/relay_error.h"
#include "dataplane/unique_fd.h"

namespace sluice::dataplane {
namespace {

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(n);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

struct Param {
  const char* engine;
  bool tap;
};

class EngineTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    std::string why;
    if (std::string(GetParam().engine) == "uring" && !IoUringAvailable(&why)) {
      GTEST_SKIP() << "io_uring unavailable here: " << why;
    }
  }
  std::unique_ptr<Engine> Make() {
    std::string reason;
    auto e = CreateEngine(ParseEngineKind(GetParam().engine).value(), Route::kSocketToPipe,
                          {.pipe_bytes = 1 << 16}, &reason);
    EXPECT_TRUE(e.ok()) << e.status();
    EXPECT_EQ((*e)->name(), GetParam().engine);
    return std::move(*e);
  }
};

// pipe -> socket (send) and socket -> pipe (recv), with a slow reader at the far end so the
// engine must wait for output, and a tap that must see every byte in order.
TEST_P(EngineTest, MovesEveryByteBothWaysAndTapsThemInOrder) {
  const std::string data = RandomBytes(3 << 20);
  for (bool from_pipe : {true, false}) {
    int p[2], s[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    UniqueFd pipe_r(p[0]), pipe_w(p[1]), sock_a(s[0]), sock_b(s[1]);
    // The engine reads `in` and writes `out`; the test writes `feed` and reads `drain`.
    const Endpoint in = from_pipe ? Endpoint{pipe_r.get(), true, false, "pipe"}
                                  : Endpoint{sock_a.get(), false, true, "socket"};
    const Endpoint out = from_pipe ? Endpoint{sock_a.get(), false, true, "socket"}
                                   : Endpoint{pipe_w.get(), true, false, "pipe"};
    UniqueFd& feed = from_pipe ? pipe_w : sock_b;
    UniqueFd& drain = from_pipe ? sock_b : pipe_r;
    std::string tapped, received;
    Tap tap = [&](std::string_view b) { tapped.append(b); };
    std::thread writer([&] {
      for (size_t i = 0; i < data.size(); i += 100000) {
        const size_t n = std::min<size_t>(100000, data.size() - i);
        ASSERT_EQ(write(feed.get(), data.data() + i, n), static_cast<ssize_t>(n));
      }
      if (from_pipe) {
        feed.reset();
      } else {
        shutdown(feed.get(), SHUT_WR);
      }
    });
    std::thread reader([&] {
      char buf[7000];
      for (;;) {
        const ssize_t n = read(drain.get(), buf, sizeof buf);
        if (n <= 0) break;
        received.append(buf, static_cast<size_t>(n));
        if (received.size() % 7 == 0) usleep(50);  // a slow reader
      }
    });
    PumpStats stats;
    auto engine = Make();
    const absl::Status st = engine->Pump(in, out, GetParam().tap ? &tap : nullptr, stats, -1);
    EXPECT_TRUE(st.ok()) << st;
    writer.join();
    // Closing our write end lets the reader see EOF.
    if (from_pipe) {
      shutdown(sock_a.get(), SHUT_WR);
    } else {
      pipe_w.reset();
    }
    reader.join();
    EXPECT_EQ(stats.bytes.load(), data.size());
    EXPECT_TRUE(received == data) << "from_pipe=" << from_pipe << " got " << received.size();
    if (GetParam().tap) {
      EXPECT_TRUE(tapped == data) << "tap saw " << tapped.size();
    }
    EXPECT_GT(stats.output_wait_ns.load() + stats.input_wait_ns.load(), 0u);
  }
}

TEST_P(EngineTest, ReportsAReaderThatWentAway) {
  int p[2], s[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  UniqueFd pipe_r(p[0]), pipe_w(p[1]), sock_a(s[0]), sock_b(s[1]);
  pipe_r.reset();  // the connector closed its stdin
  const std::string data(100000, 'x');
  std::thread writer([&] {
    [[maybe_unused]] ssize_t n = write(sock_b.get(), data.data(), data.size());
    shutdown(sock_b.get(), SHUT_WR);
  });
  PumpStats stats;
  signal(SIGPIPE, SIG_IGN);
  const absl::Status st = Make()->Pump({sock_a.get(), false, true, "socket"},
                                       {pipe_w.get(), true, false, "the FIFO"}, nullptr, stats, -1);
  writer.join();
  EXPECT_EQ(ExitCodeOf(st), kExitReaderGone) << st;
}

// A FIFO opened for reading before any writer reads as EOF; the engines must wait instead.
TEST_P(EngineTest, WaitsForAFifoWriterThatOpensLate) {
  char dir[] = "/tmp/sluice-engine-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/f";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  UniqueFd in(open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(in.valid());
  int s[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  UniqueFd sock_a(s[0]), sock_b(s[1]);
  const std::string data = RandomBytes(200000);
  signal(SIGPIPE, SIG_IGN);
  std::thread writer([&] {
    usleep(200000);
    // Non-blocking open: if a broken pump already gave up and closed the reader, this fails
    // (ENXIO) or the write fails (EPIPE) instead of hanging the test.
    UniqueFd w(open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!w.valid()) return;
    fcntl(w.get(), F_SETFL, 0);
    [[maybe_unused]] ssize_t n = write(w.get(), data.data(), data.size());
  });
  std::string received;
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = read(sock_b.get(), buf, sizeof buf)) > 0;)
      received.append(buf, static_cast<size_t>(n));
  });
  PumpStats stats;
  const absl::Status st = Make()->Pump({in.get(), true, false, "fifo"},
                                       {sock_a.get(), false, true, "socket"}, nullptr, stats, -1);
  in.reset();
  writer.join();
  shutdown(sock_a.get(), SHUT_WR);
  reader.join();
  unlink(fifo.c_str());
  rmdir(dir);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);
}

TEST_P(EngineTest, HoldsBackTheTailOfASocketInput) {
  const std::string data = RandomBytes(1 << 20) + "0123456789ABCDEF";
  int p[2], s[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  UniqueFd pipe_r(p[0]), pipe_w(p[1]), sock_a(s[0]), sock_b(s[1]);
  std::string received, tapped;
  std::thread writer([&] {
    for (size_t i = 0; i < data.size(); i += 4097) {
      const size_t n = std::min<size_t>(4097, data.size() - i);
      ASSERT_EQ(write(sock_b.get(), data.data() + i, n), static_cast<ssize_t>(n));
    }
    shutdown(sock_b.get(), SHUT_WR);
  });
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = read(pipe_r.get(), buf, sizeof buf)) > 0;)
      received.append(buf, static_cast<size_t>(n));
  });
  Tap tap = [&](std::string_view b) { tapped.append(b); };
  PumpStats stats;
  Holdback holdback;
  holdback.bytes = 16;
  const absl::Status st =
      Make()->Pump({sock_a.get(), false, true, "socket"}, {pipe_w.get(), true, false, "pipe"},
                   GetParam().tap ? &tap : nullptr, stats, -1, &holdback);
  writer.join();
  pipe_w.reset();
  reader.join();
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(holdback.held, "0123456789ABCDEF");
  EXPECT_TRUE(received == data.substr(0, data.size() - 16)) << received.size();
  if (GetParam().tap) {
    EXPECT_TRUE(tapped == received);
  }
  EXPECT_EQ(stats.bytes.load(), data.size() - 16);
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest,
                         ::testing::Values(Param{"uring", true}, Param{"uring", false},
                                           Param{"splice", true}, Param{"splice", false},
                                           Param{"copy", true}, Param{"copy", false}),
                         [](const auto& info) {
                           return std::string(info.param.engine) +
                                  (info.param.tap ? "_tap" : "_notap");
                         });

TEST(CreateEngineTest, AutoFallsBackWhenNothingCanBeSpliced) {
  std::string reason;
  auto e = CreateEngine(EngineKind::kAuto, Route::kNoPipe, {}, &reason);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->name(), "copy");
  EXPECT_NE(reason.find("pipe"), std::string::npos);
  EXPECT_FALSE(ParseEngineKind("bogus").has_value());
  for (const EngineKind k : {EngineKind::kAuto, EngineKind::kUring, EngineKind::kSplice,
                             EngineKind::kCopy, EngineKind::kUringOps}) {
    EXPECT_EQ(ParseEngineKind(EngineKindName(k)), k);  // one table, both ways
  }
}

TEST(CreateEngineTest, AutoSplicesBothWays) {
  std::string reason;
  // Sending: splice, with or without io_uring (bench/RESULTS.md).
  auto send = CreateEngine(EngineKind::kAuto, Route::kPipeToSocket, {}, &reason);
  ASSERT_TRUE(send.ok());
  EXPECT_EQ((*send)->name(), "splice");
  EXPECT_NE(reason.find("measured"), std::string::npos) << reason;
  auto recv = CreateEngine(EngineKind::kAuto, Route::kSocketToPipe, {}, &reason);
  ASSERT_TRUE(recv.ok());
  std::string why;
  EXPECT_EQ((*recv)->name(), IoUringAvailable(&why) ? "uring" : "splice");
  // Asked for by name, an engine is what it says whichever the route.
  auto forced = CreateEngine(EngineKind::kUring, Route::kPipeToSocket, {}, &reason);
  ASSERT_TRUE(forced.ok() || !IoUringAvailable(&why));
  if (forced.ok()) {
    EXPECT_EQ((*forced)->name(), "uring");
  }
}

}  // namespace
}  // namespace sluice::dataplane
