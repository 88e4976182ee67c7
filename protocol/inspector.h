// The Airbyte protocol inspector: frames a byte stream into lines and keeps exact statistics
// of the messages on them, at relay speed. Pure code: it never does I/O.
//
//   Inspector inspector({.max_line_bytes = 2 << 20});
//   while (size_t n = read(fd, buf, sizeof buf)) inspector.Consume({buf, n});
//   inspector.Finish();
//   InspectorStats stats = inspector.Snapshot();
//
// Lines. A line ends at "\n"; one "\r" before it is part of the terminator. Chunks may split a
// line anywhere (inside a UTF-8 sequence or an escape too): results do not depend on chunking.
// Empty lines are counted, and text that is not an Airbyte message is counted and sampled,
// never fatal.
//
// Two readers, one result. Lines in the shapes the Python and Java CDKs write,
//   {"type":"RECORD","record":{"namespace":"ns","stream":"s","data":{...},"emitted_at":1}}
// with or without one space after ':' and ',', are read by a fast path that does not parse
// `data` (it scans it once for string, bracket and whitespace structure); so are RECORD lines
// with the same keys in other orders and other whitespace, as other CDKs write them, a little
// slower (protocol/canonical_record.h). Every other line goes through simdjson On-Demand. On
// valid JSON both give identical results. A line that starts with the bytes before `data` of
// the record that followed the last one's stream last time (a source writing a stream's records
// in a run, or its streams in turn) is read from `data` on: the envelope and the names read
// the same as then (protocol/record_prefix.h).
//
// What is checked. A line counts as a message when it is a JSON object with a known `type` and
// the fields this inspector reads are well-formed (`record.stream` a string, ...). Values the
// inspector does not interpret (`record.data`, LOG text, ...) are checked for UTF-8, closed
// strings and balanced brackets only: the relay forwards bytes, it is not a validator.
//
// Bounded memory. A line is buffered up to `max_line_bytes`; a longer one is "oversize": it is
// followed by a streaming tracker with constant memory, still counted by type, and a RECORD
// still counted for its stream with exact data bytes. A STATE in an oversize line is counted
// but not kept (`oversize_states`), and a TRACE in one is counted by type only. At most
// `max_streams` streams are tracked one by one (the rest are counted together), and kept
// STATE text is capped in all by `max_total_state_bytes`: memory has a bound for every input.
//
// Thread safety: Consume() and Finish() must be called from one thread at a time (the data
// path). Snapshot() may be called from any thread at any time, concurrently with them; it
// returns a consistent copy as of a chunk boundary.
//
// Buffers: Consume() does not keep `chunk` after it returns; the caller owns it.

#ifndef SLUICE_PROTOCOL_INSPECTOR_H_
#define SLUICE_PROTOCOL_INSPECTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/stats.h"

namespace sluice::protocol {

// What a STATE message covers: the records counted before it. A STREAM state covers its own
// stream's; a GLOBAL or LEGACY state covers every stream's (the untracked ones together).
struct StateEvent {
  StateKind kind = StateKind::kLegacy;
  std::optional<StreamId> stream;  // STREAM: the stream it names
  uint64_t stream_records = 0;     // STREAM: that stream's records so far
  std::vector<std::pair<StreamId, uint64_t>> streams;  // GLOBAL, LEGACY: each stream's so far
  uint64_t untracked_records = 0;                      // GLOBAL, LEGACY: beyond max_streams
};

// Sees every message but RECORDs as it passes: its type, its line (without the terminator;
// empty for an oversize line, whose text is not kept), and for a STATE what it covers. Called
// on the data path's thread with the inspector's lock held: copy what is needed and return.
class InspectorObserver {
 public:
  virtual ~InspectorObserver() = default;
  virtual void OnMessage(MessageType type, std::string_view line, const StateEvent* state) = 0;
};

struct InspectorOptions {
  // Longer lines are oversize (see above). The streaming tracker reads them faster than the
  // buffer-then-scan path (bench/RESULTS.md), so the limit is only as high as the largest
  // STATE kept needs: max_state_bytes, plus the message around it.
  size_t max_line_bytes = 2 << 20;
  size_t max_state_bytes = 1 << 20;  // larger STATE objects are counted, not kept
  size_t max_samples = 8;            // non-protocol lines kept as samples
  size_t sample_bytes = 256;         // bytes kept of each sample
  size_t max_errors = 16;            // TRACE errors kept
  size_t max_error_bytes = 1024;     // bytes kept of each error message
  // Streams tracked one by one. Messages naming a stream beyond the first `max_streams` are
  // counted together in InspectorStats::untracked (memory, metrics and summaries stay bounded
  // whatever the input: a source can name a million streams).
  size_t max_streams = 10000;
  // All kept STATE text together (per-stream latest states, global, legacy). A state that
  // would pass it is counted, not kept (InspectorStats::unkept_states).
  size_t max_total_state_bytes = 64 << 20;
  // false: every line goes through simdjson. For tests and for ruling the fast path out.
  bool fast_path = true;
  // Not owned; must outlive the inspector. nullptr for none.
  InspectorObserver* observer = nullptr;
};

class Inspector {
 public:
  explicit Inspector(const InspectorOptions& options = {});
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  // Consumes the next bytes of the stream, of any size.
  void Consume(std::string_view chunk);
  // Ends the stream: a final line without a newline is classified. Later Consume() calls
  // start a new line.
  void Finish();
  // A copy of the statistics so far. Thread-safe. Without `state_text`, kept states come
  // without their text (KeptState::raw empty): what metrics need, at a fraction of the copy.
  InspectorStats Snapshot(bool state_text = true) const;

  const InspectorOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_INSPECTOR_H_
