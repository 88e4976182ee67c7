// sluice: runs a sync from its spec, prints its manifests, and runs a connector's spec, check
// and discover.
//
//   sluice run sync.yaml [--backend=local|podman|kubernetes] [--relay=PATH] [--workdir=DIR]
//              [--report=FILE] [--kubeconfig=F] [--context=C] [--namespace=N]
//              [--advertise-address=IP]
//   sluice render sync.yaml [--backend=kubernetes|podman] [--sync-id=ID] [--workdir=DIR]
//   sluice spec|check|discover connector.yaml [--timeout=DUR]

#include <absl/flags/flag.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/flags.h"
#include "orchestrator/backend.h"
#include "orchestrator/connector.h"
#include "orchestrator/plan.h"
#include "orchestrator/render.h"
#include "orchestrator/spec.h"
#include "orchestrator/sync.h"

namespace {

constexpr char kUsage[] = R"(usage:
  sluice run SPEC.yaml [options]
  sluice render SPEC.yaml [--backend=kubernetes|podman] [--sync-id=ID] [--workdir=DIR]
  sluice spec CONNECTOR.yaml       the connector's SPEC (its config's schema)
  sluice check CONNECTOR.yaml      whether it can connect with its config
  sluice discover CONNECTOR.yaml   the streams it offers (a CATALOG)

Runs the sync SPEC.yaml describes: a source pod and a destination pod, each an init container,
the connector as its main container and sluice-relay sidecars, joined by authenticated TCP.

options:
  --backend=B         where the pods run: local (the default: processes on this machine),
                      podman (real containers, `podman kube play` of the rendered manifests)
                      or kubernetes (the API server of the kubeconfig, or of the cluster this
                      runs in)
  --relay=PATH        the sluice-relay binary (default: next to sluice, else from PATH)
  --workdir=DIR       pipes, secret, logs and summaries (default: a new directory in $TMPDIR,
                      removed after a success; kept after a failure, without the secret)
  --keep-workdir      keep that new directory after a success too
  --report=FILE       also write the JSON report here

kubernetes options:
  --kubeconfig=FILE   the kubeconfig (default: $KUBECONFIG, in a pod its service account, else
                      ~/.kube/config)
  --context=NAME      the kubeconfig's context (default: its current context)
  --namespace=NS      where the pods and the Secret go (default: the context's, in a pod its own)
  --advertise-address=IP
                      where the pods reach this orchestrator, which listens for their relays'
                      reports and the destination's STATE echoes on ports the kernel picks
                      (required outside a cluster; in a pod, $POD_IP or its own address)

render prints the manifests of SPEC.yaml's sync as YAML: the Secret and the Pods (kubernetes,
the default), or the pods `sluice run --backend=podman` plays. Endpoints are resolved when the
sync runs: they print as ${endpoint:POD/PORT}; podman's secret directory as ${workdir} unless
--workdir is given. The Secret holds a new relay secret and the connectors' configs.

CONNECTOR.yaml holds one connector as a sync spec's source or destination does (command,
config or config_file, env); spec, check and discover print its answer as JSON on stdout.

exit codes of run: 0 ok, 2 usage or spec error, 20 source failed, 21 destination failed,
22 relay failed or counts differ, 23 timed out, 24 a pod did not start, 143 interrupted
exit codes of spec, check, discover: 0 ok, 1 check answered FAILED, 2 usage or spec error,
20 the connector failed or gave no answer (or --timeout, 5m, passed)
)";

volatile std::sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

int Usage(const std::string& error) {
  std::fprintf(stderr, "sluice: %s\n\n%s", error.c_str(), kUsage);
  return sluice::orchestrator::kSyncUsage;
}

// sluice-relay from the directory of this binary when it is there (a build tree, an install).
std::string DefaultRelay() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string dir(self, static_cast<size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    for (const char* candidate : {"sluice-relay", "../dataplane/sluice-relay"}) {
      const std::string path = dir + candidate;
      if (access(path.c_str(), X_OK) == 0) return path;
    }
  }
  return "sluice-relay";
}

}  // namespace

// The flags of every command; kUsage documents them (dashes and underscores alike:
// base/flags.h). Each command takes its own.
ABSL_FLAG(std::string, backend, "",
          "run: local | podman | kubernetes; render: kubernetes | podman");
ABSL_FLAG(std::string, relay, "", "run: the sluice-relay binary");
ABSL_FLAG(std::string, workdir, "", "run, render: the work directory");
ABSL_FLAG(bool, keep_workdir, false, "run: keep the work directory after a success");
ABSL_FLAG(std::string, report, "", "run: also write the JSON report here");
ABSL_FLAG(std::string, sync_id, "", "render: the sync id to label the objects with");
ABSL_FLAG(std::string, kubeconfig, "", "run --backend=kubernetes: the kubeconfig");
ABSL_FLAG(std::string, context, "", "run --backend=kubernetes: the kubeconfig's context");
ABSL_FLAG(std::string, namespace, "", "run --backend=kubernetes: the namespace");
ABSL_FLAG(std::string, advertise_address, "",
          "run --backend=kubernetes: where the pods reach this orchestrator");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(5), "spec, check, discover: the deadline");

