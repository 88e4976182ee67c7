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
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>
#include <vector>

#include "base/files.h"
#include "dataplane/exit_codes.h"
#include "orchestrator/local_backend.h"
#include "orchestrator/pod.h"
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
bool WriteSecret(const std::string& path) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return false;
  std::string hex;
  for (const unsigned char b : raw) absl::StrAppendFormat(&hex, "%02x", b);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size());
  close(fd);
  return ok;
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

  Container Transfer(std::string container, std::string mode, std::string name, std::string fifo,
                     std::string where, std::string summary, bool inspect) const {
    Container c;
    c.name = std::move(container);
    c.argv = {options.relay_path,
              mode,
              "--name=" + name,
              "--fifo=" + fifo,
              where,
              "--summary=" + summary,
              "--secret-file=" + layout.Path("secret"),
              "--engine=" + spec.engine};
    if (!inspect) c.argv.push_back("--no-inspect");
    c.stderr_path = summary.substr(0, summary.size() - 5) + ".log";  // x.json -> x.log
    return c;
  }
  Container Logs(const std::string& pod, const std::string& fifo) const {
    Container c;
    c.name = "relay-stderr";
    c.argv = {options.relay_path, "logs", "--fifo=" + fifo, "--name=" + pod};
    return c;  // its stderr is ours: the connector's log lines, prefixed with the pod's name
  }
  Container Init(const std::vector<std::string>& fifos) const {
    Container c;
    c.name = "init";
    c.argv = {options.relay_path, "init"};
    c.argv.insert(c.argv.end(), fifos.begin(), fifos.end());
    return c;
  }
};

Container Main(const ConnectorSpec& connector, std::string stdin_path, std::string stdout_path,
               std::string stderr_path) {
  Container c;
  c.name = "main";
  c.argv = connector.command;
  c.env = connector.env;
  c.stdin_path = std::move(stdin_path);
  c.stdout_path = std::move(stdout_path);
  c.stderr_path = std::move(stderr_path);
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

// Per-stream record counts from a relay's summary; empty when it did not inspect.
using StreamKey = std::string;  // "namespace.name" or "name"
struct StreamCounts {
  uint64_t records = 0;
  uint64_t states = 0;
};

struct RelaySummary {
  uint64_t bytes = 0;
  bool inspected = false;
  std::map<StreamKey, StreamCounts> streams;
  std::vector<std::string> committed_states;  // raw `state` objects: global, streams, legacy
};

RelaySummary ReadSummary(const std::string& path) {
  RelaySummary out;
  simdjson::dom::parser parser;
  const std::string text = ReadFile(path);
  if (text.empty()) return out;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) return out;
  uint64_t bytes = 0;
  if (doc["relay"]["bytes"].get(bytes) == simdjson::SUCCESS) out.bytes = bytes;
  simdjson::dom::element inspector;
  if (doc["inspector"].get(inspector) != simdjson::SUCCESS || inspector.is_null()) return out;
  out.inspected = true;
  const auto keep = [&](simdjson::dom::element kept) {
    simdjson::dom::element state;
    if (!kept.is_null() && kept["state"].get(state) == simdjson::SUCCESS && !state.is_null()) {
      out.committed_states.push_back(simdjson::minify(state));
    }
  };
  simdjson::dom::element global;
  if (inspector["latest_global"].get(global) == simdjson::SUCCESS) keep(global);
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
        continue;  // a summary from another version: no counts to compare
      }
      simdjson::dom::element latest;
      if (s["latest_state"].get(latest) == simdjson::SUCCESS) keep(latest);
    }
  }
  simdjson::dom::element legacy;
  if (inspector["latest_legacy"].get(legacy) == simdjson::SUCCESS) keep(legacy);
  return out;
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

}  // namespace

