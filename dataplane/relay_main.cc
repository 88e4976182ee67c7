// sluice-relay: the sidecar that carries a connector's stdio between named pipes and TCP.
// See the README ("sluice-relay") for the modes, flags and exit codes.

#include <absl/strings/numbers.h>
#include <absl/time/time.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dataplane/exit_codes.h"
#include "dataplane/relay.h"

namespace {

using sluice::dataplane::RelayConfig;

constexpr char kUsage[] = R"(usage:
  sluice-relay send --fifo=PATH (--listen=ADDR | --connect=ADDR) [options]
  sluice-relay recv --fifo=PATH (--listen=ADDR | --connect=ADDR) [options]
  sluice-relay logs --fifo=PATH [--name=NAME]
  sluice-relay init [--mode=0620] [--install-entrypoint=PATH] FIFO...

send reads the FIFO (the connector's stdout) and sends it over TCP; recv takes one TCP
connection and writes it into the FIFO (the connector's stdin). ADDR is host:port,
[v6addr]:port or :port.

options:
  --name=NAME              connector name for logs and metric labels (default: connector)
  --engine=E               auto | uring | splice | copy (default: auto)
  --no-inspect             do not inspect the Airbyte messages (bytes still move zero-copy)
  --metrics-addr=ADDR      serve Prometheus metrics on ADDR (/metrics)
  --summary=PATH           write the final JSON summary to PATH
  --port-file=PATH         listening: write the bound port to PATH (for --listen=HOST:0)
  --report-to=ADDR         send counters, the connector's messages and the summary, live, to
                           the orchestrator at ADDR (authenticated with the secret)
  --report-messages        with --report-to, also the connector's STATE, LOG and TRACE messages
  --secret-file=PATH       the per-sync secret, from a file
  --secret-env=NAME        ... or from this environment variable (default: SLUICE_SECRET)
  --insecure-no-auth       no handshake: for interop with plain TCP peers such as socat
  --connect-timeout=DUR    connect: retry until then (default: 120s)
  --accept-timeout=DUR     listen: wait for a peer, and for the FIFO's reader, until then (300s)
  --linger-timeout=DUR     send: wait for the peer to close after EOF (default: 60s)
  --drain-timeout=DUR      SIGTERM: time to deliver bytes in flight (default: 10s)
  --max-line-bytes=N       inspector line buffer; longer lines are followed in constant memory
  --max-state-bytes=N      larger STATE messages are counted, not kept
  --max-streams=N          streams counted one by one (default: 10000); the rest together
  --pipe-bytes=N           pipe size for splicing (default: 1048576)
)";

int stop_pipe[2] = {-1, -1};

void OnSignal(int) {
  const char c = 1;
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &c, 1);
}

int Usage(const std::string& error) {
  std::fprintf(stderr, "sluice-relay: %s\n\n%s", error.c_str(), kUsage);
  return sluice::dataplane::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? sluice::dataplane::kExitUsage : 0;
  }
  const std::string mode = argv[1];
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      positional.push_back(arg);
      continue;
    }
    arg = arg.substr(2);
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flags[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (arg == "no-inspect" || arg == "insecure-no-auth" || arg == "report-messages") {
      flags[arg] = "true";
    } else if (i + 1 < argc) {
      flags[arg] = argv[++i];
    } else {
      return Usage("--" + arg + " needs a value");
    }
  }
  const auto take = [&](const char* name, std::string* out) {
    auto it = flags.find(name);
    if (it == flags.end()) return false;
    *out = it->second;
    flags.erase(it);
    return true;
  };
  std::string v;

  signal(SIGPIPE, SIG_IGN);
  if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return sluice::dataplane::kExitIo;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: blocking calls return EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  if (mode == "init") {
    unsigned file_mode = 0620;
    if (take("mode", &v)) {
      char* end = nullptr;
      errno = 0;
      const unsigned long parsed = std::strtoul(v.c_str(), &end, 8);
      if (v.empty() || *end != '\0' || errno != 0 || parsed > 07777) {
        return Usage("--mode takes an octal mode such as 0620");
      }
      file_mode = static_cast<unsigned>(parsed);
    }
    std::string install;
    take("install-entrypoint", &install);
    if (!flags.empty()) return Usage("unknown flag --" + flags.begin()->first);
    if (positional.empty() && install.empty()) return Usage("init needs the FIFO paths to create");
    return sluice::dataplane::RunInit(positional, file_mode, install);
  }
  if (mode == "logs") {
    std::string fifo, name = "connector";
    take("fifo", &fifo);
    take("name", &name);
    if (!flags.empty()) return Usage("unknown flag --" + flags.begin()->first);
    if (fifo.empty()) return Usage("logs needs --fifo");
    return sluice::dataplane::RunLogs(fifo, name, stop_pipe[0]);
  }
  if (mode != "send" && mode != "recv") {
    return Usage("unknown mode '" + mode + "': send, recv, logs or init");
  }
  if (!positional.empty()) return Usage("unexpected argument '" + positional[0] + "'");

  RelayConfig c;
  c.mode = mode == "send" ? sluice::dataplane::Mode::kSend : sluice::dataplane::Mode::kRecv;
  take("name", &c.name);
  take("fifo", &c.fifo);
  take("listen", &c.listen);
  take("connect", &c.connect);
  if (take("engine", &v)) {
    const auto engine = sluice::dataplane::ParseEngineKind(v);
    if (!engine) {
      return Usage("--engine must be " + std::string(sluice::dataplane::kEngineChoices) + ", not '" +
                   v + "'");
    }
    c.engine = *engine;
  }
  take("metrics-addr", &c.metrics_addr);
  take("summary", &c.summary_path);
  take("port-file", &c.port_file);
  take("report-to", &c.report_to);
  take("secret-file", &c.secret_file);
  take("secret-env", &c.secret_env);
  if (take("no-inspect", &v)) c.inspect = v == "false";
  if (take("insecure-no-auth", &v)) c.insecure_no_auth = v != "false";
  if (take("report-messages", &v)) c.report_messages = v != "false";
  const std::pair<const char*, absl::Duration*> durations[] = {
      {"connect-timeout", &c.connect_timeout},
      {"accept-timeout", &c.accept_timeout},
      {"linger-timeout", &c.linger_timeout},
      {"drain-timeout", &c.drain_timeout}};
  for (const auto& [name, target] : durations) {
    if (take(name, &v) && !absl::ParseDuration(v, target)) {
      return Usage("--" + std::string(name) + " takes a duration such as 30s or 2m");
    }
  }
  const std::pair<const char*, size_t*> sizes[] = {
      {"max-line-bytes", &c.inspector.max_line_bytes},
      {"max-state-bytes", &c.inspector.max_state_bytes},
      {"max-streams", &c.inspector.max_streams},
      {"pipe-bytes", &c.pipe_bytes}};
  for (const auto& [name, target] : sizes) {
    uint64_t n = 0;
    if (take(name, &v) && (!absl::SimpleAtoi(v, &n) || n == 0)) {
      return Usage("--" + std::string(name) + " takes a positive number of bytes");
    }
    if (n > 0) *target = n;
  }
  if (!flags.empty()) return Usage("unknown flag --" + flags.begin()->first);
  return sluice::dataplane::RunTransfer(c, stop_pipe[0]);
}
