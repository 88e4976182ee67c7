// sluice-gen: a test source connector. Writes a canonical Airbyte workload to stdout and, with
// --truth, what it wrote (per-stream records, bytes, data bytes, states) as JSON: the ground
// truth the relay's and inspector's counters are checked against.
//
//   sluice-gen --bytes=1G --record_bytes=200 --streams=8 --state_every=1000 --truth=t.json | ...

#include <absl/flags/flag.h>
#include <absl/flags/parse.h>
#include <absl/flags/usage.h>
#include <absl/strings/numbers.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "protocol/report.h"
#include "protocol/testing/workload.h"

ABSL_FLAG(std::string, bytes, "64M", "stop after at least this many bytes (K, M, G suffixes)");
ABSL_FLAG(uint64_t, records, 0, "stop after this many records instead (0: use --bytes)");
ABSL_FLAG(uint64_t, record_bytes, 200,
          "RECORD line size with its newline (exact from the smallest record with a payload: "
          "about 132 B with a namespace, 111 B without)");
ABSL_FLAG(uint64_t, streams, 1, "number of streams, records round-robin");
ABSL_FLAG(bool, random_streams, false, "each record's stream at random (a fixed seed)");
ABSL_FLAG(uint64_t, state_every, 0, "a STREAM STATE after every N records (0: none)");
ABSL_FLAG(bool, spaced, false, "Python's separators (\", \" and \": \")");
ABSL_FLAG(bool, sorted_keys, false, "keys in sorted order, as Go's encoding/json writes a map");
ABSL_FLAG(uint64_t, big_every, 0, "every Nth record is big (0: none)");
ABSL_FLAG(std::string, big_record_bytes, "10M", "size of the big records");
ABSL_FLAG(std::string, ns, "public", "namespace of every stream, empty for none");
ABSL_FLAG(std::string, truth, "", "write the ground truth JSON to this file");

namespace {

bool ParseSize(std::string s, uint64_t* out) {
  uint64_t scale = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K':
      case 'k':
        scale = uint64_t{1} << 10;
        break;
      case 'M':
      case 'm':
        scale = uint64_t{1} << 20;
        break;
      case 'G':
      case 'g':
        scale = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) s.pop_back();
  }
  uint64_t v;
  if (!absl::SimpleAtoi(s, &v)) return false;
  *out = v * scale;
  return true;
}

bool WriteAll(int fd, const std::string& buf) {
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = write(fd, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string TruthJson(const sluice::protocol::testing::GroundTruth& t) {
  using sluice::protocol::JsonString;
  std::string out = "{\"bytes\":" + std::to_string(t.bytes) +
                    ",\"lines\":" + std::to_string(t.lines) +
                    ",\"records\":" + std::to_string(t.records) +
                    ",\"states\":" + std::to_string(t.states) + ",\"streams\":[";
  bool first = true;
  for (const auto& [id, s] : t.streams) {
    if (!first) out += ",";
    first = false;
    out += "{\"namespace\":" + (id.ns ? JsonString(*id.ns) : std::string("null")) +
           ",\"name\":" + JsonString(id.name) + ",\"records\":" + std::to_string(s.records) +
           ",\"record_bytes\":" + std::to_string(s.record_bytes) +
           ",\"data_bytes\":" + std::to_string(s.data_bytes) +
           ",\"states\":" + std::to_string(s.states) + "}";
  }
  return out + "]}\n";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Writes a canonical Airbyte workload to stdout.");
  absl::ParseCommandLine(argc, argv);
  uint64_t bytes = 0, big_bytes = 0;
  if (!ParseSize(absl::GetFlag(FLAGS_bytes), &bytes) ||
      !ParseSize(absl::GetFlag(FLAGS_big_record_bytes), &big_bytes)) {
    std::fprintf(stderr, "sluice-gen: --bytes and --big_record_bytes take a size like 64M\n");
    return 2;
  }
  sluice::protocol::testing::Workload workload({
      .record_bytes = absl::GetFlag(FLAGS_record_bytes),
      .streams = absl::GetFlag(FLAGS_streams),
      .random_streams = absl::GetFlag(FLAGS_random_streams),
      .state_every = absl::GetFlag(FLAGS_state_every),
      .spaced = absl::GetFlag(FLAGS_spaced),
      .sorted_keys = absl::GetFlag(FLAGS_sorted_keys),
      .big_every = absl::GetFlag(FLAGS_big_every),
      .big_record_bytes = big_bytes,
      .ns = absl::GetFlag(FLAGS_ns),
  });
  const uint64_t records = absl::GetFlag(FLAGS_records);
  std::string buf;
  buf.reserve(2 << 20);
  const auto done = [&] {
    return records > 0 ? workload.truth().records >= records : workload.truth().bytes >= bytes;
  };
  while (!done()) {
    while (buf.size() < (1 << 20) && !done()) workload.AppendLine(&buf);
    if (!WriteAll(STDOUT_FILENO, buf)) {
      std::fprintf(stderr, "sluice-gen: writing stdout: %s\n", std::strerror(errno));
      return 1;
    }
    buf.clear();
  }
  if (const std::string path = absl::GetFlag(FLAGS_truth); !path.empty()) {
    std::ofstream out(path);
    out << TruthJson(workload.truth());
    if (!out) {
      std::fprintf(stderr, "sluice-gen: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
