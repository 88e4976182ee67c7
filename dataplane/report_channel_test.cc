#include "dataplane/report_channel.h"

#include <absl/strings/str_split.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <thread>
#include <vector>

#include "dataplane/auth.h"
#include "dataplane/net.h"
#include "dataplane/unique_fd.h"
#include "protocol/state_key.h"

namespace sluice::dataplane {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";

std::string StreamState(int cursor) {
  return R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},)"
         R"("stream_state":{"cursor":)" +
         std::to_string(cursor) + "}}}}";
}

// The orchestrator's end: accepts the channel, checks its handshake, sends `reply` (if any)
// once the hello arrived, and reads until the relay closes, or closes first when `hang_up`.
// `reads` counts the recv calls that returned bytes.
struct Orchestrator {
  UniqueFd listener;
  std::string received;
  int reads = 0;
  std::thread thread;

  explicit Orchestrator(std::string reply = "", bool hang_up = false) {
    auto l = Listen({"127.0.0.1", 0});
    EXPECT_TRUE(l.ok()) << l.status();
    listener = std::move(*l);
    thread = std::thread([this, reply = std::move(reply), hang_up] {
      std::string peer;
      auto fd = AcceptOne(listener.get(), absl::Now() + absl::Seconds(10), -1, &peer);
      ASSERT_TRUE(fd.ok()) << fd.status();
      const Secret secret(kSecret);
      ASSERT_TRUE(ServerHandshake(fd->get(), secret, absl::Now() + absl::Seconds(10), -1).ok());
      char buf[1 << 16];
      bool replied = reply.empty() && !hang_up;
      for (ssize_t n; (n = recv(fd->get(), buf, sizeof buf, 0)) > 0;) {
        received.append(buf, static_cast<size_t>(n));
        ++reads;
        if (!replied && received.find('\n') != std::string::npos) {
          replied = true;
          if (hang_up) return;
          ASSERT_EQ(SendAllBefore(fd->get(), reply, absl::Now() + absl::Seconds(5), -1), 0);
        }
      }
    });
  }
  // After a failed assertion too: the relay's end has closed by then.
  ~Orchestrator() {
    if (thread.joinable()) thread.join();
  }
  Address address() const { return {"127.0.0.1", LocalPort(listener.get())}; }
};

TEST(ReportChannelTest, EveryStateArrivesInOrderAndTheSummaryLast) {
  Orchestrator orchestrator;
  constexpr int kStates = 3000;
  {
    ReportChannel channel(orchestrator.address(), "src", "send", [] { return std::string("{}"); });
    channel.Start(kSecret);
    channel.Listening(4242);
    for (int i = 0; i < kStates; ++i) {
      const std::string line = StreamState(i);
      protocol::StateEvent e;
      e.kind = protocol::StateKind::kStream;
      e.stream = protocol::StreamId{std::nullopt, "s"};
      e.stream_records = static_cast<uint64_t>(i) * 1000;
      channel.OnMessage(protocol::MessageType::kState, line, &e);
      // A STATE every 1000 records: one every 200 us at 1 GB/s of 200 B records.
      if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    channel.Finish(R"({"relay":{"bytes":1}})");
  }
  orchestrator.thread.join();

  std::vector<std::string> states;
  std::string first, last;
  const std::vector<std::string> lines =
      absl::StrSplit(orchestrator.received, '\n', absl::SkipEmpty());
  for (const std::string& line : lines) {
    const bool routine = line.starts_with("{\"hello\":") || line.starts_with("{\"counters\":");
    if (first.empty() && !routine) first = line;
    if (line.starts_with("{\"state\":")) states.push_back(line);
    last = line;
  }
  EXPECT_EQ(first, R"({"listening":{"port":4242}})");
  ASSERT_EQ(states.size(), static_cast<size_t>(kStates));
  for (int i = 0; i < kStates; ++i) {
    const std::string want =
        "{\"state\":{\"key\":" + std::to_string(*protocol::StateKey(StreamState(i))) +
        ",\"kind\":\"STREAM\",\"stream\":\"s\",\"records\":" + std::to_string(i * 1000) + "}}";
    ASSERT_EQ(states[i], want) << "state " << i;
  }
  EXPECT_EQ(last, R"({"summary":{"relay":{"bytes":1}}})");
  // Batched: far fewer arrivals than messages (one send each made about one read each).
  EXPECT_LT(orchestrator.reads, kStates / 4) << orchestrator.reads << " reads";
}

TEST(ReportChannelTest, TheOrchestratorNamesThePeer) {
  // A line this relay does not know comes first.
  Orchestrator orchestrator(R"({"later":{"x":1}})"
                            "\n"
                            R"({"peer":{"address":"10.1.2.3:9001"}})"
                            "\n");
  {
    ReportChannel channel(orchestrator.address(), "src", "send", [] { return std::string("{}"); });
    channel.ExpectPeer();
    channel.Start(kSecret);
    auto peer = channel.AwaitPeer(absl::Now() + absl::Seconds(10), -1);
    ASSERT_TRUE(peer.ok()) << peer.status();
    EXPECT_EQ(*peer, "10.1.2.3:9001");
    channel.Finish(R"({"relay":{"bytes":0}})");
  }
  orchestrator.thread.join();
  EXPECT_TRUE(orchestrator.received.starts_with(R"({"hello":{"relay":"src","mode":"send"}})"))
      << orchestrator.received;
  EXPECT_NE(orchestrator.received.find(R"({"summary":{"relay":{"bytes":0}}})"), std::string::npos)
      << orchestrator.received;
}

TEST(ReportChannelTest, AChannelThatEndsBeforeNamingThePeerSaysSo) {
  Orchestrator orchestrator("", /*hang_up=*/true);
  ReportChannel channel(orchestrator.address(), "src", "send", [] { return std::string("{}"); });
  channel.ExpectPeer();
  channel.Start(kSecret);
  auto peer = channel.AwaitPeer(absl::Now() + absl::Seconds(10), -1);
  orchestrator.thread.join();
  ASSERT_FALSE(peer.ok());
  EXPECT_NE(peer.status().message().find("closed the report channel before it named the peer"),
            std::string::npos)
      << peer.status();
}

TEST(ReportChannelTest, APeerNeverNamedEndsAtTheDeadlineAndTheSummaryStillGoes) {
  Orchestrator orchestrator;  // reads, never replies
  {
    ReportChannel channel(orchestrator.address(), "src", "send", [] { return std::string("{}"); });
    channel.ExpectPeer();
    channel.Start(kSecret);
    auto peer = channel.AwaitPeer(absl::Now() + absl::Milliseconds(300), -1);
    ASSERT_FALSE(peer.ok());
    EXPECT_NE(peer.status().message().find("did not name the peer in time"), std::string::npos)
        << peer.status();
    channel.Finish(R"({"relay":{"bytes":0}})");
  }
  orchestrator.thread.join();
  EXPECT_NE(orchestrator.received.find(R"({"summary":{"relay":{"bytes":0}}})"), std::string::npos)
      << orchestrator.received;
}

}  // namespace
}  // namespace sluice::dataplane
