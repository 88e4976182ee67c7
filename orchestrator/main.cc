// sluice: runs a sync from its spec, prints its manifests, and runs a connector's spec, check
// and discover.
//
//   sluice run sync.yaml [--backend=local|podman] [--relay=PATH] [--workdir=DIR] [--report=FILE]
//   sluice render sync.yaml [--backend=kubernetes|podman] [--sync-id=ID] [--workdir=DIR]
//   sluice spec|check|discover connector.yaml [--timeout=DUR]

#include <absl/time/time.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  --backend=B         where the pods run: local (the default: processes on this machine) or
                      podman (real containers, `podman kube play` of the rendered manifests)
  --relay=PATH        the sluice-relay binary (default: next to sluice, else from PATH)
  --workdir=DIR       pipes, secret, logs and summaries (default: a new directory in $TMPDIR,
                      removed after a success; kept after a failure, without the secret)
  --keep-workdir      keep that new directory after a success too
  --report=FILE       also write the JSON report here

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

// sluice render: the plan's manifests, as the backend would create them.
int Render(const std::vector<std::string_view>& args) {
  std::string spec_path, backend = "kubernetes", sync_id, workdir;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const auto value = [&](std::string_view flag, std::string* out) {
      if (a.substr(0, flag.size()) != flag) return false;
      *out = std::string(a.substr(flag.size()));
      return true;
    };
    if (value("--backend=", &backend) || value("--sync-id=", &sync_id) ||
        value("--workdir=", &workdir)) {
      continue;
    }
    if (a.substr(0, 2) == "--") return Usage("unknown option " + std::string(a));
    if (!spec_path.empty()) return Usage("one spec at a time");
    spec_path = std::string(a);
  }
  if (spec_path.empty()) return Usage("give the sync spec: sluice render SPEC.yaml");
  const auto flavor = sluice::orchestrator::ParseRenderFlavor(backend);
  if (!flavor) return Usage("--backend=" + backend + ": render takes kubernetes or podman");
  auto spec = sluice::orchestrator::LoadSyncSpec(spec_path);
  if (!spec.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(spec.status().message()).c_str());
    return sluice::orchestrator::kSyncUsage;
  }
  auto inputs = sluice::orchestrator::DrawPlanInputs(*spec);
  if (!inputs.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(inputs.status().message()).c_str());
    return sluice::orchestrator::kSyncStartFailed;
  }
  if (!sync_id.empty()) inputs->sync_id = sync_id;
  sluice::orchestrator::PlanOptions plan_options;
  plan_options.host_network = *flavor == sluice::orchestrator::RenderFlavor::kPodman;
  auto plan = sluice::orchestrator::MakePlan(
      *spec, *inputs, plan_options);
  if (!plan.ok()) {
    std::fprintf(stderr, "sluice: %s\n", std::string(plan.status().message()).c_str());
    return sluice::orchestrator::kSyncUsage;
  }
  std::fputs(sluice::orchestrator::RenderManifests(*plan, *flavor, {.endpoints = {}, .workdir = workdir})
                 .c_str(),
             stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") return Usage("a command is needed");
  if (args[0] == "spec" || args[0] == "check" || args[0] == "discover") {
    std::string path;
    absl::Duration timeout = absl::Minutes(5);
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i].substr(0, 10) == "--timeout=") {
        if (!absl::ParseDuration(std::string(args[i].substr(10)), &timeout) ||
            timeout <= absl::ZeroDuration()) {
          return Usage("--timeout takes a positive duration such as 90s or 5m");
        }
      } else if (args[i].substr(0, 2) == "--" || !path.empty()) {
        return Usage("unexpected argument " + std::string(args[i]));
      } else {
        path = std::string(args[i]);
      }
    }
    if (path.empty()) return Usage("give the connector: sluice " + std::string(args[0]) + " CONNECTOR.yaml");
    auto connector = sluice::orchestrator::LoadConnectorSpec(path);
    if (!connector.ok()) {
      std::fprintf(stderr, "sluice: %s\n", std::string(connector.status().message()).c_str());
      return sluice::orchestrator::kSyncUsage;
    }
    if (!connector->config_json && args[0] != "spec") {
      return Usage(path + ": " + std::string(args[0]) + " needs the connector's config (config: or config_file:)");
    }
    signal(SIGPIPE, SIG_IGN);
    return sluice::orchestrator::RunConnectorVerb(*connector, args[0], timeout, stdout);
  }
  if (args[0] == "render") return Render(args);
  if (args[0] != "run") return Usage("unknown command '" + std::string(args[0]) + "'");
  sluice::orchestrator::SyncOptions options;
  options.relay_path = DefaultRelay();
  std::string spec_path, backend = "local";
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view a = args[i];
    const auto value = [&](std::string_view flag, std::string* out) {
      if (a.substr(0, flag.size()) != flag) return false;
      *out = std::string(a.substr(flag.size()));
      return true;
    };
    if (value("--backend=", &backend) || value("--relay=", &options.relay_path) ||
        value("--workdir=", &options.workdir) || value("--report=", &options.report_path)) {
      continue;
    }
    if (a == "--keep-workdir") {
      options.keep_workdir = true;
      continue;
    }
    if (a.substr(0, 2) == "--") return Usage("unknown option " + std::string(a));
    if (!spec_path.empty()) return Usage("one spec at a time");
    spec_path = std::string(a);
  }
  if (spec_path.empty()) return Usage("give the sync spec: sluice run SPEC.yaml");
  const auto kind = sluice::orchestrator::ParseBackendKind(backend);
  if (!kind) {
    return Usage("--backend=" + backend + ": must be " +
                 std::string(sluice::orchestrator::kBackendChoices));
  }
  options.backend = *kind;
  auto spec = sluice::orchestrator::LoadSyncSpec(spec_path);
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
