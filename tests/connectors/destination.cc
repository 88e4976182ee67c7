// sluice-test-destination: a destination connector on the Airbyte CLI, for tests, the README's
// main job and the container backends (one static binary: no shell, no interpreter).
//
//   sluice-test-destination spec
//   sluice-test-destination check --config CONFIG.json
//   sluice-test-destination write --config CONFIG.json --catalog CATALOG.json  < messages
//
// It commits the way a destination must: RECORD lines are appended to one file per stream
// (DIR/<namespace>.<stream>.jsonl, or DIR/<stream>.jsonl), and a STATE is echoed on stdout only
// after every record before it is written and fsync'ed. A failure to write (a full disk) is a
// TRACE error on stdout and exit 1, and the STATE after it is never echoed: what it echoed is
// what it has, never more.
//
// Config:
//   {"destination_path": "DIR",                              required
//    "fail_after_records": N,      exit 1 with a TRACE error after N records
//    "stop_after_records": N,      exit 0 after N records without reading the rest (a
//                                  destination that stops reading its input: a bug to catch)
//    "slow": {"every_records": N, "sleep_ms": M},            sleep M ms every N records
//    "commit_every_states": N}     commit in batches: hold STATEs, and every N of them sync
//                                  and echo them all (and at the end, what is left)

#include <simdjson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/connectors/airbyte_cli.h"

namespace {

using sluice::testing::Emit;
using sluice::testing::Json;
using sluice::testing::TraceError;

constexpr char kUsage[] =
    "usage: sluice-test-destination spec | check --config FILE | write --config FILE --catalog "
    "FILE\n";

struct Config {
  std::string path;
  uint64_t fail_after = 0;
  uint64_t stop_after = 0;
  uint64_t slow_every = 0;
  uint64_t slow_ms = 0;
  uint64_t commit_every = 1;
};

// A TRACE error, as Airbyte destinations report a failure, then exit 1.
[[noreturn]] void Fail(const std::string& message, const char* failure_type = "system_error") {
  Emit(TraceError(message, failure_type));
  std::fflush(stdout);
  std::fprintf(stderr, "sluice-test-destination: %s\n", message.c_str());
  std::exit(1);
}

bool ReadConfig(const std::string& file, Config* c, std::string* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.load(file).get(doc); e) {
    *error = "cannot read the config " + file + ": " + simdjson::error_message(e);
    return false;
  }
  std::string_view path;
  if (doc["destination_path"].get(path) != simdjson::SUCCESS || path.empty()) {
    *error = "the config " + file + " needs \"destination_path\": the directory to write into";
    return false;
  }
  c->path = std::string(path);
  // Optional counts: absent is 0, anything but a non-negative integer is an error.
  const auto count = [&](simdjson::simdjson_result<simdjson::dom::element> field, const char* key,
                         uint64_t* out) {
    if (field.error() == simdjson::NO_SUCH_FIELD) return true;
    if (field.get(*out) == simdjson::SUCCESS) return true;
    *error = "the config " + file + ": \"" + key + "\" must be a non-negative integer";
    return false;
  };
  return count(doc["fail_after_records"], "fail_after_records", &c->fail_after) &&
         count(doc["stop_after_records"], "stop_after_records", &c->stop_after) &&
         count(doc.at_pointer("/slow/every_records"), "slow.every_records", &c->slow_every) &&
         count(doc.at_pointer("/slow/sleep_ms"), "slow.sleep_ms", &c->slow_ms) &&
         count(doc["commit_every_states"], "commit_every_states", &c->commit_every);
}

// One open file per stream, and which of them have writes not yet fsync'ed.
class Files {
 public:
  explicit Files(std::string dir) : dir_(std::move(dir)) {}
  ~Files() {
    for (auto& [name, f] : files_) std::fclose(f.file);
  }

  void Append(const std::string& stream, std::string_view line) {
    auto it = files_.find(stream);
    if (it == files_.end()) {
      const std::string path = dir_ + "/" + stream + ".jsonl";
      std::FILE* f = std::fopen(path.c_str(), "ae");
      if (f == nullptr) Fail("cannot open " + path + ": " + std::strerror(errno));
      it = files_.emplace(stream, Open{f, path, false}).first;
    }
    Open& f = it->second;
    if (std::fwrite(line.data(), 1, line.size(), f.file) != line.size() ||
        std::fputc('\n', f.file) == EOF) {
      Fail("cannot write " + f.path + ": " + std::strerror(errno));
    }
    f.dirty = true;
  }

