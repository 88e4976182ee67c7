#include "protocol/testing/generator.h"

#include <algorithm>
#include <cstdio>

namespace sluice::protocol::testing {
namespace {

const char* const kNames[] = {"users",   "orders",      "ünïcödé",   "日本語", "with space",
                              "q\"uote", "back\\slash", "tab\tname", "emoji😀", "a",
                              "",        "x/y"};
const char* const kNamespaces[] = {"public", "", "schema-2", "名前空間", "s\"q"};
const char* const kTexts[] = {"hello",
                              "multi word text",
                              "ünï",
                              "日本",
                              "😀x",
                              "q\"q",
                              "b\\s",
                              "nl\nx",
                              "ctl\x01",
                              "/slash/",
                              "{\"not\":\"json\"}",
                              "[1,2]",
                              "stream",
                              "RECORD",
                              "},\"emitted_at\":1}}"};

}  // namespace

MessageGenerator::MessageGenerator(uint64_t seed, GeneratorOptions options)
    : options_(options), rng_(seed) {}

std::string MessageGenerator::Ws(const Style& style) {
  if (!style.weird_ws || !Chance(0.3)) return "";
  static const char kWs[] = {' ', '\t', '\r', ' '};
  std::string w;
  for (size_t n = 1 + Uniform(3); n > 0; --n) w.push_back(kWs[Uniform(4)]);
  return w;
}

std::string MessageGenerator::Str(const std::string& s, bool escape_more) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += Chance(0.5) ? "\\n" : "\\u000a";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c == '/' && Chance(0.5)) {
      out += "\\/";
    } else if (escape_more && c < 0x80 && Chance(0.3)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, Chance(0.5) ? "\\u%04x" : "\\u%04X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (escape_more && Chance(0.2)) out.insert(out.size(), "\\ud83d\\ude00");  // a surrogate pair
  out += "\"";
  return out;
}

std::string MessageGenerator::Key(const Style& style, const std::string& key) {
  return Str(key, style.escape_keys && Chance(0.5));
}

std::string MessageGenerator::Object(const Style& style,
                                     std::vector<std::pair<std::string, std::string>> fields,
                                     bool shuffle) {
  if (shuffle) std::shuffle(fields.begin(), fields.end(), rng_);
  std::string out = "{" + Ws(style);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += "," + std::string(style.spaces ? " " : "") + Ws(style);
    out += Key(style, fields[i].first) + Ws(style) + ":" + (style.spaces ? " " : "") + Ws(style) +
           fields[i].second + Ws(style);
  }
  return out + "}";
}

std::string MessageGenerator::RandomText() {
  std::string s = kTexts[Uniform(std::size(kTexts))];
  for (size_t n = Uniform(options_.max_string / 4 + 1); n > 0; --n) {
    s.push_back(static_cast<char>('a' + Uniform(26)));
  }
  return s;
}

std::string MessageGenerator::StreamName() { return kNames[Uniform(std::size(kNames))]; }

std::string MessageGenerator::Value(const Style& style, size_t depth) {
  const size_t kind = depth >= options_.max_data_depth ? 2 + Uniform(5) : Uniform(7);
  switch (kind) {
    case 0: {  // object, sometimes with keys the inspector looks for
      std::vector<std::pair<std::string, std::string>> fields;
      static const char* const kKeys[] = {"id",        "stream", "type", "data",  "emitted_at",
                                          "namespace", "name",   "ünï",  "record"};
      for (size_t n = Uniform(5); n > 0; --n) {
        fields.emplace_back(kKeys[Uniform(std::size(kKeys))], Value(style, depth + 1));
      }
      return Object(style, fields, false);
    }
    case 1: {
      std::string out = "[" + Ws(style);
      for (size_t n = Uniform(4), i = 0; i < n; ++i) {
        if (i > 0) out += "," + std::string(style.spaces ? " " : "") + Ws(style);
        out += Value(style, depth + 1) + Ws(style);
      }
      return out + "]";
    }
    case 2:
      return Str(RandomText(), Chance(0.3));
    case 3: {
      static const char* const kNumbers[] = {"0",
                                             "-1",
                                             "42",
                                             "3.25",
                                             "-0.5e10",
                                             "1E+2",
                                             "12345678901234567890123",
                                             "9223372036854775807"};
      return kNumbers[Uniform(std::size(kNumbers))];
    }
    case 4:
      return Chance(0.5) ? "true" : "false";
    case 5:
      return "null";
    default:
      return options_.big_string > 0 && Chance(0.5)
                 ? Str(std::string(options_.big_string, 'z'), false)
                 : Str(RandomText(), false);
  }
}

std::string MessageGenerator::Descriptor(const Style& style) {
  std::vector<std::pair<std::string, std::string>> fields = {{"name", Str(StreamName(), false)}};
  const size_t ns = Uniform(3);
  if (ns == 0)
    fields.emplace_back("namespace", Str(kNamespaces[Uniform(std::size(kNamespaces))], false));
  if (ns == 1) fields.emplace_back("namespace", "null");
  return Object(style, fields, true);
}

