// sluice-test-source: a source connector on the Airbyte CLI, for tests, the README's main job
// and the container backends (one static binary: no shell, no interpreter).
//
//   sluice-test-source spec
//   sluice-test-source check --config CONFIG.json
//   sluice-test-source discover --config CONFIG.json
//   sluice-test-source read --config CONFIG.json --catalog CATALOG.json [--state STATE.json]
//
// read emits the configured catalog's streams, records round-robin, each record numbered per
// stream ("id": 0, 1, ...), with a STATE every `state_every` records of a stream whose cursor
// is the next id: STREAM states (one per stream), or GLOBAL ones (every stream's cursor). With
// --state it resumes each stream from its cursor, as a source must. Between records it writes
// LOG messages and, on request, lines that are not protocol, a TRACE error, a crash or a stall.
//
// Config (every key optional):
//   {"streams": 2 | ["users", "orders"], "namespace": "public", "records_per_stream": 1000,
//    "record_bytes": 200, "state_every": 100, "state_type": "STREAM" | "GLOBAL",
//    "log_every": 0, "junk_every": 0,
//    "fail_after_records": 0,      a TRACE error, then exit 1
//    "crash_after_records": 0,     killed by SIGKILL, without a word
//    "stall_after_records": 0, "stall_seconds": 0,   stop writing for a while
//    "check_fails": false, "api_key": "..."}          a secret: never printed

#include <simdjson.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/connectors/airbyte_cli.h"

namespace {

using sluice::testing::Emit;
using sluice::testing::Json;
using sluice::testing::TraceError;

constexpr char kUsage[] =
    "usage: sluice-test-source spec | check --config FILE | discover --config FILE |\n"
    "       read --config FILE --catalog FILE [--state FILE]\n";

struct Config {
  std::vector<std::string> streams = {"stream_0", "stream_1"};
  std::string ns;
  uint64_t records_per_stream = 1000;
  uint64_t record_bytes = 200;
  uint64_t state_every = 100;
  bool global_state = false;
  uint64_t log_every = 0, junk_every = 0;
  uint64_t fail_after = 0, crash_after = 0;
  uint64_t stall_after = 0, stall_seconds = 0;
  bool check_fails = false;
};

[[noreturn]] void Usage(const std::string& error) {
  std::fprintf(stderr, "sluice-test-source: %s\n%s", error.c_str(), kUsage);
  std::exit(2);
}

std::string Descriptor(const Config& c, const std::string& stream) {
  return "{" + (c.ns.empty() ? std::string() : "\"namespace\":" + Json(c.ns) + ",") +
         "\"name\":" + Json(stream) + "}";
}

bool ReadConfig(const std::string& file, Config* c, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.load(file).get(doc); e) {
    *error = "cannot read the config " + file + ": " + simdjson::error_message(e);
    return false;
  }
  const auto count = [&](const char* key, uint64_t* out) {
    auto field = doc[key];
    if (field.error() == simdjson::NO_SUCH_FIELD || field.get(*out) == simdjson::SUCCESS) return true;
    *error = "the config " + file + ": \"" + key + "\" must be a non-negative integer";
    return false;
  };
  if (auto streams = doc["streams"]; streams.error() != simdjson::NO_SUCH_FIELD) {
    uint64_t n = 0;
    simdjson::dom::array names;
    if (streams.get(n) == simdjson::SUCCESS) {
      c->streams.clear();
      for (uint64_t i = 0; i < n; ++i) c->streams.push_back("stream_" + std::to_string(i));
    } else if (streams.get(names) == simdjson::SUCCESS) {
      c->streams.clear();
      for (simdjson::dom::element e : names) {
        std::string_view name;
        if (e.get(name) != simdjson::SUCCESS || name.empty()) {
          *error = "the config " + file + ": \"streams\" must hold non-empty names";
          return false;
        }
        c->streams.emplace_back(name);
      }
    } else {
      *error = "the config " + file + ": \"streams\" must be a count or a list of names";
      return false;
    }
  }
  std::string_view text;
  if (doc["namespace"].get(text) == simdjson::SUCCESS) c->ns = std::string(text);
  if (doc["state_type"].get(text) == simdjson::SUCCESS) {
    if (text != "STREAM" && text != "GLOBAL") {
      *error = "the config " + file + ": \"state_type\" must be STREAM or GLOBAL";
      return false;
    }
    c->global_state = text == "GLOBAL";
  }
  bool fails = false;
  if (doc["check_fails"].get(fails) == simdjson::SUCCESS) c->check_fails = fails;
  return count("records_per_stream", &c->records_per_stream) &&
         count("record_bytes", &c->record_bytes) && count("state_every", &c->state_every) &&
         count("log_every", &c->log_every) && count("junk_every", &c->junk_every) &&
         count("fail_after_records", &c->fail_after) &&
         count("crash_after_records", &c->crash_after) &&
         count("stall_after_records", &c->stall_after) &&
         count("stall_seconds", &c->stall_seconds);
}

