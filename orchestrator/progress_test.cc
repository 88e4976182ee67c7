#include "orchestrator/progress.h"

#include <absl/time/clock.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>

#include "protocol/state_key.h"

namespace sluice::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kSource[] = "s-source";

std::string StreamState(const std::string& stream, int cursor) {
  return R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":")" +
         stream + R"("},"stream_state":{"cursor":)" + std::to_string(cursor) + "}}}}";
}

std::string GlobalState(int n) {
  return R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"n":)" +
         std::to_string(n) + R"(},"stream_states":[]}}})";
}

// What the source's relay reports for `line`, covering `records` of `stream`.
std::string Report(const std::string& line, const std::string& stream, uint64_t records) {
  return R"({"state":{"key":)" + std::to_string(*protocol::StateKey(line)) +
         R"(,"kind":"STREAM","stream":")" + stream + R"(","records":)" + std::to_string(records) +
         "}}";
}

std::string GlobalReport(const std::string& line, uint64_t a, uint64_t b) {
  return R"({"state":{"key":)" + std::to_string(*protocol::StateKey(line)) +
         R"(,"kind":"GLOBAL","records":{"a":)" + std::to_string(a) + R"(,"b":)" +
         std::to_string(b) + R"(},"untracked":0}})";
}

TEST(SyncProgressTest, AStreamStateCommitsItsStreamsRecordsWhenEchoed) {
  SyncProgress p(kSource);
  p.OnReport(kSource, Report(StreamState("a", 10), "a", 10));
  p.OnReport(kSource, Report(StreamState("b", 7), "b", 7));
  p.OnReport(kSource, Report(StreamState("a", 20), "a", 20));
  EXPECT_TRUE(p.View().committed.empty());  // nothing echoed: nothing committed
  p.OnEcho(StreamState("a", 10));
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 10)));
  // b's state is still waiting: a's later one commits a alone.
  p.OnEcho(StreamState("a", 20));
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 20)));
  p.OnEcho(StreamState("b", 7));
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 20), Pair("b", 7)));
  EXPECT_TRUE(p.View().committed_exact);
}

TEST(SyncProgressTest, ADestinationThatEchoesOnlyItsLatestStateCommitsUpToIt) {
  SyncProgress p(kSource);
  for (int i = 1; i <= 5; ++i) p.OnReport(kSource, Report(StreamState("a", i * 100), "a", i * 100));
  p.OnEcho(StreamState("a", 400));  // it skipped 100..300
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 400)));
  p.OnEcho(StreamState("a", 500));
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 500)));
}

TEST(SyncProgressTest, AnEchoThatArrivesBeforeItsReportWaitsForIt) {
  SyncProgress p(kSource);
  p.OnEcho(StreamState("a", 10));  // two connections: the echo can come first
  EXPECT_TRUE(p.View().committed.empty());
  EXPECT_EQ(p.View().echoes_unmatched, 1u);
  p.OnReport(kSource, Report(StreamState("a", 10), "a", 10));
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 10)));
  EXPECT_EQ(p.View().echoes_unmatched, 0u);
}

TEST(SyncProgressTest, AGlobalStateCommitsEveryStream) {
  SyncProgress p(kSource);
  p.OnReport(kSource, GlobalReport(GlobalState(1), 5, 3));
  p.OnReport(kSource, GlobalReport(GlobalState(2), 9, 8));
  p.OnEcho(GlobalState(2));
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 9), Pair("b", 8)));
  p.OnEcho(GlobalState(1));  // superseded: already left the ledger, never counted back down
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 9), Pair("b", 8)));
}

TEST(SyncProgressTest, OnlyTheSourcesRelayMakesTheLedger) {
  SyncProgress p(kSource);
  p.OnReport("s-destination", Report(StreamState("a", 10), "a", 10));
  p.OnEcho(StreamState("a", 10));
  EXPECT_TRUE(p.View().committed.empty());
}

TEST(SyncProgressTest, PastTheLedgersBoundTheCountsSayTheyAreNotExact) {
  SyncProgress p(kSource);
  for (size_t i = 0; i <= SyncProgress::kMaxLedgerStates; ++i) {
    p.OnReport(kSource, Report(StreamState("a", static_cast<int>(i)), "a", i));
  }
  EXPECT_FALSE(p.View().committed_exact);
  p.OnEcho(StreamState("a", 0));  // dropped from the ledger: not matched, not guessed
  EXPECT_TRUE(p.View().committed.empty());
  p.OnEcho(StreamState("a", 5000));
  EXPECT_THAT(p.View().committed, ElementsAre(Pair("a", 5000)));
}

TEST(SyncProgressTest, CountersAndTheSummaryAreKeptPerRelay) {
  SyncProgress p(kSource);
  p.OnReport(kSource, R"({"counters":{"bytes":100,"input_wait_seconds":0.5,"output_wait_seconds":0.25,"streams":{"a":{"records":3,"bytes":90}}}})");
  p.OnReport(kSource, R"({"summary":{"relay":{"bytes":100}}})");
  const ProgressView v = p.View();
  const RelayView& r = v.relays.at(kSource);
  EXPECT_EQ(r.bytes, 100u);
  EXPECT_DOUBLE_EQ(r.input_wait_seconds, 0.5);
  EXPECT_EQ(r.streams.at("a").records, 3u);
  EXPECT_EQ(*r.summary, R"({"relay":{"bytes":100}})");
  p.OnReport(kSource, R"({"summary":{"relay":{"bytes":0}}})");  // the same relay, restarted
  EXPECT_EQ(*p.View().relays.at(kSource).summary, R"({"relay":{"bytes":100}})");
}

TEST(SyncProgressTest, APortIsKnownOnceItsRelayReportsIt) {
  SyncProgress p(kSource);
  EXPECT_EQ(p.ListeningPort("s-destination"), std::nullopt);
  // Nothing reported: the wait ends at its deadline, empty-handed.
  EXPECT_EQ(p.AwaitListeningPort("s-destination", absl::Now() + absl::Milliseconds(20)),
            std::nullopt);
  p.OnReport("s-destination", R"({"listening":{"port":0}})");  // not a port
  EXPECT_EQ(p.ListeningPort("s-destination"), std::nullopt);
  p.OnReport("s-destination", R"({"listening":{"port":41000}})");
  EXPECT_EQ(p.ListeningPort("s-destination"), 41000);
  EXPECT_EQ(p.ListeningPort("s-source"), std::nullopt);  // another relay's
}

TEST(SyncProgressTest, AWaitForAPortEndsWithTheReportNotAtItsDeadline) {
  SyncProgress p(kSource);
  // The report comes from the control server's thread while the orchestrator waits. A wait
  // that nothing wakes would end empty-handed at its deadline: a failure, not a slow pass.
  std::thread reporter([&] {
    absl::SleepFor(absl::Milliseconds(30));
    p.OnReport("s-destination", R"({"listening":{"port":41000}})");
  });
  EXPECT_EQ(p.AwaitListeningPort("s-destination", absl::Now() + absl::Seconds(10)), 41000);
  reporter.join();
}

}  // namespace
}  // namespace sluice::orchestrator
