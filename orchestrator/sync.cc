#include "orchestrator/sync.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>
#include <vector>

#include "base/files.h"
#include "dataplane/exit_codes.h"
#include "orchestrator/committed_state.h"
#include "orchestrator/connector.h"
#include "orchestrator/control_server.h"
#include "orchestrator/display.h"
#include "orchestrator/local_backend.h"
#include "orchestrator/pod.h"
#include "orchestrator/progress.h"
#include "protocol/report.h"

namespace sluice::orchestrator {
namespace {

void Log(const std::string& message) { std::fprintf(stderr, "sluice: %s\n", message.c_str()); }

// Where everything of one sync lives on this machine.
struct Layout {
  std::string dir;
  std::string Path(const std::string& rel) const { return absl::StrCat(dir, "/", rel); }
};

bool MakeDir(const std::string& path) { return mkdir(path.c_str(), 0700) == 0 || errno == EEXIST; }

// 32 random bytes, hex, in a 0600 file: relays read it with --secret-file, so it appears in no
// command line or environment.
std::optional<std::string> WriteSecret(const std::string& path) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return std::nullopt;
  std::string hex;
  for (const unsigned char b : raw) absl::StrAppendFormat(&hex, "%02x", b);
  if (!base::WriteFileAtomically(path, hex, 0600).ok()) return std::nullopt;
  return hex;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Tail(const std::string& path, size_t lines) {
  const std::string text = ReadFile(path);
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0;) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
    ++n;
  }
  return text.substr(pos + 1);
}

// The pieces every relay of this sync shares.
struct RelayArgs {
  const SyncOptions& options;
  const SyncSpec& spec;
  const Layout& layout;
  const std::string report_to;  // the control server: counters and summaries come back there

  // A transfer relay named `name` (its reports are filed under it); its log goes to `log`.
  Container Transfer(std::string container, std::string mode, std::string name, std::string fifo,
                     std::string where, std::string log, bool inspect) const {
    Container c;
    c.name = std::move(container);
    c.argv = {options.relay_path,
              mode,
              "--name=" + name,
              "--fifo=" + fifo,
              where,
              "--report-to=" + report_to,
              "--secret-file=" + layout.Path("secret"),
              "--engine=" + std::string(dataplane::EngineKindName(spec.engine)),
              "--linger-timeout=" + absl::FormatDuration(spec.stall_timeout)};
    if (!inspect) c.argv.push_back("--no-inspect");
    c.stderr_path = std::move(log);
    return c;
  }
  Container Logs(const std::string& pod, const std::string& fifo) const {
    Container c;
    c.name = "relay-stderr";
    c.argv = {options.relay_path, "logs", "--fifo=" + fifo, "--name=" + pod};
    return c;  // its stderr is ours: the connector's log lines, prefixed with the pod's name
  }
  // Creates the pod's FIFOs and, for a connector's pod, installs sluice-entrypoint at
  // `entrypoint` (as in a pod, where the connector's image may have no shell).
  Container Init(const std::vector<std::string>& fifos, const std::string& entrypoint = "") const {
    Container c;
    c.name = "init";
    c.argv = {options.relay_path, "init"};
    if (!entrypoint.empty()) c.argv.push_back("--install-entrypoint=" + entrypoint);
    c.argv.insert(c.argv.end(), fifos.begin(), fifos.end());
    return c;
  }
};

// The connector, run by the entrypoint the init container installed, with its stdio on the
// pod's FIFOs: no shell, no redirection by the backend, as in a pod.
Container Main(const std::string& entrypoint, const std::vector<std::string>& argv,
               const ConnectorSpec& connector, const std::string& stdin_fifo,
               const std::string& stdout_fifo, const std::string& stderr_fifo) {
  Container c;
  c.name = "main";
  c.argv = {entrypoint};
  if (!stdin_fifo.empty()) c.argv.push_back("--stdin=" + stdin_fifo);
  c.argv.push_back("--stdout=" + stdout_fifo);
  c.argv.push_back("--stderr=" + stderr_fifo);
  c.argv.push_back("--");
  c.argv.insert(c.argv.end(), argv.begin(), argv.end());
  c.env = connector.env;
  c.is_main = true;
  return c;
}

// Waits for a relay's --port-file, while the relay runs.
std::optional<int> WaitForPort(LocalBackend& backend, const std::string& pod,
                               const std::string& container, const std::string& path,
                               absl::Time deadline) {
  while (absl::Now() < deadline) {
    const std::string text = ReadFile(path);
    if (!text.empty() && text.back() == '\n') return std::atoi(text.c_str());
    if (!backend.IsRunning(pod, container)) return std::nullopt;
    usleep(5000);
  }
  return std::nullopt;
}

