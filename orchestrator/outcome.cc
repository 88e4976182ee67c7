#include "orchestrator/outcome.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <utility>

#include "dataplane/exit_codes.h"
#include "protocol/report.h"

namespace sluice::orchestrator {
namespace {

const protocol::InspectorStats* Inspected(const MaybeSummary& s) {
  return s && s->inspector ? &*s->inspector : nullptr;
}

// Records and STATEs per stream ("namespace.name" or "name").
struct StreamCounts {
  uint64_t records = 0;
  uint64_t states = 0;
};
std::map<std::string, StreamCounts> Streams(const protocol::InspectorStats* i) {
  std::map<std::string, StreamCounts> out;
  if (i != nullptr) {
    for (const auto& [id, st] : i->streams) out[id.ToString()] = {st.records, st.states};
  }
  return out;
}

// What is known of the records and bytes emitted by the source (counted by its relay) and
// delivered to the destination (counted by its input relay, as read by the destination). A
// figure that is not known is absent, never a guess.
struct Counts {
  std::optional<uint64_t> bytes_emitted, bytes_delivered;
  bool records_emitted_known = false;
  // What was delivered, counted: the destination relay's inspector, or, counted once, the
  // source relay's (see Known()). Null when not known.
  const protocol::InspectorStats* delivered = nullptr;
  std::string delivered_counted_by;  // "destination relay", "source relay (checksum)" or ""

  bool records_delivered_known() const { return delivered != nullptr; }
};

Counts Known(const MaybeSummary& source, const MaybeSummary& destination) {
  Counts c;
  // The source relay counted what the source wrote only if it read to the end of it (a
  // failure after that, such as a reset by a failing destination, changes nothing).
  if (source && source->input_complete) {
    c.bytes_emitted = source->bytes;
    c.records_emitted_known = source->inspector.has_value();
  }
  if (destination) {
    c.bytes_delivered =
        destination->bytes - std::min(destination->unread_bytes, destination->bytes);
    if (destination->inspector) {
      // Its inspector saw what it wrote into the FIFO; the records are delivered ones only if
      // the destination read every byte the inspector saw.
      if (destination->inspector->bytes == *c.bytes_delivered) {
        c.delivered = &*destination->inspector;
        c.delivered_counted_by = "destination relay";
      }
    } else if (c.records_emitted_known && destination->input_complete &&
               destination->unread_bytes == 0 && destination->bytes == source->bytes &&
               source->checksum && destination->checksum == source->checksum) {
      // Counted once: the destination's relay delivered every byte, and the destination read
      // them all; with the length and the checksum of the source relay's, they are the bytes
      // that relay counted.
      c.delivered = &*source->inspector;
      c.delivered_counted_by = "source relay (checksum)";
    }
  }
  return c;
}

std::string Number(bool known, uint64_t n) { return known ? std::to_string(n) : "null"; }

// The connector's messages that are not data: TRACE errors and lines that are not protocol.
std::string Diagnostics(const protocol::InspectorStats* s) {
  if (s == nullptr) return "null";
  std::string out = absl::StrCat("{\"trace_errors\":", s->trace_errors, ",\"errors\":[");
  for (size_t i = 0; i < s->errors.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "",
                    "{\"message\":", protocol::JsonString(s->errors[i].message),
                    ",\"failure_type\":", protocol::JsonString(s->errors[i].failure_type), "}");
  }
  absl::StrAppend(&out, "],\"non_protocol_lines\":", s->non_protocol.count,
                  ",\"non_protocol_samples\":[");
  for (size_t i = 0; i < s->non_protocol_samples.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "",
                    protocol::JsonString(s->non_protocol_samples[i].prefix));
  }
  return out + "]}";
}

// Which engine a relay ran, and why.
std::string Engine(const MaybeSummary& s) {
  if (!s) return "null";
  return absl::StrCat("{\"engine\":", protocol::JsonString(s->engine),
                      ",\"engine_reason\":", protocol::JsonString(s->engine_reason), "}");
}

}  // namespace

