// sluice-relay: the sidecar that carries a connector's stdio between named pipes and TCP.
// See the README ("sluice-relay") for the modes, flags and exit codes.

#include <absl/flags/flag.h>
#include <absl/time/time.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "base/flags.h"
#include "dataplane/exit_codes.h"
#include "dataplane/relay.h"

namespace {

using sluice::dataplane::RelayConfig;
const RelayConfig kDefaults;

constexpr char kUsage[] = R"(usage:
  sluice-relay send --fifo=PATH (--listen=ADDR | --listen-fd=N | --connect=ADDR
                                | --connect-reported) [options]
  sluice-relay recv --fifo=PATH (--listen=ADDR | --listen-fd=N | --connect=ADDR
                                | --connect-reported) [options]
  sluice-relay logs --fifo=PATH [--name=NAME]
  sluice-relay init [--mode=0620] [--install-entrypoint=PATH] FIFO...

send reads the FIFO (the connector's stdout) and sends it over TCP; recv takes one TCP
connection and writes it into the FIFO (the connector's stdin). ADDR is host:port,
[v6addr]:port or :port. --listen-fd=N takes a TCP socket that is already bound and listening,
inherited as file descriptor N (the orchestrator's local backend binds it, so the peer's address
is known before the relay starts). --connect-reported waits for the orchestrator to name the
peer on the report channel (--report-to), then connects: the orchestrator can start a pod before
its peer's pod has an address.

options:
  --name=NAME              connector name for logs and metric labels (default: connector)
  --engine=E               auto | uring | splice | copy (default: auto)
  --no-inspect             do not inspect the Airbyte messages (bytes still move zero-copy)
  --verify                 recv: without inspecting, checksum the payload and check it against
                           the sender's (an inspecting sender sends its checksum; with
                           inspection on it is checked anyway)
  --metrics-addr=ADDR      serve Prometheus metrics on ADDR (/metrics)
  --summary=PATH           write the final JSON summary to PATH
  --port-file=PATH         listening: write the bound port to PATH (for --listen=HOST:0)
  --report-to=ADDR         send counters, the connector's messages and the summary, live, to
                           the orchestrator at ADDR (authenticated with the secret)
  --report-messages        with --report-to, also the connector's STATE, LOG and TRACE messages
  --secret-file=PATH       the per-sync secret, from a file
  --secret-env=NAME        ... or from this environment variable (default: SLUICE_SECRET)
  --insecure-no-auth       no handshake: for interop with plain TCP peers such as socat
  --connect-timeout=DUR    connect: retry until then (default: 120s; with --connect-reported,
                           waiting for the address counts too)
  --accept-timeout=DUR     listen: wait for a peer, and for the FIFO's reader, until then (300s)
  --linger-timeout=DUR     send: wait for the peer to close after EOF (default: 60s)
  --drain-timeout=DUR      SIGTERM: time to deliver bytes in flight (default: 10s)
  --max-line-bytes=N       inspector line buffer; longer lines are followed in constant memory
  --max-state-bytes=N      larger STATE messages are counted, not kept
  --max-streams=N          streams counted one by one (default: 10000); the rest together
  --pipe-bytes=N           pipe size for splicing (default: 1048576)
  --hold-until-stopped     (send, recv, logs) once done, stay until SIGTERM, then exit with the
                           result: for native sidecars, which the kubelet restarts when they exit
                           (a SIGTERM before the end does not cut the stream: the exit follows it)
)";

}  // namespace

// The flags; kUsage documents them (dashes and underscores alike: base/flags.h).
ABSL_FLAG(std::string, name, kDefaults.name, "connector name for logs and metric labels");
ABSL_FLAG(std::string, fifo, "", "the FIFO");
ABSL_FLAG(std::string, listen, "", "listen on ADDR");
ABSL_FLAG(int, listen_fd, -1, "accept on the inherited listening socket N");
ABSL_FLAG(std::string, connect, "", "connect to ADDR");
ABSL_FLAG(bool, connect_reported, false,
          "connect to the address the orchestrator names on the report channel");