// What a relay's summary says (dataplane/relay.cc writes it when the relay exits). A relay
// that was killed wrote none: `present` is false and nothing of it is known.
using StreamKey = std::string;  // "namespace.name" or "name"
struct StreamCounts {
  uint64_t records = 0;
  uint64_t states = 0;
};

struct RelaySummary {
  bool present = false;
  bool input_complete = false;  // it read its input to the end: its counts cover all of it
  uint64_t bytes = 0;           // moved into its output
  uint64_t unread_bytes = 0;  // recv: left in the FIFO by a connector that stopped reading
  bool inspected = false;
  uint64_t inspected_bytes = 0;
  std::map<StreamKey, StreamCounts> streams;
  bool untracked_streams = false;
  StreamCounts untracked;
  uint64_t trace_errors = 0;
  std::vector<std::pair<std::string, std::string>> errors;  // message, failure_type
  uint64_t non_protocol_lines = 0;
  std::vector<std::string> non_protocol_samples;
};

// A field that may be absent (a summary from an older relay): the default when it is.
template <typename T>
void Optional(simdjson::simdjson_result<simdjson::dom::element> field, T* out) {
  if (field.get(*out) != simdjson::SUCCESS) *out = T{};
}

RelaySummary ParseSummary(const std::optional<std::string>& summary) {
  RelaySummary out;
  if (!summary) return out;
  simdjson::dom::parser parser;
  const std::string& text = *summary;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) return out;
  if (doc["relay"]["bytes"].get(out.bytes) != simdjson::SUCCESS) {
    return out;  // from another version: nothing to rely on
  }
  out.present = true;
  Optional(doc["relay"]["unread_bytes"], &out.unread_bytes);  // absent: none measured
  Optional(doc["relay"]["input_complete"], &out.input_complete);
  simdjson::dom::element inspector;
  if (doc["inspector"].get(inspector) != simdjson::SUCCESS || inspector.is_null()) return out;
  out.inspected = inspector["bytes"].get(out.inspected_bytes) == simdjson::SUCCESS;
  simdjson::dom::array streams;
  if (inspector["streams"].get(streams) == simdjson::SUCCESS) {
    for (simdjson::dom::element s : streams) {
      std::string_view ns, name;
      const bool has_ns = s["namespace"].get(ns) == simdjson::SUCCESS;
      if (s["name"].get(name) != simdjson::SUCCESS) continue;
      StreamCounts& c =
          out.streams[has_ns ? std::string(ns) + "." + std::string(name) : std::string(name)];
      if (s["records"].get(c.records) != simdjson::SUCCESS ||
          s["states"].get(c.states) != simdjson::SUCCESS) {
        out.inspected = false;  // counts missing: none of them can be relied on
      }
    }
  }
  simdjson::dom::element untracked;
  if (inspector["untracked"].get(untracked) == simdjson::SUCCESS && !untracked.is_null()) {
    out.untracked_streams = true;
    Optional(untracked["records"], &out.untracked.records);
    Optional(untracked["states"], &out.untracked.states);
  }
  Optional(inspector["trace_errors"], &out.trace_errors);
  simdjson::dom::array errors;
  if (inspector["errors"].get(errors) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : errors) {
      std::string_view message, type;
      if (e["message"].get(message) != simdjson::SUCCESS) continue;
      Optional(e["failure_type"], &type);
      out.errors.emplace_back(std::string(message), std::string(type));
    }
  }
  Optional(inspector["non_protocol"]["count"], &out.non_protocol_lines);
  simdjson::dom::array samples;
  if (inspector["non_protocol"]["samples"].get(samples) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : samples) {
      std::string_view prefix;
      if (e["prefix"].get(prefix) == simdjson::SUCCESS) out.non_protocol_samples.emplace_back(prefix);
    }
  }
  return out;
}

// What is known of the records and bytes emitted by the source (counted by its relay) and
// delivered to the destination (counted by its input relay, as read by the destination). A
// figure that is not known is absent, never a guess.
struct Counts {
  std::optional<uint64_t> bytes_emitted, bytes_delivered;
  bool records_emitted_known = false, records_delivered_known = false;
};