std::string MessageGenerator::CanonicalRecord() {
  Style style;
  style.spaces = Chance(0.5);
  const std::string sp = style.spaces ? " " : "";
  std::string name = StreamName();
  if (name.find_first_of("\"\\\t") != std::string::npos) name = "users";
  std::string data = Value(style, 1);
  if (data.empty() || data[0] != '{') data = "{" + Key(style, "id") + ":" + sp + data + "}";
  std::string record = "{\"type\":" + sp + "\"RECORD\"," + sp + "\"record\":" + sp + "{";
  const bool ns_first = Chance(0.5);
  const size_t ns_kind = Uniform(3);
  const std::string ns_field =
      ns_kind == 0 ? "" : "\"namespace\":" + sp + (ns_kind == 1 ? "null" : "\"public\"") + "," + sp;
  if (ns_first) record += ns_field;
  record += "\"stream\":" + sp + "\"" + name + "\"," + sp;
  if (!ns_first) record += ns_field;
  record += "\"data\":" + sp + data + "," + sp + "\"emitted_at\":" + sp +
            std::to_string(1700000000000 + Uniform(1000000)) + "}}";
  return record;
}

std::string MessageGenerator::Record(const Style& style) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"stream", Str(StreamName(), Chance(0.2))},
      {"data", Value(style, 1)},
      {"emitted_at", std::to_string(1700000000000 + Uniform(1000))}};
  const size_t ns = Uniform(4);
  if (ns == 0)
    fields.emplace_back("namespace", Str(kNamespaces[Uniform(std::size(kNamespaces))], false));
  if (ns == 1) fields.emplace_back("namespace", "null");
  if (Chance(0.1)) fields.emplace_back("meta", "{\"changes\":[]}");
  if (Chance(0.05)) fields.emplace_back("stream", "\"duplicate\"");  // the first one counts
  const std::string record = Object(style, fields, Chance(0.5));
  std::vector<std::pair<std::string, std::string>> top = {{"type", "\"RECORD\""},
                                                          {"record", record}};
  if (Chance(0.1)) top.emplace_back("extra", Value(style, 2));
  return Object(style, top, Chance(0.3));
}

std::string MessageGenerator::State(const Style& style) {
  std::vector<std::pair<std::string, std::string>> state;
  const size_t kind = Uniform(4);
  const std::string blob = Object(style, {{"cursor", Str(RandomText(), false)}, {"n", "7"}}, false);
  if (kind == 0) {
    state = {
        {"type", "\"STREAM\""},
        {"stream",
         Object(style, {{"stream_descriptor", Descriptor(style)}, {"stream_state", blob}}, true)}};
  } else if (kind == 1) {
    std::string states = "[";
    for (size_t n = Uniform(3), i = 0; i < n; ++i) {
      if (i > 0) states += ",";
      states +=
          Object(style, {{"stream_descriptor", Descriptor(style)}, {"stream_state", blob}}, true);
    }
    states += "]";
    state = {{"type", "\"GLOBAL\""},
             {"global", Object(style, {{"shared_state", blob}, {"stream_states", states}}, true)}};
  } else if (kind == 2) {
    state = {{"type", "\"LEGACY\""}, {"data", blob}};
  } else {
    state = {{"data", blob}};  // no type: LEGACY
  }
  if (Chance(0.3))
    state.emplace_back("sourceStats", "{\"recordCount\":" + std::to_string(Uniform(1000)) + ".0}");
  return Object(style, {{"type", "\"STATE\""}, {"state", Object(style, state, Chance(0.5))}},
                Chance(0.3));
}

std::string MessageGenerator::Trace(const Style& style) {
  std::vector<std::pair<std::string, std::string>> trace = {{"emitted_at", "1700000000000.0"}};
  switch (Uniform(5)) {
    case 0: {
      static const char* const kFailures[] = {"system_error", "config_error", "transient_error"};
      std::vector<std::pair<std::string, std::string>> error = {
          {"message", Str(RandomText(), Chance(0.3))}};
      if (Chance(0.7)) error.emplace_back("failure_type", Str(kFailures[Uniform(3)], false));
      if (Chance(0.3)) error.emplace_back("stack_trace", Str(RandomText(), false));
      trace.emplace_back("type", "\"ERROR\"");
      trace.emplace_back("error", Object(style, error, true));
      break;
    }
    case 1: {
      std::vector<std::pair<std::string, std::string>> estimate = {
          {"name", Str(StreamName(), false)}, {"type", "\"STREAM\""}};
      if (Chance(0.5)) estimate.emplace_back("namespace", Str("public", false));
      if (Chance(0.8)) estimate.emplace_back("row_estimate", std::to_string(Uniform(100000)));
      if (Chance(0.5))
        estimate.emplace_back("byte_estimate",
                              Chance(0.8) ? std::to_string(Uniform(1 << 30)) : "1.5e3");
      trace.emplace_back("type", "\"ESTIMATE\"");
      trace.emplace_back("estimate", Object(style, estimate, true));
      break;
    }
    case 2: {
      static const char* const kStatuses[] = {"STARTED", "RUNNING", "COMPLETE", "INCOMPLETE"};
      trace.emplace_back("type", "\"STREAM_STATUS\"");
      trace.emplace_back("stream_status", Object(style,
                                                 {{"stream_descriptor", Descriptor(style)},
                                                  {"status", Str(kStatuses[Uniform(4)], false)}},
                                                 true));
      break;
    }
    case 3:
      trace.emplace_back("type", "\"ANALYTICS\"");
      trace.emplace_back("analytics", "{\"type\":\"x\",\"value\":\"1\"}");
      break;
    default:
      trace.emplace_back("type", Chance(0.5) ? "\"SOMETHING_NEW\"" : "7");
      break;
  }
  return Object(style, {{"type", "\"TRACE\""}, {"trace", Object(style, trace, Chance(0.5))}},
                Chance(0.3));
}