  // Every record appended so far is on disk when this returns.
  void Commit() {
    for (auto& [name, f] : files_) {
      if (!f.dirty) continue;
      if (std::fflush(f.file) != 0) Fail("cannot write " + f.path + ": " + std::strerror(errno));
      if (fsync(fileno(f.file)) != 0) Fail("cannot sync " + f.path + ": " + std::strerror(errno));
      f.dirty = false;
    }
  }

 private:
  struct Open {
    std::FILE* file;
    std::string path;
    bool dirty;
  };
  const std::string dir_;
  std::map<std::string, Open> files_;
};

int Write(const Config& c) {
  struct stat st {};
  if (stat(c.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    Fail("destination_path " + c.path + " is not a directory", "config_error");
  }
  Files files(c.path);
  simdjson::ondemand::parser parser;
  std::string line;
  simdjson::padded_string padded;
  uint64_t records = 0;
  std::vector<std::string> held;  // STATEs read, not yet committed
  const auto commit = [&] {
    files.Commit();  // the records before these STATEs are on disk: now they may be echoed
    for (const std::string& state : held) Emit(state);
    std::fflush(stdout);  // echoed now, not when a buffer fills
    held.clear();
  };
  char* buf = nullptr;
  size_t cap = 0;
  for (;;) {
    const ssize_t n = getline(&buf, &cap, stdin);
    if (n < 0) break;
    line.assign(buf, static_cast<size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    padded = simdjson::padded_string(line);
    simdjson::ondemand::document doc;
    std::string_view type;
    if (parser.iterate(padded).get(doc) || doc["type"].get_string().get(type)) {
      continue;  // not a message: destinations ignore what they cannot read
    }
    if (type == "RECORD") {
      std::string_view stream, ns;
      simdjson::ondemand::object record;
      if (doc["record"].get_object().get(record) || record["stream"].get_string().get(stream)) {
        Fail("a RECORD without record.stream: " + line.substr(0, 200), "system_error");
      }
      std::string name(stream);
      doc.rewind();
      if (doc["record"]["namespace"].get_string().get(ns) == simdjson::SUCCESS && !ns.empty()) {
        name = std::string(ns) + "." + name;
      }
      files.Append(name, line);
      ++records;
      if (c.fail_after > 0 && records >= c.fail_after) {
        Fail("failing on request after " + std::to_string(records) + " records");
      }
      if (c.stop_after > 0 && records >= c.stop_after) return 0;
      if (c.slow_every > 0 && records % c.slow_every == 0) usleep(static_cast<useconds_t>(c.slow_ms * 1000));
    } else if (type == "STATE") {
      held.push_back(line);
      if (held.size() >= std::max<uint64_t>(c.commit_every, 1)) commit();
    }
  }
  std::free(buf);
  commit();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string config_file, catalog_file;
  for (size_t i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--config") {
      config_file = args[i + 1];
    } else if (args[i] == "--catalog") {
      catalog_file = args[i + 1];
    }
  }
  if (args[0] == "spec") {
    Emit(R"({"type":"SPEC","spec":{"documentationUrl":"https://example.invalid/sluice-test-destination","connectionSpecification":{"type":"object","required":["destination_path"],"properties":{"destination_path":{"type":"string"},"fail_after_records":{"type":"integer"},"stop_after_records":{"type":"integer"},"slow":{"type":"object"}}},"supported_destination_sync_modes":["append"]}})");
    return 0;
  }
  Config config;
  std::string error;
  if (config_file.empty() || !ReadConfig(config_file, &config, &error)) {
    if (args[0] == "check") {
      Emit(R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":)" +
           Json(config_file.empty() ? "--config is required" : error) + "}}");
      return 0;
    }
    std::fprintf(stderr, "sluice-test-destination: %s\n%s",
                 config_file.empty() ? "--config is required" : error.c_str(), kUsage);
    return 2;
  }
  if (args[0] == "check") {
    const bool ok = access(config.path.c_str(), W_OK) == 0;
    Emit(R"({"type":"CONNECTION_STATUS","connectionStatus":{"status":")" +
         std::string(ok ? "SUCCEEDED" : "FAILED") + "\"" +
         (ok ? "" : ",\"message\":" + Json(config.path + " is not a writable directory")) + "}}");
    return 0;
  }
  if (args[0] == "write") {
    if (catalog_file.empty()) {
      std::fprintf(stderr, "sluice-test-destination: write needs --catalog\n%s", kUsage);
      return 2;
    }
    return Write(config);
  }
  std::fprintf(stderr, "sluice-test-destination: unknown command '%s'\n%s", args[0].c_str(), kUsage);
  return 2;
}