Counts Known(const RelaySummary& source, const RelaySummary& destination) {
  Counts c;
  // The source relay counted what the source wrote only if it read to the end of it (a
  // failure after that, such as a reset by a failing destination, changes nothing).
  if (source.present && source.input_complete) {
    c.bytes_emitted = source.bytes;
    c.records_emitted_known = source.inspected;
  }
  if (destination.present) {
    c.bytes_delivered = destination.bytes - std::min(destination.unread_bytes, destination.bytes);
    // Its inspector saw what it wrote into the FIFO; the records are delivered ones only if the
    // destination read every byte the inspector saw.
    c.records_delivered_known =
        destination.inspected && destination.inspected_bytes == *c.bytes_delivered;
  }
  return c;
}

std::string Number(bool known, uint64_t n) { return known ? std::to_string(n) : "null"; }

// The connector's messages that are not data: TRACE errors and lines that are not protocol.
std::string Diagnostics(const RelaySummary& s) {
  if (!s.present || !s.inspected) return "null";
  std::string out = absl::StrCat("{\"trace_errors\":", s.trace_errors, ",\"errors\":[");
  for (size_t i = 0; i < s.errors.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", "{\"message\":", protocol::JsonString(s.errors[i].first),
                    ",\"failure_type\":", protocol::JsonString(s.errors[i].second), "}");
  }
  absl::StrAppend(&out, "],\"non_protocol_lines\":", s.non_protocol_lines,
                  ",\"non_protocol_samples\":[");
  for (size_t i = 0; i < s.non_protocol_samples.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", protocol::JsonString(s.non_protocol_samples[i]));
  }
  return out + "]}";
}

// Which failure a sync's result names, lowest first. By role, not by time: one failure brings
// the others within milliseconds (a destination that stops reading makes its relay exit, which
// resets the source relay's connection, which leaves the source writing into a FIFO nobody
// reads), and polling cannot order them. The source first (its end cuts the destination's
// input short), then the destination (or its input relay finding it stopped reading), then a
// relay, then a connector killed by SIGPIPE (its reader was gone). Every exit code is in the
// report.
int Blame(const Exited& e, const std::string& source_pod) {
  if (e.is_main && e.exit_code == 128 + SIGPIPE) return 3;
  if (e.is_main) return e.pod == source_pod ? 0 : 1;
  // The destination's input relay saying the destination stopped reading: the destination's.
  if (e.container == "relay-stdin" && e.exit_code == dataplane::kExitReaderGone) return 1;
  return 2;
}


// The destination's stdout, as the state keeper reads it: its echoed STATEs go to the ledger of
// committed counts, its LOG and TRACE messages to the sync's log.
class EchoObserver final : public protocol::InspectorObserver {
 public:
  explicit EchoObserver(SyncProgress* progress) : progress_(progress) {}
  void OnMessage(protocol::MessageType type, std::string_view line,
                 const protocol::StateEvent*) override {
    if (type == protocol::MessageType::kState) {
      progress_->OnEcho(line);
    } else if (type == protocol::MessageType::kLog || type == protocol::MessageType::kTrace) {
      progress_->OnConnectorMessage("destination", line);
    }
  }

 private:
  SyncProgress* const progress_;
};

// The report: the outcome, every container's exit, what is known of the counts per stream, the
// connectors' errors, and the committed state.
struct ReportInput {
  const SyncSpec& spec;
  int code;
  std::string reason;
  absl::Duration elapsed;
  std::string workdir;  // "" once removed
  const std::vector<Exited>& exits;
  const RelaySummary& emitted;
  const RelaySummary& delivered;
  const RelaySummary& echoed;
  const CommittedState& state;
  std::string state_file;  // "" when none was written
  const ProgressView& progress;  // committed counts
};

