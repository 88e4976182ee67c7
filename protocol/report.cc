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

namespace {

// Reads FormatJson's text back; the first missing or mistyped field is the error.
class JsonReader {
 public:
  std::string error;

  bool U64(simdjson::dom::element e, const char* key, uint64_t* out) {
    if (e[key].get(*out) == simdjson::SUCCESS) return true;
    return Fail(key);
  }
  bool Bool(simdjson::dom::element e, const char* key, bool* out) {
    if (e[key].get(*out) == simdjson::SUCCESS) return true;
    return Fail(key);
  }
  bool Str(simdjson::dom::element e, const char* key, std::string* out) {
    std::string_view v;
    if (e[key].get(v) != simdjson::SUCCESS) return Fail(key);
    out->assign(v);
    return true;
  }
  // null or a string; "" for null.
  bool OptionalStr(simdjson::dom::element e, const char* key, std::string* out) {
    simdjson::dom::element v;
    if (e[key].get(v) != simdjson::SUCCESS) return Fail(key);
    if (v.is_null()) {
      out->clear();
      return true;
    }
    return Str(e, key, out);
  }
  bool OptionalI64(simdjson::dom::element e, const char* key, std::optional<int64_t>* out) {
    simdjson::dom::element v;
    if (e[key].get(v) != simdjson::SUCCESS) return Fail(key);
    if (v.is_null()) {
      out->reset();
      return true;
    }
    int64_t n;
    if (v.get(n) != simdjson::SUCCESS) return Fail(key);
    *out = n;
    return true;
  }
  bool Kept(simdjson::dom::element e, const char* key, std::optional<KeptState>* out) {
    simdjson::dom::element v;
    if (e[key].get(v) != simdjson::SUCCESS) return Fail(key);
    if (v.is_null()) {
      out->reset();
      return true;
    }
    KeptState k;
    simdjson::dom::element state;
    if (!U64(v, "line", &k.line) || !U64(v, "size", &k.size) || !Bool(v, "kept", &k.kept) ||
        v["state"].get(state) != simdjson::SUCCESS) {
      return Fail(key);
    }
    if (k.kept) k.raw = simdjson::minify(state);
    *out = std::move(k);
    return true;
  }
  template <typename Enum, size_t N>
  bool NamedCounts(simdjson::dom::element e, const char* key, std::array<uint64_t, N>* out,
                   std::string_view (*name)(Enum)) {
    simdjson::dom::element counts;
    if (e[key].get(counts) != simdjson::SUCCESS) return Fail(key);
    for (size_t i = 0; i < N; ++i) {
      const std::string n(name(static_cast<Enum>(i)));
      if (!U64(counts, n.c_str(), &(*out)[i])) return false;
    }
    return true;
  }
  bool Fail(const char* key) {
    if (error.empty()) error = std::string("field ") + key + " is missing or of the wrong type";
    return false;
  }
};

}  // namespace