// By role, not by time: one failure brings the others within milliseconds (a destination that
// stops reading makes its relay exit, which resets the source relay's connection, which leaves
// the source writing into a FIFO nobody reads), and polling cannot order them. The source first
// (its end cuts the destination's input short), then the destination, then its input relay
// finding it stopped reading (the destination's fault too, but a destination that exited
// non-zero says more: disk full, not "bytes it never read"), then a relay, then a relay whose
// peer relay vanished (the other end failed first), then a connector killed by SIGPIPE (its
// reader was gone). Every exit code is in the report.
int Blame(const Exited& e, const SyncPods& pods) {
  if (e.is_main && e.exit_code == 128 + SIGPIPE) return 5;
  if (e.is_main) return e.pod == pods.source ? 0 : 1;
  if (e.container == "relay-stdin" && e.exit_code == dataplane::kExitReaderGone) return 2;
  if (e.exit_code == dataplane::kExitPeerLost) return 4;
  return 3;
}

Verdict Judge(const SyncSpec& spec, const std::optional<Exited>& cause, const SyncPods& pods,
              const MaybeSummary& emitted, const MaybeSummary& delivered) {
  if (cause) {
    std::string reason =
        absl::StrCat(cause->pod, "/", cause->container, " exited ", cause->exit_code);
    if (cause->pod == pods.destination && cause->container == "relay-stdin" &&
        cause->exit_code == dataplane::kExitReaderGone) {
      reason = "the destination stopped reading its input before the end";
      if (delivered && delivered->unread_bytes > 0) {
        absl::StrAppend(&reason, ": ", delivered->unread_bytes, " bytes it never read");
      }
      return {kSyncDestinationFailed, reason};
    }
    if (cause->is_main) {
      const bool source = cause->pod == pods.source;
      // The connector's own word on why, when it gave one.
      if (const protocol::InspectorStats* s = Inspected(emitted);
          source && s && !s->errors.empty()) {
        const protocol::TraceError& e = s->errors.back();
        absl::StrAppend(&reason, ": ", e.message,
                        e.failure_type.empty() ? "" : " (" + e.failure_type + ")");
      }
      return {source ? kSyncSourceFailed : kSyncDestinationFailed, reason};
    }
    return {kSyncRelayFailed, reason};
  }
  if (spec.inspect == Inspection::kOff) return {kSyncOk, "every container exited 0"};
  // Every container exited 0: what the source emitted must be what reached the destination,
  // stream by stream, and all of it must be known.
  const Counts known = Known(emitted, delivered);
  if (!known.records_emitted_known || !known.records_delivered_known()) {
    if (known.records_emitted_known && delivered && !delivered->inspector &&
        delivered->checksum != emitted->checksum) {
      return {kSyncRelayFailed,
              absl::StrCat("every container exited 0, but the payload's checksum at the "
                           "destination (",
                           delivered->checksum.value_or("none"), ") is not the source's (",
                           emitted->checksum.value_or("none"), ")")};
    }
    return {kSyncRelayFailed, "every container exited 0, but the relays' counts are missing"};
  }
  const auto e = Streams(&*emitted->inspector), d = Streams(known.delivered);
  const auto records = [](const std::map<std::string, StreamCounts>& m, const std::string& key) {
    const auto it = m.find(key);
    return it == m.end() ? uint64_t{0} : it->second.records;
  };
  for (const auto* side : {&e, &d}) {
    for (const auto& [key, c] : *side) {
      if (records(e, key) != records(d, key)) {
        return {kSyncRelayFailed,
                absl::StrCat("stream ", key, ": ", records(e, key), " records emitted, ",
                             records(d, key), " delivered")};
      }
    }
  }
  const uint64_t untracked_emitted = emitted->inspector->untracked.records;
  const uint64_t untracked_delivered = known.delivered->untracked.records;
  if (untracked_emitted != untracked_delivered) {
    return {kSyncRelayFailed,
            absl::StrCat("streams beyond the relays' cap: ", untracked_emitted,
                         " records emitted, ", untracked_delivered, " delivered")};
  }
  if (*known.bytes_emitted != *known.bytes_delivered) {
    return {kSyncRelayFailed, absl::StrCat(*known.bytes_emitted, " bytes emitted, ",
                                           *known.bytes_delivered, " delivered")};
  }
  return {kSyncOk, "every container exited 0 and the counts agree"};
}

