#include "orchestrator/control_server.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "dataplane/report_channel.h"
#include "orchestrator/progress.h"

namespace sluice::orchestrator {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";

// A relay's channel, as sluice-relay --connect-reported runs it.
absl::StatusOr<std::string> PeerNamedTo(const std::string& relay, uint16_t port,
                                        absl::Duration within = absl::Seconds(5)) {
  dataplane::ReportChannel channel({"127.0.0.1", port}, relay, "send",
                                   [] { return std::string("{}"); });
  channel.ExpectPeer();
  channel.Start(kSecret);
  auto peer = channel.AwaitPeer(absl::Now() + within, -1);
  channel.Finish(R"({"relay":{"bytes":0}})");
  return peer;
}

TEST(ControlServerTest, ARelayIsToldItsPeerWhetherItSaidHelloBeforeOrAfter) {
  SyncProgress progress("src");
  auto server = ControlServer::Start({"127.0.0.1", 0}, kSecret, &progress);
  ASSERT_TRUE(server.ok()) << server.status();
  const uint16_t port = (*server)->port();

  // Named before the relay connects: told once it says hello.
  (*server)->NamePeer("src", "10.0.0.7:9000");
  auto early = PeerNamedTo("src", port);
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(*early, "10.0.0.7:9000");

  // Named while the relay waits.
  absl::StatusOr<std::string> late;
  std::thread relay([&] { late = PeerNamedTo("late", port); });
  absl::SleepFor(absl::Milliseconds(300));
  (*server)->NamePeer("late", "10.0.0.8:9000");
  relay.join();
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(*late, "10.0.0.8:9000");

  // Another relay's peer is not this one's.
  auto other = PeerNamedTo("nobody", port, absl::Milliseconds(500));
  EXPECT_FALSE(other.ok());
}

}  // namespace
}  // namespace sluice::orchestrator