// The streams the configured catalog selects, in its order.
std::vector<std::string> ReadCatalog(const std::string& file, const Config& c) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array streams;
  if (auto e = parser.load(file).get(doc); e) {
    Usage("cannot read the catalog " + file + ": " + simdjson::error_message(e));
  }
  if (doc["streams"].get(streams) != simdjson::SUCCESS) {
    Usage("the catalog " + file + " has no \"streams\" array");
  }
  std::vector<std::string> out;
  for (simdjson::dom::element s : streams) {
    std::string_view name;
    if (s["stream"]["name"].get(name) != simdjson::SUCCESS) {
      Usage("the catalog " + file + ": every entry needs stream.name");
    }
    bool known = false;
    for (const std::string& k : c.streams) known |= k == name;
    if (!known) Usage("the catalog " + file + " names stream '" + std::string(name) + "', which this source does not have");
    out.emplace_back(name);
  }
  return out;
}

// Each stream's cursor from a --state file: an array of state objects, STREAM or GLOBAL.
std::map<std::string, uint64_t> ReadState(const std::string& file) {
  std::map<std::string, uint64_t> cursors;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.load(file).get(doc); e) {
    Usage("cannot read the state " + file + ": " + simdjson::error_message(e));
  }
  simdjson::dom::array states;
  if (doc.get(states) != simdjson::SUCCESS) Usage("the state " + file + " must be a JSON array");
  const auto take = [&](simdjson::dom::element stream_state_holder) {
    std::string_view name;
    uint64_t cursor = 0;
    if (stream_state_holder["stream_descriptor"]["name"].get(name) == simdjson::SUCCESS &&
        stream_state_holder["stream_state"]["cursor"].get(cursor) == simdjson::SUCCESS) {
      cursors[std::string(name)] = cursor;
    }
  };
  for (simdjson::dom::element st : states) {
    std::string_view type;
    if (st["type"].get(type) != simdjson::SUCCESS) continue;
    if (type == "STREAM") {
      take(st["stream"]);
    } else if (type == "GLOBAL") {
      simdjson::dom::array per_stream;
      if (st["global"]["stream_states"].get(per_stream) == simdjson::SUCCESS) {
        for (simdjson::dom::element s : per_stream) take(s);
      }
    }
  }
  return cursors;
}