std::string Report(const ReportInput& r, std::string* table) {
  const Counts known = Known(r.emitted, r.delivered);
  const auto optional = [](const std::optional<uint64_t>& n) {
    return n ? std::to_string(*n) : std::string("null");
  };
  std::string report = absl::StrCat(
      "{\"sync\":", protocol::JsonString(r.spec.name),
      ",\"backend\":", protocol::JsonString(r.backend),
      ",\"sync_id\":", protocol::JsonString(r.sync_id), ",\"exit_code\":", r.verdict.code,
      ",\"result\":", r.verdict.code == kSyncOk ? "\"succeeded\"" : "\"failed\"",
      ",\"reason\":", protocol::JsonString(r.verdict.reason),
      ",\"seconds\":", absl::StrFormat("%.3f", absl::ToDoubleSeconds(r.elapsed)),
      ",\"workdir\":", r.workdir.empty() ? "null" : protocol::JsonString(r.workdir),
      ",\"bytes\":{\"emitted\":", optional(known.bytes_emitted),
      ",\"delivered\":", optional(known.bytes_delivered), "}", ",\"records_delivered_counted_by\":",
      known.delivered_counted_by.empty() ? "null"
                                         : protocol::JsonString(known.delivered_counted_by),
      ",\"relays\":{\"source\":", Engine(r.emitted), ",\"destination\":", Engine(r.delivered), "}",
      ",\"containers\":[");
  for (size_t i = 0; i < r.exits.size(); ++i) {
    absl::StrAppend(&report, i > 0 ? "," : "", "{\"pod\":", protocol::JsonString(r.exits[i].pod),
                    ",\"container\":", protocol::JsonString(r.exits[i].container),
                    ",\"exit_code\":", r.exits[i].exit_code, "}");
  }
  report += "],\"streams\":[";
  // Every stream either side saw, emitted first.
  const auto emitted = Streams(Inspected(r.emitted)), delivered = Streams(known.delivered);
  std::map<std::string, std::pair<const StreamCounts*, const StreamCounts*>> streams;
  for (const auto& [key, c] : emitted) streams[key].first = &c;
  for (const auto& [key, c] : delivered) streams[key].second = &c;
  // And those only the committed counts name: neither relay's counts known, the commits are.
  for (const auto& [key, n] : r.progress.committed) streams.try_emplace(key);
  bool first = true;
  for (const auto& [key, pair] : streams) {
    const StreamCounts none;
    const StreamCounts& e = pair.first != nullptr ? *pair.first : none;
    const StreamCounts& d = pair.second != nullptr ? *pair.second : none;
    const std::string emitted_records = Number(known.records_emitted_known, e.records);
    const std::string delivered_records = Number(known.records_delivered_known(), d.records);
    const auto c = r.progress.committed.find(key);
    const uint64_t committed = c == r.progress.committed.end() ? 0 : c->second;
    absl::StrAppend(&report, first ? "" : ",", "{\"stream\":", protocol::JsonString(key),
                    ",\"records_emitted\":", emitted_records,
                    ",\"records_delivered\":", delivered_records,
                    ",\"records_committed\":", committed,
                    ",\"states_emitted\":", Number(known.records_emitted_known, e.states), "}");
    absl::StrAppendFormat(table, "  %-32s %14s %14s %14u %8s\n", key,
                          known.records_emitted_known ? emitted_records : "?",
                          known.records_delivered_known() ? delivered_records : "?", committed,
                          known.records_emitted_known ? std::to_string(e.states) : "?");
    first = false;
  }
  report += "]";
  const protocol::InspectorStats* source = Inspected(r.emitted);
  const protocol::InspectorStats* destination = known.delivered;
  if ((source && source->untracked_streams) || (destination && destination->untracked_streams)) {
    absl::StrAppend(
        &report, ",\"untracked_streams\":{\"records_emitted\":",
        Number(known.records_emitted_known, source ? source->untracked.records : 0),
        ",\"records_delivered\":",
        Number(known.records_delivered_known(), destination ? destination->untracked.records : 0),
        "}");
  }
  absl::StrAppend(&report, ",\"source\":", Diagnostics(source),
                  ",\"destination\":", Diagnostics(r.echoed), ",\"committed_state_file\":",
                  r.state_file.empty() ? "null" : protocol::JsonString(r.state_file),
                  ",\"committed_state_messages\":", r.state.messages,
                  ",\"committed_state_complete\":", r.state.complete ? "true" : "false",
                  ",\"committed_counts_exact\":", r.progress.committed_exact ? "true" : "false",
                  "}\n");
  return report;
}

}  // namespace sluice::orchestrator