namespace {

// The one spec file a command takes, after its flags.
absl::StatusOr<std::string> OneFile(const sluice::base::ParsedFlags& parsed, const char* what) {
  if (parsed.positional.size() != 1) {
    return absl::InvalidArgumentError(parsed.positional.empty()
                                          ? std::string("give the ") + what
                                          : "one " + std::string(what) + " at a time");
  }
  return parsed.positional[0];
}

int Verb(const std::string& verb, const sluice::base::ParsedFlags& parsed) {
  auto path = OneFile(parsed, "connector: sluice VERB CONNECTOR.yaml");
  if (!path.ok()) return Usage(std::string(path.status().message()));
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (timeout <= absl::ZeroDuration())
    return Usage("--timeout takes a positive duration such as 90s or 5m");
  auto connector = sluice::orchestrator::LoadConnectorSpec(*path);
  if (!connector.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(connector.status().message()).c_str());
    return sluice::orchestrator::kSyncUsage;
  }
  if (!connector->config_json && verb != "spec") {
    return Usage(*path + ": " + verb + " needs the connector's config (config: or config_file:)");
  }
  signal(SIGPIPE, SIG_IGN);
  return sluice::orchestrator::RunConnectorVerb(*connector, verb, timeout, stdout);
}

// sluice render: the plan's manifests, as the backend would create them.
int Render(const sluice::base::ParsedFlags& parsed) {
  auto spec_path = OneFile(parsed, "sync spec: sluice render SPEC.yaml");
  if (!spec_path.ok()) return Usage(std::string(spec_path.status().message()));
  std::string backend = absl::GetFlag(FLAGS_backend);
  if (backend.empty()) backend = "kubernetes";
  const auto flavor = sluice::orchestrator::ParseRenderFlavor(backend);
  if (!flavor) return Usage("--backend=" + backend + ": render takes kubernetes or podman");
  auto spec = sluice::orchestrator::LoadSyncSpec(*spec_path);
  if (!spec.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(spec.status().message()).c_str());
    return sluice::orchestrator::kSyncUsage;
  }
  auto inputs = sluice::orchestrator::DrawPlanInputs(*spec);
  if (!inputs.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(inputs.status().message()).c_str());
    return sluice::orchestrator::kSyncStartFailed;
  }
  if (const std::string id = absl::GetFlag(FLAGS_sync_id); !id.empty()) inputs->sync_id = id;
  auto plan = sluice::orchestrator::MakePlan(*spec, *inputs,
                                             sluice::orchestrator::RenderPlanOptions(*flavor));
  if (!plan.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(plan.status().message()).c_str());
    return sluice::orchestrator::kSyncUsage;
  }
  std::fputs(sluice::orchestrator::RenderManifests(
                 *plan, *flavor, {.endpoints = {}, .workdir = absl::GetFlag(FLAGS_workdir)})
                 .c_str(),
             stdout);
  return 0;
}

int Run(const sluice::base::ParsedFlags& parsed) {
  auto spec_path = OneFile(parsed, "sync spec: sluice run SPEC.yaml");
  if (!spec_path.ok()) return Usage(std::string(spec_path.status().message()));
  sluice::orchestrator::SyncOptions options;
  options.relay_path = absl::GetFlag(FLAGS_relay);
  if (options.relay_path.empty()) options.relay_path = DefaultRelay();
  options.workdir = absl::GetFlag(FLAGS_workdir);
  options.report_path = absl::GetFlag(FLAGS_report);
  options.keep_workdir = absl::GetFlag(FLAGS_keep_workdir);
  std::string backend = absl::GetFlag(FLAGS_backend);
  if (backend.empty()) backend = "local";
  const auto kind = sluice::orchestrator::ParseBackendKind(backend);
  if (!kind) {
    return Usage("--backend=" + backend + ": must be " +
                 std::string(sluice::orchestrator::kBackendChoices));
  }
  options.backend = *kind;
  options.kube.kubeconfig = absl::GetFlag(FLAGS_kubeconfig);
  options.kube.context = absl::GetFlag(FLAGS_context);
  options.kube_namespace = absl::GetFlag(FLAGS_namespace);
  options.advertise_address = absl::GetFlag(FLAGS_advertise_address);
  if (*kind != sluice::orchestrator::BackendKind::kKubernetes &&
      (!options.kube.kubeconfig.empty() || !options.kube.context.empty() ||
       !options.kube_namespace.empty() || !options.advertise_address.empty())) {
    return Usage(
        "--kubeconfig, --context, --namespace and --advertise-address are for "
        "--backend=kubernetes");
  }
  auto spec = sluice::orchestrator::LoadSyncSpec(*spec_path);
  if (!spec.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(spec.status().message()).c_str());
    return sluice::orchestrator::kSyncUsage;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sluice::orchestrator::RunSync(*spec, options, &interrupted);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    if (argc >= 2) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    return Usage("a command is needed");
  }
  const std::string command = argv[1];
  std::set<std::string> allowed;
  if (command == "run") {
    allowed = {"backend",    "relay",   "workdir",   "keep_workdir",     "report",
               "kubeconfig", "context", "namespace", "advertise_address"};
  } else if (command == "render") {
    allowed = {"backend", "sync_id", "workdir"};
  } else if (command == "spec" || command == "check" || command == "discover") {
    allowed = {"timeout"};
  } else {
    return Usage("unknown command '" + command + "'");
  }
  const auto parsed = sluice::base::ParseFlags(argc, argv, 2, allowed);
  if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
  if (command == "run") return Run(*parsed);
  if (command == "render") return Render(*parsed);
  return Verb(command, *parsed);
}