int Read(const Config& c, const std::vector<std::string>& streams,
         std::map<std::string, uint64_t> cursors) {
  static char buffer[1 << 20];
  std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  Emit(R"({"type":"LOG","log":{"level":"INFO","message":"reading )" + std::to_string(streams.size()) +
       " streams\"}}");
  const std::string payload(c.record_bytes > 120 ? c.record_bytes - 120 : 1, 'x');
  const auto state = [&](const std::string& only) {
    if (!c.global_state) {
      Emit(R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":)" +
           Descriptor(c, only) + R"(,"stream_state":{"cursor":)" + std::to_string(cursors[only]) +
           "}}}}");
      return;
    }
    std::string per_stream;
    for (const std::string& s : streams) {
      per_stream += (per_stream.empty() ? "" : ",") + std::string(R"({"stream_descriptor":)") +
                    Descriptor(c, s) + R"(,"stream_state":{"cursor":)" +
                    std::to_string(cursors[s]) + "}}";
    }
    Emit(R"({"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"source":"sluice-test-source"},"stream_states":[)" +
         per_stream + "]}}}");
  };
  uint64_t emitted = 0;
  for (bool more = true; more;) {
    more = false;
    for (const std::string& s : streams) {
      uint64_t& id = cursors[s];
      if (id >= c.records_per_stream) continue;
      more = true;
      Emit(R"({"type":"RECORD","record":{)" +
           (c.ns.empty() ? std::string() : "\"namespace\":" + Json(c.ns) + ",") +
           "\"stream\":" + Json(s) + R"(,"data":{"id":)" + std::to_string(id) +
           R"(,"payload":")" + payload + R"("},"emitted_at":)" + std::to_string(sluice::testing::NowMillis()) +
           "}}");
      ++id;
      ++emitted;
      if (c.state_every > 0 && id % c.state_every == 0 && (!c.global_state || s == streams.back())) {
        state(s);
      }
      if (c.log_every > 0 && emitted % c.log_every == 0) {
        Emit(R"({"type":"LOG","log":{"level":"INFO","message":"emitted )" + std::to_string(emitted) +
             " records\"}}");
      }
      if (c.junk_every > 0 && emitted % c.junk_every == 0) Emit("this line is not a message");
      if (c.fail_after > 0 && emitted == c.fail_after) {
        Emit(TraceError("failing on request after " + std::to_string(emitted) + " records",
                        "system_error"));
        std::fflush(stdout);
        return 1;
      }
      if (c.crash_after > 0 && emitted == c.crash_after) {
        std::fflush(stdout);
        raise(SIGKILL);
      }
      if (c.stall_after > 0 && emitted == c.stall_after) {
        std::fflush(stdout);
        sleep(static_cast<unsigned>(c.stall_seconds));
      }
    }
  }
  for (const std::string& s : streams) {
    if (!c.global_state) state(s);
  }
  if (c.global_state && !streams.empty()) state(streams.back());
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) Usage("a command is needed");
  std::string config_file, catalog_file, state_file;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string* target = args[i] == "--config"    ? &config_file
                          : args[i] == "--catalog" ? &catalog_file
                          : args[i] == "--state"   ? &state_file
                                                   : nullptr;
    if (target == nullptr || i + 1 >= args.size()) Usage("unexpected argument '" + args[i] + "'");
    *target = args[++i];
  }
  if (args[0] == "spec") {
    Emit(R"({"type":"SPEC","spec":{"documentationUrl":"https://example.invalid/sluice-test-source","connectionSpecification":{"type":"object","properties":{"streams":{},"namespace":{"type":"string"},"records_per_stream":{"type":"integer"},"record_bytes":{"type":"integer"},"state_every":{"type":"integer"},"state_type":{"type":"string","enum":["STREAM","GLOBAL"]},"api_key":{"type":"string","airbyte_secret":true}}},"supportsIncremental":true}})");
    return 0;
  }
  if (config_file.empty()) Usage(args[0] + " needs --config");
  Config config;
  std::string error;
  if (!ReadConfig(config_file, &config, &error)) {
    if (args[0] == "check") {
      Emit(R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":)" +
           Json(error) + "}}");
      return 0;
    }
    Emit(TraceError(error, "config_error"));
    return 1;
  }
  if (args[0] == "check") {
    Emit(config.check_fails
             ? R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":"the test source was told to fail its check"}})"
             : R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"SUCCEEDED"}})");
    return 0;
  }
  if (args[0] == "discover") {
    std::string streams;
    for (const std::string& s : config.streams) {
      streams += (streams.empty() ? "" : ",") + std::string(R"({"name":)") + Json(s) +
                 (config.ns.empty() ? "" : ",\"namespace\":" + Json(config.ns)) +
                 R"(,"json_schema":{"type":"object","properties":{"id":{"type":"integer"},"payload":{"type":"string"}}},"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true,"default_cursor_field":["id"]})";
    }
    Emit(R"({"type":"CATALOG","catalog":{"streams":[)" + streams + "]}}");
    return 0;
  }
  if (args[0] == "read") {
    if (catalog_file.empty()) Usage("read needs --catalog");
    const std::vector<std::string> streams = ReadCatalog(catalog_file, config);
    return Read(config, streams, state_file.empty() ? std::map<std::string, uint64_t>{}
                                                    : ReadState(state_file));
  }
  Usage("unknown command '" + args[0] + "'");
}