std::string Report(const ReportInput& r, std::string* table) {
  const Counts known = Known(r.emitted, r.delivered);
  const auto optional = [](const std::optional<uint64_t>& n) {
    return n ? std::to_string(*n) : std::string("null");
  };
  std::string report = absl::StrCat(
      "{\"sync\":", protocol::JsonString(r.spec.name), ",\"exit_code\":", r.code,
      ",\"result\":", r.code == kSyncOk ? "\"succeeded\"" : "\"failed\"",
      ",\"reason\":", protocol::JsonString(r.reason),
      ",\"seconds\":", absl::StrFormat("%.3f", absl::ToDoubleSeconds(r.elapsed)),
      ",\"workdir\":", r.workdir.empty() ? "null" : protocol::JsonString(r.workdir),
      ",\"bytes\":{\"emitted\":", optional(known.bytes_emitted),
      ",\"delivered\":", optional(known.bytes_delivered), "},\"containers\":[");
  for (size_t i = 0; i < r.exits.size(); ++i) {
    absl::StrAppend(&report, i > 0 ? "," : "", "{\"pod\":", protocol::JsonString(r.exits[i].pod),
                    ",\"container\":", protocol::JsonString(r.exits[i].container),
                    ",\"exit_code\":", r.exits[i].exit_code, "}");
  }
  report += "],\"streams\":[";
  // Every stream either side saw, emitted first.
  std::map<StreamKey, std::pair<const StreamCounts*, const StreamCounts*>> streams;
  for (const auto& [key, c] : r.emitted.streams) streams[key].first = &c;
  for (const auto& [key, c] : r.delivered.streams) streams[key].second = &c;
  bool first = true;
  for (const auto& [key, pair] : streams) {
    const StreamCounts none;
    const StreamCounts& e = pair.first != nullptr ? *pair.first : none;
    const StreamCounts& d = pair.second != nullptr ? *pair.second : none;
    const std::string emitted = Number(known.records_emitted_known, e.records);
    const std::string delivered = Number(known.records_delivered_known, d.records);
    const auto c = r.progress.committed.find(key);
    const uint64_t committed = c == r.progress.committed.end() ? 0 : c->second;
    absl::StrAppend(&report, first ? "" : ",", "{\"stream\":", protocol::JsonString(key),
                    ",\"records_emitted\":", emitted, ",\"records_delivered\":", delivered,
                    ",\"records_committed\":", committed,
                    ",\"states_emitted\":", Number(known.records_emitted_known, e.states), "}");
    absl::StrAppendFormat(table, "  %-32s %14s %14s %14u %8s\n", key,
                          known.records_emitted_known ? emitted : "?",
                          known.records_delivered_known ? delivered : "?", committed,
                          known.records_emitted_known ? std::to_string(e.states) : "?");
    first = false;
  }
  report += "]";
  if (r.emitted.untracked_streams || r.delivered.untracked_streams) {
    absl::StrAppend(&report, ",\"untracked_streams\":{\"records_emitted\":",
                    Number(known.records_emitted_known, r.emitted.untracked.records),
                    ",\"records_delivered\":",
                    Number(known.records_delivered_known, r.delivered.untracked.records), "}");
  }
  absl::StrAppend(&report, ",\"source\":", Diagnostics(r.emitted),
                  ",\"destination\":", Diagnostics(r.echoed),
                  ",\"committed_state_file\":",
                  r.state_file.empty() ? "null" : protocol::JsonString(r.state_file),
                  ",\"committed_state_messages\":", r.state.messages,
                  ",\"committed_state_complete\":", r.state.complete ? "true" : "false",
                  ",\"committed_counts_exact\":", r.progress.committed_exact ? "true" : "false",
                  "}\n");
  return report;
}

void WriteReport(const std::string& report, const std::string& workdir, const SyncOptions& options) {
  for (const std::string& path :
       {workdir.empty() ? std::string() : workdir + "/report.json", options.report_path}) {
    if (path.empty()) continue;
    if (auto s = base::WriteFileAtomically(path, report); !s.ok()) {
      Log(absl::StrCat("the report was not written: ", s.message()));
    }
  }
}