bool ParseJson(std::string_view json, InspectorStats* stats, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  JsonReader r;
  InspectorStats s;
  const auto done = [&](bool ok) {
    if (ok) {
      *stats = std::move(s);
    } else if (error != nullptr) {
      *error = r.error.empty() ? "not a JSON object" : r.error;
    }
    return ok;
  };
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return done(false);
  }
  if (!r.U64(doc, "bytes", &s.bytes) || !r.U64(doc, "lines", &s.lines) ||
      !r.U64(doc, "empty_lines", &s.empty_lines) || !r.U64(doc, "oversize_lines", &s.oversize_lines) ||
      !r.Bool(doc, "unterminated_final_line", &s.unterminated_final_line)) {
    return done(false);
  }
  simdjson::dom::element types;
  if (doc["types"].get(types) != simdjson::SUCCESS) return done(r.Fail("types"));
  for (size_t t = 0; t < kMessageTypeCount; ++t) {
    simdjson::dom::element c;
    const std::string name(MessageTypeName(static_cast<MessageType>(t)));
    if (types[name].get(c) != simdjson::SUCCESS || !r.U64(c, "count", &s.types[t].count) ||
        !r.U64(c, "bytes", &s.types[t].bytes)) {
      return done(r.Fail("types"));
    }
  }
  simdjson::dom::element np;
  simdjson::dom::array samples;
  if (doc["non_protocol"].get(np) != simdjson::SUCCESS || !r.U64(np, "count", &s.non_protocol.count) ||
      !r.U64(np, "bytes", &s.non_protocol.bytes) || np["samples"].get(samples) != simdjson::SUCCESS) {
    return done(r.Fail("non_protocol"));
  }
  for (simdjson::dom::element e : samples) {
    LineSample& l = s.non_protocol_samples.emplace_back();
    if (!r.U64(e, "line", &l.line) || !r.U64(e, "bytes", &l.bytes) || !r.Str(e, "prefix", &l.prefix)) {
      return done(false);
    }
  }
  if (!r.NamedCounts(doc, "state_kinds", &s.state_kinds, StateKindName) ||
      !r.U64(doc, "oversize_states", &s.oversize_states) ||
      !r.Kept(doc, "latest_global", &s.latest_global) ||
      !r.Kept(doc, "latest_legacy", &s.latest_legacy) ||
      !r.NamedCounts(doc, "trace_kinds", &s.trace_kinds, TraceKindName) ||
      !r.U64(doc, "trace_errors", &s.trace_errors) || !r.U64(doc, "unkept_states", &s.unkept_states)) {
    return done(false);
  }
  simdjson::dom::array errors;
  if (doc["errors"].get(errors) != simdjson::SUCCESS) return done(r.Fail("errors"));
  for (simdjson::dom::element e : errors) {
    TraceError& t = s.errors.emplace_back();
    if (!r.U64(e, "line", &t.line) || !r.Str(e, "message", &t.message) ||
        !r.Str(e, "failure_type", &t.failure_type)) {
      return done(false);
    }
  }
  simdjson::dom::element untracked;
  if (doc["untracked"].get(untracked) != simdjson::SUCCESS) return done(r.Fail("untracked"));
  if (!untracked.is_null()) {
    s.untracked_streams = true;
    if (!r.U64(untracked, "records", &s.untracked.records) ||
        !r.U64(untracked, "record_bytes", &s.untracked.record_bytes) ||
        !r.U64(untracked, "data_bytes", &s.untracked.data_bytes) ||
        !r.U64(untracked, "states", &s.untracked.states)) {
      return done(false);
    }
  }
  simdjson::dom::array streams;
  if (doc["streams"].get(streams) != simdjson::SUCCESS) return done(r.Fail("streams"));
  for (simdjson::dom::element e : streams) {
    auto& [id, st] = s.streams.emplace_back();
    simdjson::dom::element ns;
    std::string_view ns_text;
    if (e["namespace"].get(ns) != simdjson::SUCCESS) return done(r.Fail("namespace"));
    if (!ns.is_null()) {
      if (ns.get(ns_text) != simdjson::SUCCESS) return done(r.Fail("namespace"));
      id.ns = std::string(ns_text);
    }
    if (!r.Str(e, "name", &id.name) || !r.U64(e, "records", &st.records) ||
        !r.U64(e, "record_bytes", &st.record_bytes) || !r.U64(e, "data_bytes", &st.data_bytes) ||
        !r.U64(e, "states", &st.states) ||
        !r.U64(e, "records_at_latest_state", &st.records_at_latest_state) ||
        !r.Kept(e, "latest_state", &st.latest_state) || !r.OptionalStr(e, "status", &st.status) ||
        !r.OptionalI64(e, "row_estimate", &st.row_estimate) ||
        !r.OptionalI64(e, "byte_estimate", &st.byte_estimate)) {
      return done(false);
    }
  }
  return done(true);
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