std::string MessageGenerator::Other(const Style& style, const std::string& type) {
  static const char* const kPayloadKeys[] = {"log",     "spec",    "connectionStatus",
                                             "catalog", "control", "destination_catalog"};
  return Object(
      style,
      {{"type", Str(type, style.escape_keys && Chance(0.3))},
       {kPayloadKeys[Uniform(std::size(kPayloadKeys))],
        Object(style, {{"level", "\"INFO\""}, {"message", Str(RandomText(), true)}}, true)}},
      Chance(0.5));
}

std::string MessageGenerator::Message(const Style& style) {
  const size_t pick = Uniform(100);
  if (pick < 55) return Record(style);
  if (pick < 70) return State(style);
  if (pick < 82) return Trace(style);
  static const char* const kOthers[] = {"LOG",     "SPEC",    "CONNECTION_STATUS",
                                        "CATALOG", "CONTROL", "DESTINATION_CATALOG"};
  return Other(style, kOthers[Uniform(std::size(kOthers))]);
}

std::string MessageGenerator::NotProtocol() {
  Style style;
  switch (Uniform(12)) {
    case 11: {  // bytes that are not UTF-8 deep inside a long data string
      std::string pad(1 + Uniform(400), 'p');
      pad.insert(Uniform(pad.size()), Chance(0.5) ? "\xff" : "\xe6\x97");
      return "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{\"pad\":\"" + pad +
             "\"},\"emitted_at\":1}}";
    }
    case 0:
      return "Starting sync of " + RandomText();
    case 9: {  // a canonical record carrying bytes that are not UTF-8
      static const char* const kBad[] = {"\xff", "\xe6\x97", "\xc0\xaf", "\xed\xa0\x80",
                                         "\xf4\x90\x80\x80"};
      std::string m = CanonicalRecord();
      size_t at = m.find("\"stream\":") + 9;  // into the stream name, or deep in a long string
      at += m[at] == ' ' ? 2 : 1;
      std::string bad = kBad[Uniform(std::size(kBad))];
      if (Chance(0.5)) bad = "\xff" + std::string(Uniform(300), 'p') + bad;
      m.insert(at, bad);
      return m;
    }
    case 10: {  // a namespace that is neither a string nor null, sometimes in a long line
      static const char* const kNs[] = {"true", "5", "nul", "[]", "{}"};
      return std::string("{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"namespace\":") +
             kNs[Uniform(std::size(kNs))] + ",\"data\":{\"pad\":\"" +
             std::string(Uniform(400), 'p') + "\"}}}";
    }
    case 1: {  // a message cut short
      std::string m = Message(style);
      return m.substr(0, Uniform(m.size()));
    }
    case 2:
      return "{\"type\":\"NOT_A_TYPE\",\"x\":1}";
    case 3:
      return "{\"type\":\"RECORD\",\"record\":{\"data\":{}}}";  // no stream
    case 4:
      return "[\"type\",\"RECORD\"]";
    case 5:
      return "   ";
    case 6:
      return "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{}}} trailing";
    case 7:
      return "{\"type\":\"STATE\",\"state\":{\"type\":\"BOGUS\"}}";
    default:
      return "{\"type\":\"RECORD\",\"record\":{\"stream\":7,\"data\":{}}}";
  }
}

void MessageGenerator::AppendLine(std::string* out) {
  std::string line;
  if (Chance(options_.not_protocol)) {
    line = NotProtocol();
  } else if (Chance(options_.canonical)) {
    line = CanonicalRecord();
  } else {
    Style style;
    style.spaces = Chance(0.5);
    style.weird_ws = Chance(0.3);
    style.escape_keys = Chance(0.15);
    line = Ws(style) + Message(style) + Ws(style);
  }
  std::replace(line.begin(), line.end(), '\n', ' ');  // plain text must stay one line
  if (Chance(0.02)) line.clear();                     // an empty line
  out->append(line);
  out->append(Chance(0.1) ? "\r\n" : "\n");
}

}  // namespace sluice::protocol::testing
