#include "protocol/report.h"

#include <simdjson.h>

#include <cinttypes>
#include <cstdio>

namespace sluice::protocol {
namespace {

std::string Printf(const char* format, auto... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, format, args...);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

void AppendKept(std::string* out, const char* key, const std::optional<KeptState>& k) {
  out->append("\"").append(key).append("\":");
  if (!k) {
    out->append("null");
    return;
  }
  out->append(Printf("{\"line\":%" PRIu64 ",\"size\":%" PRIu64 ",\"kept\":%s,\"state\":", k->line,
                     k->size, k->kept ? "true" : "false"));
  // Kept states were read as JSON objects, so they embed as they are.
  out->append(k->kept ? k->raw : "null").append("}");
}

// `"NAME":count,...` for a counter array indexed by an enum, named by `name`.
template <typename Enum, size_t N>
void AppendNamedCounts(std::string* out, const std::array<uint64_t, N>& counts,
                       std::string_view (*name)(Enum)) {
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out->append(",");
    out->append(
        Printf("\"%s\":%" PRIu64, std::string(name(static_cast<Enum>(i))).c_str(), counts[i]));
  }
}

std::string Optional(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "null"; }

}  // namespace

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // Copy one whole valid sequence, or replace the byte.
      size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (n > 1 && i + n <= s.size() && simdjson::validate_utf8(s.data() + i, n)) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out.append("\xEF\xBF\xBD");
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20) {
          out.append(Printf("\\u%04x", c));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  return out + "\"";
}

std::string FormatJson(const InspectorStats& s) {
  std::string out = "{";
  out.append(Printf("\"bytes\":%" PRIu64 ",\"lines\":%" PRIu64 ",\"empty_lines\":%" PRIu64
                    ",\"oversize_lines\":%" PRIu64 ",\"unterminated_final_line\":%s",
                    s.bytes, s.lines, s.empty_lines, s.oversize_lines,
                    s.unterminated_final_line ? "true" : "false"));
  out.append(",\"types\":{");
  for (size_t t = 0; t < kMessageTypeCount; ++t) {
    if (t > 0) out.append(",");
    out.append(Printf("\"%s\":{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
                      std::string(MessageTypeName(static_cast<MessageType>(t))).c_str(),
                      s.types[t].count, s.types[t].bytes));
  }
  out.append(Printf("},\"non_protocol\":{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"samples\":[",
                    s.non_protocol.count, s.non_protocol.bytes));
  for (size_t i = 0; i < s.non_protocol_samples.size(); ++i) {
    const LineSample& l = s.non_protocol_samples[i];
    if (i > 0) out.append(",");
    out.append(Printf("{\"line\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"prefix\":", l.line, l.bytes))
        .append(JsonString(l.prefix))
        .append("}");
  }
  out.append("]},\"state_kinds\":{");
  AppendNamedCounts(&out, s.state_kinds, StateKindName);
  out.append(Printf("},\"oversize_states\":%" PRIu64 ",", s.oversize_states));
  AppendKept(&out, "latest_global", s.latest_global);
  out.append(",");
  AppendKept(&out, "latest_legacy", s.latest_legacy);
  out.append(",\"trace_kinds\":{");
  AppendNamedCounts(&out, s.trace_kinds, TraceKindName);
  out.append(Printf("},\"trace_errors\":%" PRIu64 ",\"errors\":[", s.trace_errors));
  for (size_t i = 0; i < s.errors.size(); ++i) {
    if (i > 0) out.append(",");
    out.append(Printf("{\"line\":%" PRIu64 ",\"message\":", s.errors[i].line))
        .append(JsonString(s.errors[i].message))
        .append(",\"failure_type\":")
        .append(JsonString(s.errors[i].failure_type))
        .append("}");
  }
  out.append(Printf("],\"unkept_states\":%" PRIu64 ",\"untracked\":", s.unkept_states));
  if (s.untracked_streams) {
    const StreamStats& u = s.untracked;
    out.append(Printf("{\"records\":%" PRIu64 ",\"record_bytes\":%" PRIu64
                      ",\"data_bytes\":%" PRIu64 ",\"states\":%" PRIu64 "}",
                      u.records, u.record_bytes, u.data_bytes, u.states));
  } else {
    out.append("null");
  }
  out.append(",\"streams\":[");
  for (size_t i = 0; i < s.streams.size(); ++i) {
    const auto& [id, st] = s.streams[i];
    if (i > 0) out.append(",");
    out.append("{\"namespace\":").append(id.ns ? JsonString(*id.ns) : "null");
    out.append(",\"name\":").append(JsonString(id.name));
    out.append(
        Printf(",\"records\":%" PRIu64 ",\"record_bytes\":%" PRIu64 ",\"data_bytes\":%" PRIu64
               ",\"states\":%" PRIu64 ",\"records_at_latest_state\":%" PRIu64 ",",
               st.records, st.record_bytes, st.data_bytes, st.states, st.records_at_latest_state));
    AppendKept(&out, "latest_state", st.latest_state);
    out.append(",\"status\":").append(st.status.empty() ? "null" : JsonString(st.status));
    out.append(",\"row_estimate\":").append(Optional(st.row_estimate));
    out.append(",\"byte_estimate\":").append(Optional(st.byte_estimate)).append("}");
  }
  out.append("]}");
  return out;
}

