// What a person sees while a sync runs. On a terminal, a block redrawn about once a second:
// per stream the records emitted, delivered and committed, MB and rate; the totals; the time
// so far; and which side holds the sync back. When only the source's relay counts ("count
// once", orchestrator/spec.h), records delivered are known at the end, not live: the
// destination's MB delivered stand in for them. Elsewhere (a log file, CI), one plain line every
// few seconds. The JSON report keeps everything; this is for eyes.
//
// Which side holds it back comes from the relays' wait times over the last interval: the
// source's relay waiting for input means the source is slow; the destination's relay waiting
// to write means the destination is; the source's relay waiting to send while the
// destination's waits to receive means the network.
//
//   ProgressDisplay display("pg-to-s3", "pg-to-s3-source", "pg-to-s3-destination",
//                           /*delivered_records=*/true, stderr);
//   display.Tick(progress.View(), absl::Now());   // as often as convenient
//   display.Clear();                              // before the final table
//
// Not thread-safe: one caller.

#ifndef SLUICE_ORCHESTRATOR_DISPLAY_H_
#define SLUICE_ORCHESTRATOR_DISPLAY_H_

#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <cstdio>
#include <string>

#include "orchestrator/progress.h"

namespace sluice::orchestrator {

class ProgressDisplay {
 public:
  // `terminal` is decided from `out` (isatty); `plain_every` is the plain form's interval.
  // `delivered_records`: the destination's relay counts records (else only bytes).
  ProgressDisplay(std::string sync, std::string source_relay, std::string destination_relay,
                  bool delivered_records, std::FILE* out,
                  absl::Duration plain_every = absl::Seconds(5));

  void Tick(const ProgressView& view, absl::Time now);
  void Clear();

  // "source", "destination", "network", "relays" or "" (nothing moved): who held the sync back
  // over the last interval.
  static std::string HeldBackBy(const RelayView& source, const RelayView& destination,
                                const RelayView& source_before, const RelayView& destination_before,
                                absl::Duration interval);

 private:
  const std::string sync_, source_relay_, destination_relay_;
  const bool delivered_records_;
  std::FILE* const out_;
  const bool terminal_;
  const absl::Duration every_;
  const absl::Time start_ = absl::Now();
  absl::Time last_ = absl::Now();
  RelayView source_before_, destination_before_;
  int drawn_lines_ = 0;
};

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_DISPLAY_H_
