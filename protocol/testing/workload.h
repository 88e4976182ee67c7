// Canonical Airbyte workloads with their ground truth, for benchmarks and end-to-end tests:
// RECORD lines of a chosen size over N streams, a STATE every K records, optionally a few very
// large records. The generator counts what it writes itself; it does not run the inspector.
//
//   Workload w({.record_bytes = 200, .streams = 8, .state_every = 1000});
//   std::string out;
//   while (out.size() < (64 << 20)) w.AppendLine(&out);
//   const GroundTruth& truth = w.truth();

#ifndef SLUICE_PROTOCOL_TESTING_WORKLOAD_H_
#define SLUICE_PROTOCOL_TESTING_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "protocol/message.h"

namespace sluice::protocol::testing {

struct WorkloadOptions {
  // Each RECORD line's size, its "\n" included: exact when a line with `data` {"id":N,
  // "payload":""} fits in it (126-132 bytes with the namespace "public" as N grows to 7 digits,
  // 105-111 without, about 10 more spaced), else
  // the line with `data` {"id":N}. `data` also has "name" and "active" when they fit.
  size_t record_bytes = 200;
  size_t streams = 1;
  // Each record's stream drawn at random (a fixed seed) instead of the streams in turn: no
  // order for the inspector to foresee, its worst case.
  bool random_streams = false;
  size_t state_every = 0;  // a STREAM STATE after every this many records (0: none)
  bool spaced = false;     // Python's json.dumps separators (", " and ": ")
  // Keys in sorted order, as Go's encoding/json writes a map and json.dumps(sort_keys=True):
  // {"record":{"data":...,"emitted_at":1,"namespace":"ns","stream":"s"},"type":"RECORD"}
  bool sorted_keys = false;
  size_t big_every = 0;  // every this many records one is big (0: none)
  size_t big_record_bytes = 10 << 20;
  std::string ns = "public";  // "" for no namespace
};

struct StreamTruth {
  uint64_t records = 0;
  uint64_t record_bytes = 0;
  uint64_t data_bytes = 0;
  uint64_t states = 0;
};

struct GroundTruth {
  uint64_t bytes = 0;
  uint64_t lines = 0;
  uint64_t records = 0;
  uint64_t states = 0;
  std::map<StreamId, StreamTruth> streams;
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options);

  // Appends the next line, terminator included, and counts it.
  void AppendLine(std::string* out);
  const GroundTruth& truth() const { return truth_; }
  const WorkloadOptions& options() const { return options_; }

 private:
  void AppendRecord(std::string* out);
  void AppendState(std::string* out, const StreamId& id);

  WorkloadOptions options_;
  std::vector<StreamId> ids_;
  std::string payload_;
  std::string big_payload_;
  uint64_t next_record_ = 0;
  uint64_t random_ = 0x9E3779B97F4A7C15ULL;  // xorshift64 state, for random_streams
  bool state_due_ = false;
  GroundTruth truth_;
};

}  // namespace sluice::protocol::testing

#endif  // SLUICE_PROTOCOL_TESTING_WORKLOAD_H_