// The verdict on a sync whose containers have all exited: its exit code and the reason.
std::pair<int, std::string> Judge(const SyncSpec& spec, const std::optional<Exited>& cause,
                                  const std::string& source_pod,
                                  const std::string& destination_pod, const RelaySummary& emitted,
                                  const RelaySummary& delivered, const Layout& layout) {
  if (cause) {
    std::string reason = absl::StrCat(cause->pod, "/", cause->container, " exited ", cause->exit_code);
    if (cause->pod == destination_pod && cause->container == "relay-stdin" &&
        cause->exit_code == dataplane::kExitReaderGone) {
      reason = "the destination stopped reading its input before the end";
      if (delivered.present && delivered.unread_bytes > 0) {
        absl::StrAppend(&reason, ": ", delivered.unread_bytes, " bytes it never read");
      }
      return {kSyncDestinationFailed, reason};
    }
    if (cause->is_main) {
      const bool source = cause->pod == source_pod;
      // The connector's own word on why, when it gave one.
      if (source && emitted.present && !emitted.errors.empty()) {
        const auto& [message, type] = emitted.errors.back();
        absl::StrAppend(&reason, ": ", message, type.empty() ? "" : " (" + type + ")");
      }
      return {source ? kSyncSourceFailed : kSyncDestinationFailed, reason};
    }
    const std::string log =
        cause->pod == source_pod            ? layout.Path("source/relay-stdout.log")
        : cause->container == "relay-stdin" ? layout.Path("destination/relay-stdin.log")
        : cause->pod == destination_pod     ? layout.Path("destination/relay-stdout.log")
                                            : layout.Path("orchestrator/destination-stdout.log");
    Log(absl::StrCat("the end of ", log, ":\n", Tail(log, 5)));
    return {kSyncRelayFailed, reason};
  }
  if (!spec.inspect) return {kSyncOk, "every container exited 0"};
  // Every container exited 0: what the source emitted must be what reached the destination,
  // stream by stream, and all of it must be known.
  const Counts known = Known(emitted, delivered);
  if (!known.records_emitted_known || !known.records_delivered_known) {
    return {kSyncRelayFailed, "every container exited 0, but the relays' counts are missing"};
  }
  const auto records = [](const RelaySummary& r, const std::string& key) -> uint64_t {
    const auto it = r.streams.find(key);
    return it == r.streams.end() ? 0 : it->second.records;
  };
  for (const RelaySummary* side : {&emitted, &delivered}) {
    for (const auto& [key, c] : side->streams) {
      if (records(emitted, key) != records(delivered, key)) {
        return {kSyncRelayFailed, absl::StrCat("stream ", key, ": ", records(emitted, key),
                                               " records emitted, ", records(delivered, key),
                                               " delivered")};
      }
    }
  }
  if (emitted.untracked.records != delivered.untracked.records) {
    return {kSyncRelayFailed,
            absl::StrCat("streams beyond the relays' cap: ", emitted.untracked.records,
                         " records emitted, ", delivered.untracked.records, " delivered")};
  }
  if (*known.bytes_emitted != *known.bytes_delivered) {
    return {kSyncRelayFailed, absl::StrCat(*known.bytes_emitted, " bytes emitted, ",
                                           *known.bytes_delivered, " delivered")};
  }
  return {kSyncOk, "every container exited 0 and the counts agree"};
}

}  // namespace