ABSL_FLAG(std::string, engine, "auto", "auto | uring | splice | copy");
ABSL_FLAG(bool, no_inspect, false, "do not inspect the Airbyte messages");
ABSL_FLAG(bool, verify, false, "recv: checksum the payload against the sender's");
ABSL_FLAG(std::string, metrics_addr, "", "serve Prometheus metrics on ADDR");
ABSL_FLAG(std::string, summary, "", "write the final JSON summary to PATH");
ABSL_FLAG(std::string, port_file, "", "listening: write the bound port to PATH");
ABSL_FLAG(std::string, report_to, "", "the orchestrator's report channel");
ABSL_FLAG(bool, report_messages, false, "also report the connector's messages");
ABSL_FLAG(std::string, secret_file, "", "the per-sync secret, from a file");
ABSL_FLAG(std::string, secret_env, kDefaults.secret_env, "the secret from this variable");
ABSL_FLAG(bool, insecure_no_auth, false, "no handshake");
ABSL_FLAG(absl::Duration, connect_timeout, kDefaults.connect_timeout, "connect: retry until then");
ABSL_FLAG(absl::Duration, accept_timeout, kDefaults.accept_timeout, "listen: wait until then");
ABSL_FLAG(absl::Duration, linger_timeout, kDefaults.linger_timeout, "send: wait for the close");
ABSL_FLAG(absl::Duration, drain_timeout, kDefaults.drain_timeout,
          "SIGTERM: deliver in-flight bytes");
ABSL_FLAG(uint64_t, max_line_bytes, kDefaults.inspector.max_line_bytes, "inspector line buffer");
ABSL_FLAG(uint64_t, max_state_bytes, kDefaults.inspector.max_state_bytes, "STATE messages kept");
ABSL_FLAG(uint64_t, max_streams, kDefaults.inspector.max_streams, "streams counted one by one");
ABSL_FLAG(uint64_t, pipe_bytes, kDefaults.pipe_bytes, "pipe size for splicing");
ABSL_FLAG(std::string, mode, "0620", "init: the FIFOs' mode, octal");
ABSL_FLAG(std::string, install_entrypoint, "", "init: install sluice-entrypoint here");
ABSL_FLAG(bool, hold_until_stopped, false, "once done, stay until SIGTERM (native sidecars)");

namespace {

int stop_pipe[2] = {-1, -1};

volatile std::sig_atomic_t stopped = 0;

void OnSignal(int) {
  stopped = 1;
  const char c = 1;
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &c, 1);
}

int Usage(const std::string& error) {
  std::fprintf(stderr, "sluice-relay: %s\n\n%s", error.c_str(), kUsage);
  return sluice::dataplane::kExitUsage;
}

// With --hold-until-stopped: the relay's work is done, and it waits for SIGTERM before it exits
// with `code`. A native sidecar (a restartable init container) that exits is restarted by the
// kubelet until the connector ends; held, it is stopped once, after the connector. A SIGTERM
// that comes first does not cut the stream (see AbortFd): it is the exit, once the work is done.
int Held(int code) {
  if (!absl::GetFlag(FLAGS_hold_until_stopped)) return code;
  pollfd p{stop_pipe[0], POLLIN, 0};
  while (!stopped && poll(&p, 1, -1) <= 0) {
  }
  return code;
}

