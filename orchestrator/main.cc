// sluice: runs a sync from its spec.
//
//   sluice run sync.yaml [--backend=local] [--relay=PATH] [--workdir=DIR] [--report=FILE]

#include <signal.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/spec.h"
#include "orchestrator/sync.h"

namespace {

constexpr char kUsage[] = R"(usage:
  sluice run SPEC.yaml [options]

Runs the sync SPEC.yaml describes: a source pod and a destination pod, each an init container,
the connector as its main container and sluice-relay sidecars, joined by authenticated TCP.

options:
  --backend=local     where the pods run (default: local: processes on this machine)
  --relay=PATH        the sluice-relay binary (default: next to sluice, else from PATH)
  --workdir=DIR       pipes, secret, logs and summaries (default: a new directory in $TMPDIR,
                      removed after a success; kept after a failure, without the secret)
  --keep-workdir      keep that new directory after a success too
  --report=FILE       also write the JSON report here

exit codes: 0 ok, 2 usage or spec error, 20 source failed, 21 destination failed,
22 relay failed or counts differ, 23 timed out, 24 a pod did not start, 143 interrupted
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

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") return Usage("a command is needed");
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
  if (backend != "local") {
    return Usage("--backend=" + backend +
                 ": only the local backend exists so far (podman and kubernetes are planned)");
  }
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