std::string FormatTable(const InspectorStats& s) {
  std::string out = Printf("%-32s %12s %14s %14s %8s  %s\n", "STREAM", "RECORDS", "RECORD BYTES",
                           "DATA BYTES", "STATES", "STATUS");
  for (const auto& [id, st] : s.streams) {
    std::string name = id.ToString();
    if (name.size() > 32) name = name.substr(0, 29) + "...";
    out.append(Printf("%-32s %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %8" PRIu64 "  %s\n",
                      name.c_str(), st.records, st.record_bytes, st.data_bytes, st.states,
                      st.status.empty() ? "-" : st.status.c_str()));
  }
  if (s.untracked_streams) {
    out.append(Printf("%-32s %12" PRIu64 " %14" PRIu64 " %14" PRIu64 " %8" PRIu64 "  -\n",
                      "(streams beyond max_streams)", s.untracked.records,
                      s.untracked.record_bytes, s.untracked.data_bytes, s.untracked.states));
  }
  out.append(Printf("\n%" PRIu64 " bytes, %" PRIu64 " lines (%" PRIu64 " empty, %" PRIu64
                    " oversize)\nmessages:",
                    s.bytes, s.lines, s.empty_lines, s.oversize_lines));
  for (size_t t = 0; t < kMessageTypeCount; ++t) {
    if (s.types[t].count == 0) continue;
    out.append(Printf(" %s=%" PRIu64,
                      std::string(MessageTypeName(static_cast<MessageType>(t))).c_str(),
                      s.types[t].count));
  }
  out.append(Printf("\nstates: STREAM=%" PRIu64 " GLOBAL=%" PRIu64 " LEGACY=%" PRIu64
                    " (oversize, not kept: %" PRIu64 "; over the total budget, not kept: %" PRIu64
                    ")\n",
                    s.state_kinds[0], s.state_kinds[1], s.state_kinds[2], s.oversize_states,
                    s.unkept_states));
  out.append(Printf("not protocol: %" PRIu64 " lines, %" PRIu64 " bytes\n", s.non_protocol.count,
                    s.non_protocol.bytes));
  for (const LineSample& l : s.non_protocol_samples) {
    out.append(Printf("  line %" PRIu64 ": ", l.line)).append(l.prefix).append("\n");
  }
  for (const TraceError& e : s.errors) {
    out.append(Printf("error (line %" PRIu64 ", %s): ", e.line,
                      e.failure_type.empty() ? "unknown" : e.failure_type.c_str()))
        .append(e.message)
        .append("\n");
  }
  if (s.unterminated_final_line) out.append("the input ended without a newline\n");
  return out;
}

}  // namespace sluice::protocol