// What the transfer takes as its order to stop. Held, a SIGTERM does not cut the stream: the
// kubelet stops a native sidecar as soon as its connector exits, while the relay may still be
// handing over the stream's end (its own timeouts bound that, and the kubelet's SIGKILL after
// the grace period); a pipe nobody writes. Otherwise the signals' pipe.
int AbortFd() {
  if (!absl::GetFlag(FLAGS_hold_until_stopped)) return stop_pipe[0];
  static int never[2] = {-1, -1};
  if (never[0] < 0 && pipe2(never, O_CLOEXEC | O_NONBLOCK) != 0) return stop_pipe[0];
  return never[0];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? sluice::dataplane::kExitUsage : 0;
  }
  const std::string mode = argv[1];
  // Each mode takes its own flags.
  std::set<std::string> allowed;
  if (mode == "init") {
    allowed = {"mode", "install_entrypoint"};
  } else if (mode == "logs") {
    allowed = {"fifo", "name", "hold_until_stopped"};
  } else if (mode == "send" || mode == "recv") {
    allowed = {"name",
               "fifo",
               "listen",
               "listen_fd",
               "connect",
               "connect_reported",
               "engine",
               "no_inspect",
               "verify",
               "metrics_addr",
               "summary",
               "port_file",
               "report_to",
               "report_messages",
               "secret_file",
               "secret_env",
               "insecure_no_auth",
               "connect_timeout",
               "accept_timeout",
               "linger_timeout",
               "drain_timeout",
               "max_line_bytes",
               "max_state_bytes",
               "max_streams",
               "pipe_bytes",
               "hold_until_stopped"};
  } else {
    return Usage("unknown mode '" + mode + "': send, recv, logs or init");
  }
  const auto parsed = sluice::base::ParseFlags(argc, argv, 2, allowed);
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  const std::vector<std::string>& positional = parsed->positional;

  signal(SIGPIPE, SIG_IGN);
  if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return sluice::dataplane::kExitIo;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;  // no SA_RESTART: blocking calls return EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  if (mode == "init") {
    const std::string v = absl::GetFlag(FLAGS_mode);
    char* end = nullptr;
    errno = 0;
    const unsigned long file_mode = std::strtoul(v.c_str(), &end, 8);
    if (v.empty() || *end != '\0' || errno != 0 || file_mode > 07777) {
      return Usage("--mode takes an octal mode such as 0620");
    }
    const std::string install = absl::GetFlag(FLAGS_install_entrypoint);
    if (positional.empty() && install.empty()) return Usage("init needs the FIFO paths to create");
    return sluice::dataplane::RunInit(positional, static_cast<unsigned>(file_mode), install);
  }
  if (mode == "logs") {
    if (absl::GetFlag(FLAGS_fifo).empty()) return Usage("logs needs --fifo");
    return Held(sluice::dataplane::RunLogs(absl::GetFlag(FLAGS_fifo), absl::GetFlag(FLAGS_name),
                                           AbortFd()));
  }
  if (!positional.empty()) return Usage("unexpected argument '" + positional[0] + "'");

  RelayConfig c;
  c.mode = mode == "send" ? sluice::dataplane::Mode::kSend : sluice::dataplane::Mode::kRecv;
  c.name = absl::GetFlag(FLAGS_name);
  c.fifo = absl::GetFlag(FLAGS_fifo);
  c.listen = absl::GetFlag(FLAGS_listen);
  c.listen_fd = absl::GetFlag(FLAGS_listen_fd);
  c.connect = absl::GetFlag(FLAGS_connect);
  c.connect_reported = absl::GetFlag(FLAGS_connect_reported);
  const std::string engine_name = absl::GetFlag(FLAGS_engine);
  const auto engine = sluice::dataplane::ParseEngineKind(engine_name);
  if (!engine) {
    return Usage("--engine must be " + std::string(sluice::dataplane::kEngineChoices) + ", not '" +
                 engine_name + "'");
  }
  c.engine = *engine;
  c.metrics_addr = absl::GetFlag(FLAGS_metrics_addr);
  c.summary_path = absl::GetFlag(FLAGS_summary);
  c.port_file = absl::GetFlag(FLAGS_port_file);
  c.report_to = absl::GetFlag(FLAGS_report_to);
  c.secret_file = absl::GetFlag(FLAGS_secret_file);
  c.secret_env = absl::GetFlag(FLAGS_secret_env);
  c.inspect = !absl::GetFlag(FLAGS_no_inspect);
  c.verify = absl::GetFlag(FLAGS_verify);
  c.insecure_no_auth = absl::GetFlag(FLAGS_insecure_no_auth);
  if (c.verify && (c.mode != sluice::dataplane::Mode::kRecv || c.insecure_no_auth)) {
    return Usage(
        "--verify is for recv, and needs the secret: the sender's checksum comes in its end "
        "marker, which only an authenticated stream has");
  }
  c.report_messages = absl::GetFlag(FLAGS_report_messages);
  c.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  c.accept_timeout = absl::GetFlag(FLAGS_accept_timeout);
  c.linger_timeout = absl::GetFlag(FLAGS_linger_timeout);
  c.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  const std::pair<const char*, absl::Flag<uint64_t>*> sizes[] = {
      {"max-line-bytes", &FLAGS_max_line_bytes},
      {"max-state-bytes", &FLAGS_max_state_bytes},
      {"max-streams", &FLAGS_max_streams},
      {"pipe-bytes", &FLAGS_pipe_bytes}};
  for (const auto& [flag, value] : sizes) {
    if (absl::GetFlag(*value) == 0)
      return Usage("--" + std::string(flag) + " takes a positive number");
  }
  c.inspector.max_line_bytes = absl::GetFlag(FLAGS_max_line_bytes);
  c.inspector.max_state_bytes = absl::GetFlag(FLAGS_max_state_bytes);
  c.inspector.max_streams = absl::GetFlag(FLAGS_max_streams);
  c.pipe_bytes = absl::GetFlag(FLAGS_pipe_bytes);
  return Held(sluice::dataplane::RunTransfer(c, AbortFd()));
}
