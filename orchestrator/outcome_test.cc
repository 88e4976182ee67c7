#include "orchestrator/outcome.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "dataplane/exit_codes.h"
#include "protocol/inspector.h"

namespace sluice::orchestrator {
namespace {

const SyncPods kPods{"s-source", "s-destination"};

Exited Exit(const std::string& pod, const std::string& container, int code) {
  return {pod, container, container == "main", code};
}

// The first failure by Blame among exits seen together.
std::string Cause(const std::vector<Exited>& exits) {
  const Exited* cause = nullptr;
  for (const Exited& e : exits) {
    if (cause == nullptr || Blame(e, kPods) < Blame(*cause, kPods)) cause = &e;
  }
  return cause->pod + "/" + cause->container;
}

TEST(OutcomeTest, BlameNamesTheCauseNotItsConsequences) {
  // A killed relay, not the relay whose peer it was, nor the source that lost its reader.
  EXPECT_EQ(Cause({Exit("s-destination", "relay-stdin", dataplane::kExitPeerLost),
                   Exit("s-source", "main", 128 + SIGPIPE), Exit("s-source", "relay-stdout", 137)}),
            "s-source/relay-stdout");
  // A failing destination, not the source killed by SIGPIPE after it.
  EXPECT_EQ(Cause({Exit("s-source", "main", 128 + SIGPIPE), Exit("s-destination", "main", 1)}),
            "s-destination/main");
  // A failing source, before the destination that then failed on its cut input.
  EXPECT_EQ(Cause({Exit("s-destination", "main", 1), Exit("s-source", "main", 1)}),
            "s-source/main");
  // A destination that stopped reading is the destination's fault.
  EXPECT_EQ(Cause({Exit("s-source", "relay-stdout", dataplane::kExitPeerLost),
                   Exit("s-destination", "relay-stdin", dataplane::kExitReaderGone)}),
            "s-destination/relay-stdin");
  // A destination that failed (its disk full) stopped reading because of it: its own exit
  // names the cause, whichever exit was seen first.
  EXPECT_EQ(Cause({Exit("s-destination", "relay-stdin", dataplane::kExitReaderGone),
                   Exit("s-destination", "main", 1)}),
            "s-destination/main");
  EXPECT_EQ(Cause({Exit("s-destination", "main", 1),
                   Exit("s-destination", "relay-stdin", dataplane::kExitReaderGone)}),
            "s-destination/main");
}

dataplane::RelaySummary Summary(std::string_view input, bool complete) {
  dataplane::RelaySummary s;
  protocol::Inspector inspector;
  inspector.Consume(input);
  inspector.Finish();
  s.inspector = inspector.Snapshot();
  s.bytes = input.size();
  s.input_complete = complete;
  return s;
}

constexpr std::string_view kTwo =
    "{\"type\":\"RECORD\",\"record\":{\"stream\":\"a\",\"data\":{},\"emitted_at\":1}}\n"
    "{\"type\":\"RECORD\",\"record\":{\"stream\":\"a\",\"data\":{},\"emitted_at\":2}}\n";

TEST(OutcomeTest, JudgeWantsTheCountsToAgreeAndToBeKnown) {
  SyncSpec spec;
  const MaybeSummary both = Summary(kTwo, true);
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, both, both).code, kSyncOk);
  const MaybeSummary one = Summary(kTwo.substr(0, kTwo.size() / 2), true);
  const Verdict differ = Judge(spec, std::nullopt, kPods, both, one);
  EXPECT_EQ(differ.code, kSyncRelayFailed);
  EXPECT_NE(differ.reason.find("stream a: 2 records emitted, 1 delivered"), std::string::npos)
      << differ.reason;
  // A source relay that did not read to the end, or a relay with no summary: not known.
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, Summary(kTwo, false), both).code, kSyncRelayFailed);
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, both, std::nullopt).code, kSyncRelayFailed);
  spec.inspect = Inspection::kOff;
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, std::nullopt, std::nullopt).code, kSyncOk);
}