int RunSync(const SyncSpec& spec, const SyncOptions& options,
            const volatile std::sig_atomic_t* interrupted) {
  const absl::Time started = absl::Now();
  Layout layout{options.workdir};
  const bool own_workdir = layout.dir.empty();
  if (own_workdir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/sluice-", spec.name, "-XXXXXX");
    if (mkdtemp(templ.data()) == nullptr) {
      Log(absl::StrCat("cannot create a work directory under ", tmp != nullptr ? tmp : "/tmp", ": ",
                       std::strerror(errno), "; give one with --workdir"));
      return kSyncStartFailed;
    }
    layout.dir = templ;
  }
  for (const char* d :
       {"", "/source", "/source/pipes", "/destination", "/destination/pipes", "/orchestrator"}) {
    if (!MakeDir(layout.dir + d)) {
      Log(absl::StrCat("cannot create ", layout.dir, d, ": ", std::strerror(errno)));
      return kSyncStartFailed;
    }
  }
  // A work directory used before keeps its FIFOs; what the last run wrote must not be taken
  // for this one's (a stale port file would send the source to a dead port).
  for (const char* stale :
       {"orchestrator/destination-stdout.port", "destination/relay-stdin.port",
        "source/state.json",
        "report.json"}) {
    unlink(layout.Path(stale).c_str());
  }
  const std::optional<std::string> secret = WriteSecret(layout.Path("secret"));
  if (!secret) {
    Log("cannot write the sync's secret into " + layout.dir);
    return kSyncStartFailed;
  }
  Log(absl::StrCat("sync ", spec.name, ": work directory ", layout.dir));

  const std::string source_pod = spec.name + "-source";
  const std::string destination_pod = spec.name + "-destination";
  std::vector<Exited> exits;
  const auto finish = [&](int code, std::string reason, const RelaySummary& emitted,
                          const RelaySummary& delivered, const RelaySummary& echoed,
                          const CommittedState& state, const std::string& state_file,
                          const ProgressView& progress_view) {
    // The secret and the connectors' configs are never left behind; the rest of the work
    // directory is kept for debugging after a failure, or on request.
    unlink(layout.Path("secret").c_str());
    RemoveConnectorFiles(layout.Path("source"));
    RemoveConnectorFiles(layout.Path("destination"));
    const bool remove = own_workdir && code == kSyncOk && !options.keep_workdir;
    std::string table;
    const std::string report = Report({spec, code, reason, absl::Now() - started,
                                       remove ? "" : layout.dir, exits, emitted, delivered, echoed,
                                       state, state_file, progress_view},
                                      &table);
    WriteReport(report, remove ? "" : layout.dir, options);
    if (remove) std::filesystem::remove_all(layout.dir);
    if (!table.empty()) {
      std::fprintf(stderr, "  %-32s %14s %14s %14s %8s\n%s", "stream", "emitted", "delivered",
                   "committed", "states", table.c_str());
    }
    Log(absl::StrCat("sync ", spec.name, " ", code == kSyncOk ? "succeeded" : "failed", " (",
                     reason, ", exit ", code, ") in ",
                     absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Milliseconds(1))),
                     remove ? (options.report_path.empty() ? std::string()
                                                           : "; report: " + options.report_path)
                            : "; report: " + layout.Path("report.json")));
    return code;
  };
  const auto start_failed = [&](const std::string& why) {
    Log(why);
    return finish(kSyncStartFailed, why, {}, {}, {}, {}, "", {});
  };
  // Until the sync ends, the report says it runs: a report found after a crash tells the truth.
  WriteReport(absl::StrCat("{\"sync\":", protocol::JsonString(spec.name),
                           ",\"result\":\"running\",\"workdir\":", protocol::JsonString(layout.dir),
                           "}\n"),
              layout.dir, options);

  // The connectors' command lines; on the Airbyte CLI, with their files in the work directory.
  // The source resumes from the state the last sync committed.
  std::optional<std::string> resume;
  if (!spec.state_file.empty()) resume = StateArgument(ReadFile(spec.state_file));
  auto source_argv = ConnectorCommand(spec.source, "read", layout.Path("source"),
                                      {.catalog = spec.catalog_json, .state = resume});
  if (!source_argv.ok()) return start_failed(std::string(source_argv.status().message()));
  auto destination_argv = ConnectorCommand(spec.destination, "write", layout.Path("destination"),
                                           {.catalog = spec.catalog_json, .state = std::nullopt});
  if (!destination_argv.ok()) return start_failed(std::string(destination_argv.status().message()));
  if (resume) Log(absl::StrCat("the source resumes from the state committed in ", spec.state_file));

  // The relays report to the orchestrator live, on a channel authenticated with the secret.
  SyncProgress progress(source_pod);
  auto control = ControlServer::Start({"127.0.0.1", 0}, *secret, &progress);
  if (!control.ok()) return start_failed(std::string(control.status().message()));
  EchoObserver echoes(&progress);

  const RelayArgs relays{options, spec, layout, absl::StrCat("127.0.0.1:", (*control)->port())};
  const std::string src = layout.Path("source/pipes/");
  const std::string dst = layout.Path("destination/pipes/");

  LocalBackend backend;
  const absl::Time start_deadline = absl::Now() + options.start_timeout;

  // The orchestrator's end: a relay receiving the destination's stdout into a FIFO, and the
  // keeper reading it, which persists the committed state as the destination echoes it.
  Pod own;
  own.name = spec.name + "-orchestrator";
  own.init_containers.push_back(relays.Init({layout.Path("orchestrator/destination-stdout")}));
  Container committed =
      relays.Transfer("relay-recv", "recv", spec.name + "-echo",
                      layout.Path("orchestrator/destination-stdout"), "--listen=127.0.0.1:0",
                      layout.Path("orchestrator/destination-stdout.log"), true);
  committed.argv.push_back("--port-file=" + layout.Path("orchestrator/destination-stdout.port"));
  own.containers.push_back(committed);
  // Starts `pod`, then waits for its relay `container` to name the port it listens on (in
  // `files`.port; its log is `files`.log).
  const auto start_listening = [&](const Pod& pod, const std::string& container,
                                   const std::string& files) -> absl::StatusOr<int> {
    if (auto s = backend.StartPod(pod, start_deadline); !s.ok()) return s;
    auto port =
        WaitForPort(backend, pod.name, container, layout.Path(files + ".port"), start_deadline);
    if (!port) {
      return absl::DeadlineExceededError(absl::StrCat(
          pod.name, "/", container, " did not listen in time: ", Tail(layout.Path(files + ".log"), 5)));
    }
    return *port;
  };
  const auto own_port = start_listening(own, "relay-recv", "orchestrator/destination-stdout");
  if (!own_port.ok()) return start_failed(std::string(own_port.status().message()));
  // The FIFO exists (its init container made it) and the relay opens it only once the
  // destination's relay connects: the keeper reads it from the start.
  auto keeper = StateKeeper::Start(layout.Path("orchestrator/destination-stdout"), spec.state_file,
                                   options.state_write_interval, &echoes);
  if (!keeper.ok()) return start_failed(std::string(keeper.status().message()));

  Pod destination;
  destination.name = destination_pod;
  destination.init_containers.push_back(
      relays.Init({dst + "stdin", dst + "stdout", dst + "stderr"}, dst + "sluice-entrypoint"));
  destination.containers.push_back(
      Main(dst + "sluice-entrypoint", *destination_argv, spec.destination, dst + "stdin",
           dst + "stdout", dst + "stderr"));
  Container stdin_relay =
      relays.Transfer("relay-stdin", "recv", destination_pod, dst + "stdin", "--listen=127.0.0.1:0",
                      layout.Path("destination/relay-stdin.log"), spec.inspect);
  stdin_relay.argv.push_back("--port-file=" + layout.Path("destination/relay-stdin.port"));
  destination.containers.push_back(stdin_relay);
  destination.containers.push_back(
      relays.Transfer("relay-stdout", "send", spec.name + "-destination-stdout", dst + "stdout",
                      absl::StrCat("--connect=127.0.0.1:", *own_port),
                      layout.Path("destination/relay-stdout.log"), false));
  destination.containers.push_back(relays.Logs(destination_pod, dst + "stderr"));
  const auto port = start_listening(destination, "relay-stdin", "destination/relay-stdin");
  if (!port.ok()) return start_failed(std::string(port.status().message()));

  Pod source;
  source.name = source_pod;
  source.init_containers.push_back(
      relays.Init({src + "stdout", src + "stderr"}, src + "sluice-entrypoint"));
  source.containers.push_back(
      Main(src + "sluice-entrypoint", *source_argv, spec.source, "", src + "stdout",
           src + "stderr"));
  Container source_relay = relays.Transfer("relay-stdout", "send", source_pod, src + "stdout",
                                           absl::StrCat("--connect=127.0.0.1:", *port),
                                           layout.Path("source/relay-stdout.log"), spec.inspect);
  source_relay.argv.push_back("--report-messages");  // its STATEs make the committed counts
  source.containers.push_back(source_relay);
  source.containers.push_back(relays.Logs(source_pod, src + "stderr"));
  if (auto s = backend.StartPod(source, start_deadline); !s.ok()) {
    return start_failed(std::string(s.message()));
  }
  Log(absl::StrCat("sync ", spec.name, ": pods started; the destination listens on port ", *port));

  // Watch until everything has exited. The first failure starts a grace period in which the
  // rest may finish (the destination may still commit what it has); then SIGTERM, then SIGKILL.
  std::optional<Exited> cause;
  bool timed_out = false, was_interrupted = false, no_heartbeat = false;
  ProgressDisplay display(spec.name, source_pod, destination_pod, stderr);
  const absl::Time pods_started = absl::Now();
  absl::Time next_look = absl::Now();
  const absl::Time sync_deadline =
      spec.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : started + spec.timeout;
  absl::Time term_at = absl::InfiniteFuture(), kill_at = absl::InfiniteFuture();
  absl::Time source_kill_at = absl::InfiniteFuture();  // a source stopped for its heartbeat
  bool termed = false;
  while (backend.running() > 0) {
    const absl::Time now = absl::Now();
    if (*interrupted && !was_interrupted) {
      was_interrupted = true;
      Log("interrupted: stopping the pods");
      term_at = now;
    }
    // About once a second: the display, and the source's heartbeat. A source that runs and
    // sends nothing for heartbeat_timeout is stuck, as the platform judged it.
    if (now >= next_look) {
      next_look = now + absl::Milliseconds(250);
      const ProgressView view = progress.View();
      display.Tick(view, now);
      const auto source_relay = view.relays.find(source_pod);
      const absl::Time heard =
          std::max(pods_started, source_relay == view.relays.end()
                                     ? absl::InfinitePast()
                                     : source_relay->second.last_bytes_change);
      if (!no_heartbeat && !cause && now - heard > spec.heartbeat_timeout &&
          backend.IsRunning(source_pod, "main")) {
        // Only the source is stopped: its relay then ends the stream, and the destination
        // commits what it received before it exits, as after any other failure.
        no_heartbeat = true;
        display.Clear();
        Log(absl::StrCat("the source sent nothing for ", absl::FormatDuration(spec.heartbeat_timeout),
                         " (heartbeat_timeout): stopping it"));
        backend.Signal(source_pod, "main", SIGTERM);
        source_kill_at = now + options.kill_grace;
      }
      if (now >= source_kill_at) {
        backend.Signal(source_pod, "main", SIGKILL);
        source_kill_at = absl::InfiniteFuture();
      }
    }
    if (now >= sync_deadline && !timed_out) {
      timed_out = true;
      Log(absl::StrCat("the sync ran past its timeout (", absl::FormatDuration(spec.timeout),
                       "): stopping the pods"));
      term_at = now;
    }
    if (now >= term_at && !termed) {
      termed = true;
      backend.SignalAll(SIGTERM);
      kill_at = now + options.kill_grace;
    }
    if (now >= kill_at) {
      Log("pods still running after SIGTERM: killing them");
      backend.SignalAll(SIGKILL);
      kill_at = absl::InfiniteFuture();
    }
    const std::vector<Exited> sweep =
        backend.WaitAny(std::min({now + absl::Milliseconds(100), term_at, kill_at}));
    if (!sweep.empty()) display.Clear();
    for (const Exited& e : sweep) {
      exits.push_back(e);
      Log(absl::StrCat(e.pod, "/", e.container, " exited ", e.exit_code));
    }
    for (const Exited& e : sweep) {
      if (e.exit_code != 0 && (!cause || Blame(e, source_pod) < Blame(*cause, source_pod))) {
        if (!cause) term_at = std::min(term_at, absl::Now() + options.failure_grace);
        cause = e;
      }
    }
  }

  // Every relay has exited: what they sent on their channels is read, summaries included.
  (*control)->Drain(absl::Now() + absl::Seconds(5));
  const ProgressView view = progress.View();
  const auto summary = [&](const std::string& relay) -> std::optional<std::string> {
    const auto it = view.relays.find(relay);
    return it == view.relays.end() ? std::nullopt : it->second.summary;
  };
  const RelaySummary emitted = ParseSummary(summary(source_pod));
  const RelaySummary delivered = ParseSummary(summary(destination_pod));
  // The destination's stdout, as the keeper read it (its relay's summary says the same, but
  // only once it exits, and not at all when it was killed).
  StateKeeper::Outcome echo = (*keeper)->Finish();
  RelaySummary echoed;
  echoed.present = echoed.inspected = true;
  echoed.trace_errors = echo.stats.trace_errors;
  for (const protocol::TraceError& e : echo.stats.errors) echoed.errors.emplace_back(e.message, e.failure_type);
  echoed.non_protocol_lines = echo.stats.non_protocol.count;
  for (const protocol::LineSample& l : echo.stats.non_protocol_samples) {
    echoed.non_protocol_samples.push_back(l.prefix);
  }

  display.Clear();
  auto [code, reason] =
      was_interrupted ? std::pair<int, std::string>{kSyncInterrupted, "interrupted"}
      : timed_out     ? std::pair<int, std::string>{kSyncTimedOut, "timed out"}
      : no_heartbeat
          ? std::pair<int, std::string>{kSyncSourceFailed,
                                        absl::StrCat("the source sent nothing for ",
                                                     absl::FormatDuration(spec.heartbeat_timeout),
                                                     " (heartbeat_timeout) while it ran")}
          : Judge(spec, cause, source_pod, destination_pod, emitted, delivered, layout);

  // The committed state: written as the destination echoed it, and once more now.
  std::string state_written;
  if (!spec.state_file.empty() && echo.state.echoed > 0) {
    if (echo.written.ok()) {
      state_written = spec.state_file;
      Log(absl::StrCat("committed state (", echo.state.messages, " STATE messages) written to ",
                       spec.state_file));
    } else {
      Log(absl::StrCat("the committed state was not persisted: ", echo.written.message()));
      if (code == kSyncOk) {
        code = kSyncRelayFailed;
        reason = "the committed state could not be written";
      }
    }
  }
  if (!echo.state.complete) {
    Log("WARNING: some STATE messages the destination echoed were too large (or too many) to "
        "keep: the committed state lacks those streams, and the next sync reads them again");
  }
  if (!view.committed_exact) {
    Log("WARNING: the committed counts are not exact: more STATEs were in flight than the "
        "ledger holds, or some could not be matched");
  }
  return finish(code, reason, emitted, delivered, echoed, echo.state, state_written, progress.View());
}

}  // namespace sluice::orchestrator