int RunSync(const SyncSpec& spec, const SyncOptions& options,
            const volatile std::sig_atomic_t* interrupted) {
  const absl::Time started = absl::Now();
  Layout layout{options.workdir};
  if (layout.dir.empty()) {
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
        "orchestrator/destination-stdout.json", "destination/relay-stdin.json",
        "destination/relay-stdout.json", "source/relay-stdout.json", "report.json"}) {
    unlink(layout.Path(stale).c_str());
  }
  if (!WriteSecret(layout.Path("secret"))) {
    Log("cannot write the sync's secret into " + layout.dir);
    return kSyncStartFailed;
  }
  Log(absl::StrCat("sync ", spec.name, ": work directory ", layout.dir));

  const RelayArgs relays{options, spec, layout};
  const std::string source_pod = spec.name + "-source";
  const std::string destination_pod = spec.name + "-destination";
  const std::string orchestrator_pod = spec.name + "-orchestrator";
  const std::string src = layout.Path("source/pipes/");
  const std::string dst = layout.Path("destination/pipes/");

  LocalBackend backend;
  const absl::Time start_deadline = absl::Now() + options.start_timeout;

  // The orchestrator's end: a relay receiving the destination's stdout, and a reader keeping it.
  Pod own;
  own.name = orchestrator_pod;
  own.init_containers.push_back(relays.Init({layout.Path("orchestrator/destination-stdout")}));
  Container committed =
      relays.Transfer("relay-recv", "recv", spec.name + "-destination-stdout",
                      layout.Path("orchestrator/destination-stdout"), "--listen=127.0.0.1:0",
                      layout.Path("orchestrator/destination-stdout.json"), true);
  committed.argv.push_back("--port-file=" + layout.Path("orchestrator/destination-stdout.port"));
  own.containers.push_back(committed);
  Container keeper;
  keeper.name = "reader";
  keeper.argv = {"cat"};
  keeper.stdin_path = layout.Path("orchestrator/destination-stdout");
  keeper.stdout_path = layout.Path("destination/stdout.jsonl");
  own.containers.push_back(keeper);
  // Starts `pod`, then waits for its relay `container` to name the port it listens on (in
  // `files`.port; its log is `files`.log).
  const auto start_listening = [&](const Pod& pod, const std::string& container,
                                   const std::string& files) -> std::optional<int> {
    if (auto s = backend.StartPod(pod, start_deadline); !s.ok()) {
      Log(s.ToString());
      return std::nullopt;
    }
    auto port =
        WaitForPort(backend, pod.name, container, layout.Path(files + ".port"), start_deadline);
    if (!port) {
      Log(absl::StrCat(pod.name, "/", container,
                       " did not listen in time: ", Tail(layout.Path(files + ".log"), 5)));
    }
    return port;
  };
  const auto own_port = start_listening(own, "relay-recv", "orchestrator/destination-stdout");
  if (!own_port) return kSyncStartFailed;

  Pod destination;
  destination.name = destination_pod;
  destination.init_containers.push_back(
      relays.Init({dst + "stdin", dst + "stdout", dst + "stderr"}));
  destination.containers.push_back(
      Main(spec.destination, dst + "stdin", dst + "stdout", dst + "stderr"));
  Container stdin_relay =
      relays.Transfer("relay-stdin", "recv", destination_pod, dst + "stdin", "--listen=127.0.0.1:0",
                      layout.Path("destination/relay-stdin.json"), spec.inspect);
  stdin_relay.argv.push_back("--port-file=" + layout.Path("destination/relay-stdin.port"));
  destination.containers.push_back(stdin_relay);
  destination.containers.push_back(
      relays.Transfer("relay-stdout", "send", spec.name + "-destination-stdout", dst + "stdout",
                      absl::StrCat("--connect=127.0.0.1:", *own_port),
                      layout.Path("destination/relay-stdout.json"), false));
  destination.containers.push_back(relays.Logs(destination_pod, dst + "stderr"));
  const auto port = start_listening(destination, "relay-stdin", "destination/relay-stdin");
  if (!port) return kSyncStartFailed;

  Pod source;
  source.name = source_pod;
  source.init_containers.push_back(relays.Init({src + "stdout", src + "stderr"}));
  source.containers.push_back(Main(spec.source, "", src + "stdout", src + "stderr"));
  source.containers.push_back(relays.Transfer("relay-stdout", "send", source_pod, src + "stdout",
                                              absl::StrCat("--connect=127.0.0.1:", *port),
                                              layout.Path("source/relay-stdout.json"),
                                              spec.inspect));
  source.containers.push_back(relays.Logs(source_pod, src + "stderr"));
  if (auto s = backend.StartPod(source, start_deadline); !s.ok()) {
    Log(s.ToString());
    return kSyncStartFailed;
  }
  Log(absl::StrCat("sync ", spec.name, ": pods started; the destination listens on port ", *port));

  // Watch until everything has exited. The first failure starts a grace period in which the
  // rest may finish (the destination may still commit what it has); then SIGTERM, then SIGKILL.
  std::vector<Exited> exits;
  std::optional<Exited> cause;
  bool timed_out = false, was_interrupted = false;
  const absl::Time sync_deadline =
      spec.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture() : started + spec.timeout;
  absl::Time term_at = absl::InfiniteFuture(), kill_at = absl::InfiniteFuture();
  bool termed = false;
  while (backend.running() > 0) {
    const absl::Time now = absl::Now();
    if (*interrupted && !was_interrupted) {
      was_interrupted = true;
      Log("interrupted: stopping the pods");
      term_at = now;
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

  const RelaySummary emitted = ReadSummary(layout.Path("source/relay-stdout.json"));
  const RelaySummary delivered = ReadSummary(layout.Path("destination/relay-stdin.json"));
  const RelaySummary echoed = ReadSummary(layout.Path("orchestrator/destination-stdout.json"));

  int code = kSyncOk;
  std::string reason = "every container exited 0";
  if (was_interrupted) {
    code = kSyncInterrupted;
    reason = "interrupted";
  } else if (timed_out) {
    code = kSyncTimedOut;
    reason = "timed out";
  } else if (cause) {
    reason = absl::StrCat(cause->pod, "/", cause->container, " exited ", cause->exit_code);
    if (cause->pod == destination_pod && cause->container == "relay-stdin" &&
        cause->exit_code == dataplane::kExitReaderGone) {
      code = kSyncDestinationFailed;
      reason = "the destination stopped reading its input before the end";
    } else if (cause->is_main) {
      code = cause->pod == source_pod ? kSyncSourceFailed : kSyncDestinationFailed;
    } else {
      code = kSyncRelayFailed;
      const std::string log =
          cause->pod == source_pod            ? layout.Path("source/relay-stdout.log")
          : cause->container == "relay-stdin" ? layout.Path("destination/relay-stdin.log")
          : cause->pod == destination_pod     ? layout.Path("destination/relay-stdout.log")
                                              : layout.Path("orchestrator/destination-stdout.log");
      Log(absl::StrCat("the end of ", log, ":\n", Tail(log, 5)));
    }
  } else if (spec.inspect) {
    // What the source emitted must be what reached the destination, stream by stream.
    const auto records = [](const RelaySummary& r, const std::string& key) -> uint64_t {
      const auto it = r.streams.find(key);
      return it == r.streams.end() ? 0 : it->second.records;
    };
    for (const RelaySummary* side : {&emitted, &delivered}) {
      for (const auto& [key, c] : side->streams) {
        if (records(emitted, key) != records(delivered, key)) {
          code = kSyncRelayFailed;
          reason = absl::StrCat("stream ", key, ": ", records(emitted, key), " records emitted, ",
                                records(delivered, key), " delivered");
        }
      }
    }
    if (emitted.bytes != delivered.bytes) {
      code = kSyncRelayFailed;
      reason = absl::StrCat(emitted.bytes, " bytes emitted, ", delivered.bytes, " delivered");
    }
  }

  // The committed state: the latest STATE messages the destination echoed.
  std::string state_written = "null";
  if (!spec.state_file.empty() && !echoed.committed_states.empty()) {
    std::string states = "[";
    for (size_t i = 0; i < echoed.committed_states.size(); ++i) {
      absl::StrAppend(&states, i > 0 ? "," : "", echoed.committed_states[i]);
    }
    states += "]\n";
    if (auto written = base::WriteFileAtomically(spec.state_file, states); written.ok()) {
      state_written = protocol::JsonString(spec.state_file);
      Log(absl::StrCat("committed state (", echoed.committed_states.size(),
                       " STATE messages) "
                       "written to ",
                       spec.state_file));
    } else {
      Log(absl::StrCat("the committed state was not persisted: ", written.message()));
      if (code == kSyncOk) {
        code = kSyncRelayFailed;
        reason = "the committed state could not be written";
      }
    }
  }

  // The report: outcome, every container's exit, and the counts per stream.
  std::string report = absl::StrCat(
      "{\"sync\":", protocol::JsonString(spec.name), ",\"exit_code\":", code,
      ",\"result\":", code == kSyncOk ? "\"succeeded\"" : "\"failed\"",
      ",\"reason\":", protocol::JsonString(reason),
      ",\"seconds\":", absl::StrFormat("%.3f", absl::ToDoubleSeconds(absl::Now() - started)),
      ",\"workdir\":", protocol::JsonString(layout.dir), ",\"bytes\":{\"emitted\":", emitted.bytes,
      ",\"delivered\":", delivered.bytes, "},\"containers\":[");
  for (size_t i = 0; i < exits.size(); ++i) {
    absl::StrAppend(&report, i > 0 ? "," : "", "{\"pod\":", protocol::JsonString(exits[i].pod),
                    ",\"container\":", protocol::JsonString(exits[i].container),
                    ",\"exit_code\":", exits[i].exit_code, "}");
  }
  report += "],\"streams\":[";
  bool first = true;
  std::string table;
  for (const auto& [key, c] : emitted.streams) {
    const auto it = delivered.streams.find(key);
    const uint64_t got = it == delivered.streams.end() ? 0 : it->second.records;
    absl::StrAppend(&report, first ? "" : ",", "{\"stream\":", protocol::JsonString(key),
                    ",\"records_emitted\":", c.records, ",\"records_delivered\":", got,
                    ",\"states_emitted\":", c.states, "}");
    absl::StrAppendFormat(&table, "  %-32s %14u %14u %8u\n", key, c.records, got, c.states);
    first = false;
  }
  absl::StrAppend(&report, "],\"committed_state_file\":", state_written,
                  ",\"committed_state_messages\":", echoed.committed_states.size(), "}\n");
  for (const std::string& path : {layout.Path("report.json"), options.report_path}) {
    if (path.empty()) continue;
    if (auto s = base::WriteFileAtomically(path, report); !s.ok()) {
      Log(absl::StrCat("the report was not written: ", s.message()));
    }
  }

  if (!table.empty()) {
    std::fprintf(stderr, "  %-32s %14s %14s %8s\n%s", "stream", "records sent", "delivered",
                 "states", table.c_str());
  }
  Log(absl::StrCat("sync ", spec.name, " ", code == kSyncOk ? "succeeded" : "failed", " (", reason,
                   ", exit ", code, ") in ",
                   absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Milliseconds(1))),
                   "; report: ", layout.Path("report.json")));
  return code;
}

}  // namespace sluice::orchestrator
