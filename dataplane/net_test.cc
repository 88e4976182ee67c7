#include "dataplane/net.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <thread>

#include "dataplane/relay_error.h"

namespace sluice::dataplane {
namespace {

TEST(ParseAddressTest, AcceptsIpv4NamesIpv6AndAnyHost) {
  auto a = ParseAddress("127.0.0.1:9001");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9001);
  a = ParseAddress("[::1]:80");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->ToString(), "[::1]:80");
  a = ParseAddress("destination-pod.sync-42.svc:9001");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "destination-pod.sync-42.svc");
  a = ParseAddress(":0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "");
}

TEST(ParseAddressTest, ErrorsSayWhatIsWrong) {
  for (const char* bad : {"localhost", "::1:80", "[::1]80", "host:99999", "host:x"}) {
    auto a = ParseAddress(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(ExitCodeOf(a.status()), kExitUsage);
    EXPECT_NE(a.status().message().find(bad), std::string::npos) << a.status().message();
  }
  EXPECT_NE(ParseAddress("::1:80").status().message().find("brackets"), std::string::npos);
}

TEST(ConnectTest, GivesUpAtTheDeadlineWhenNobodyListens) {
  auto listener = Listen(*ParseAddress("127.0.0.1:0"));
  ASSERT_TRUE(listener.ok());
  const uint16_t port = LocalPort(listener->get());
  listener->reset();  // nobody listens there now
  const absl::Time start = absl::Now();
  auto fd = Connect(*ParseAddress("127.0.0.1:" + std::to_string(port)),
                    absl::Now() + absl::Milliseconds(600), -1);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(ExitCodeOf(fd.status()), kExitConnectFailed);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_NE(fd.status().message().find("refused"), std::string::npos) << fd.status().message();
}

TEST(WaitForTest, AnInfiniteDeadlineWaits) {
  // InfiniteFuture once overflowed into a zero poll timeout: WaitFor returned at once.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  std::thread writer([&] {
    usleep(300000);
    ASSERT_EQ(write(w.get(), "x", 1), 1);
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(WaitFor(r.get(), POLLIN, absl::InfiniteFuture(), -1));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
  writer.join();
}

}  // namespace
}  // namespace sluice::dataplane