// The destination's relay that only checksums: what it delivered is what the source's relay
// counted only when every byte was delivered and read, and the checksums are the same.
TEST(OutcomeTest, CountedOnceTheChecksumMakesTheSourcesCountsTheDelivered) {
  const SyncSpec spec;  // inspect: true, the source's relay counts
  MaybeSummary emitted = Summary(kTwo, true);
  emitted->checksum = "00000000000000aa";
  const auto verifying = [](uint64_t bytes, std::optional<std::string> checksum) {
    dataplane::RelaySummary s;
    s.bytes = bytes;
    s.input_complete = true;
    s.checksum = std::move(checksum);
    return MaybeSummary(s);
  };
  const MaybeSummary same = verifying(kTwo.size(), "00000000000000aa");
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, emitted, same).code, kSyncOk);
  // The report of a sync with these two relays' summaries.
  const auto report_of = [&spec](const MaybeSummary& emitted, const MaybeSummary& delivered) {
    std::string table;
    const ProgressView progress;
    const CommittedState state;
    const std::vector<Exited> exits;
    return Report({.spec = spec,
                   .backend = "local",
                   .sync_id = "x",
                   .verdict = {},
                   .elapsed = absl::Seconds(1),
                   .workdir = "",
                   .exits = exits,
                   .emitted = emitted,
                   .delivered = delivered,
                   .echoed = nullptr,
                   .state = state,
                   .state_file = "",
                   .progress = progress},
                  &table);
  };
  const std::string report = report_of(emitted, same);
  EXPECT_NE(report.find("\"records_delivered\":2,"), std::string::npos) << report;
  EXPECT_NE(report.find("\"records_delivered_counted_by\":\"source relay (checksum)\""),
            std::string::npos)
      << report;

  // Another checksum, or none, or bytes the destination never read: not known, not guessed.
  const Verdict other = Judge(spec, std::nullopt, kPods, emitted, verifying(kTwo.size(), "0b"));
  EXPECT_EQ(other.code, kSyncRelayFailed);
  EXPECT_NE(other.reason.find("checksum at the destination (0b) is not the source's"),
            std::string::npos)
      << other.reason;
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, emitted, verifying(kTwo.size(), std::nullopt)).code,
            kSyncRelayFailed);
  MaybeSummary unread = same;
  unread->unread_bytes = 10;
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, emitted, unread).code, kSyncRelayFailed);
  MaybeSummary shorter = verifying(kTwo.size() - 1, "00000000000000aa");
  EXPECT_EQ(Judge(spec, std::nullopt, kPods, emitted, shorter).code, kSyncRelayFailed);
  // A failed sync cut mid-stream: records delivered are unknown in the report.
  MaybeSummary cut = verifying(kTwo.size() / 2, "00000000000000bb");
  cut->input_complete = false;
  const std::string cut_report = report_of(emitted, cut);
  EXPECT_NE(cut_report.find("\"records_delivered\":null,"), std::string::npos) << cut_report;
  EXPECT_NE(cut_report.find("\"records_delivered_counted_by\":null"), std::string::npos);
}

TEST(OutcomeTest, JudgeQuotesTheSourcesOwnError) {
  const MaybeSummary emitted = Summary(
      "{\"type\":\"TRACE\",\"trace\":{\"type\":\"ERROR\",\"emitted_at\":1,\"error\":{\"message\":"
      "\"bad password\",\"failure_type\":\"config_error\"}}}\n",
      true);
  const Verdict v = Judge(SyncSpec{}, Exit("s-source", "main", 1), kPods, emitted, std::nullopt);
  EXPECT_EQ(v.code, kSyncSourceFailed);
  EXPECT_EQ(v.reason, "s-source/main exited 1: bad password (config_error)");
}

}  // namespace
}  // namespace sluice::orchestrator
