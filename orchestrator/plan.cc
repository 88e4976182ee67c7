#include "orchestrator/plan.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_replace.h>
#include <absl/time/time.h>

#include "dataplane/engine.h"
#include "orchestrator/connector.h"

namespace sluice::orchestrator {

std::string Endpoint::Placeholder() const {
  return absl::StrCat("${endpoint:", pod, "/", port, "}");
}

const ContainerPlan* PodPlan::Find(std::string_view container) const {
  for (const auto* list : {&init_containers, &containers}) {
    for (const ContainerPlan& c : *list) {
      if (c.name == container) return &c;
    }
  }
  return nullptr;
}

const PodPlan* SyncPlan::Find(const std::string& pod) const {
  for (const PodPlan& p : pods) {
    if (p.name == pod) return &p;
  }
  return nullptr;
}

std::string MountPath(const PlanOptions& options, const std::string& role,
                      const std::string& volume) {
  if (options.volume_root.empty()) return absl::StrCat("/sluice/", volume);
  return absl::StrCat(options.volume_root, "/", role, "/", volume);
}

std::string ResolveEndpoints(std::string text, const std::map<Endpoint, std::string>& resolved) {
  for (const auto& [endpoint, address] : resolved) {
    absl::StrReplaceAll({{endpoint.Placeholder(), address}}, &text);
  }
  return text;
}

namespace {

// The volumes every connector's pod has.
constexpr char kPipes[] = "pipes";
constexpr char kBin[] = "sluice-bin";
constexpr char kTmp[] = "tmp";
constexpr char kConnector[] = "connector";
constexpr char kRelaySecret[] = "relay-secret";

// Builds one connector's pod.
class PodBuilder {
 public:
  PodBuilder(const SyncSpec& spec, const PlanInputs& inputs, const PlanOptions& options,
             std::string role)
      : spec_(spec), options_(options), role_(std::move(role)) {
    pod_.name = absl::StrCat(spec.name, "-", role_);
    pod_.role = role_;
    pod_.labels = {{"app.kubernetes.io/name", "sluice"},
                   {"app.kubernetes.io/instance", spec.name},
                   {"app.kubernetes.io/component", role_},
                   {"app.kubernetes.io/managed-by", "sluice"},
                   {"sluice.dev/sync-id", inputs.sync_id}};
  }

  std::string Path(const std::string& volume, const std::string& file = "") const {
    const std::string dir = MountPath(options_, role_, volume);
    return file.empty() ? dir : absl::StrCat(dir, "/", file);
  }

  // The init container: the pod's FIFOs, and the entrypoint installed for the connector.
  void Init(const std::vector<std::string>& fifos) {
    ContainerPlan c = Relay("init", ContainerKind::kInit);
    c.command = {options_.relay_command, "init",
                 absl::StrCat("--install-entrypoint=", Path(kBin, "sluice-entrypoint"))};
    for (const std::string& f : fifos) c.command.push_back(Path(kPipes, f));
    c.mounts = {{kPipes, Path(kPipes)}, {kBin, Path(kBin)}};
    pod_.init_containers.push_back(std::move(c));
  }

  // The connector, run by the entrypoint with its stdio on the FIFOs. Its files are keys of the
  // sync's Secret, mounted (only this connector's) read-only.
  void Main(const ConnectorSpec& connector, const ConnectorCall& call, bool has_stdin,
            SecretPlan* secret) {
    ContainerPlan c;
    c.name = "main";
    c.kind = ContainerKind::kMain;
    c.image = connector.image;
    c.command = {Path(kBin, "sluice-entrypoint")};
    if (has_stdin) c.command.push_back(absl::StrCat("--stdin=", Path(kPipes, "stdin")));
    c.command.push_back(absl::StrCat("--stdout=", Path(kPipes, "stdout")));
    c.command.push_back(absl::StrCat("--stderr=", Path(kPipes, "stderr")));
    c.command.push_back("--");
    c.command.insert(c.command.end(), call.argv.begin(), call.argv.end());
    c.env = connector.env;
    c.mounts = {{kPipes, Path(kPipes)}, {kBin, Path(kBin), true}, {kTmp, "/tmp"}};
    if (!options_.volume_root.empty()) c.mounts.pop_back();  // processes share this /tmp
    if (!call.files.empty()) {
      VolumePlan v{kConnector, VolumeKind::kSecret, {}};
      for (const ConnectorFile& f : call.files) {
        const std::string key = absl::StrCat(role_, "-", f.name);
        secret->data.emplace_back(key, f.content);
        v.items.emplace_back(key, f.name);
      }
      volumes_.push_back(std::move(v));
      c.mounts.push_back({kConnector, Path(kConnector), true});
    }
    pod_.containers.push_back(std::move(c));
  }

  // How a relay reads what it moves: counting the messages, checksumming only (the payload's
  // checksum checked against the sender's), or neither.
  enum class Reading { kInspect, kVerify, kNone };

  // A relay moving one FIFO over TCP: `where` is --listen=... or --connect=....
  void Transfer(std::string container, const std::string& mode, const std::string& relay_name,
                const std::string& fifo, std::string where, Reading reading,
                std::optional<ContainerPort> port = std::nullopt) {
    ContainerPlan c = Relay(std::move(container), ContainerKind::kSidecar);
    c.command = {
        options_.relay_command,
        std::string(mode),
        absl::StrCat("--name=", relay_name),
        absl::StrCat("--fifo=", Path(kPipes, fifo)),
        std::move(where),
        absl::StrCat("--report-to=", Endpoint{std::string(kOrchestrator), "report"}.Placeholder()),
        absl::StrCat("--secret-file=", Path(kRelaySecret, kSecretRelayKey)),
        absl::StrCat("--engine=", std::string(dataplane::EngineKindName(spec_.engine))),
        absl::StrCat("--linger-timeout=", absl::FormatDuration(spec_.stall_timeout))};
    if (reading != Reading::kInspect) c.command.push_back("--no-inspect");
    if (reading == Reading::kVerify) c.command.push_back("--verify");
    c.mounts = {{kPipes, Path(kPipes)}, {kRelaySecret, Path(kRelaySecret), true}};
    if (port) c.ports.push_back(*port);
    pod_.containers.push_back(std::move(c));
  }

  // The connector's stderr, line by line, into this container's log.
  void Logs() {
    ContainerPlan c = Relay("relay-stderr", ContainerKind::kSidecar);
    c.command = {options_.relay_command, "logs", absl::StrCat("--fifo=", Path(kPipes, "stderr")),
                 absl::StrCat("--name=", pod_.name)};
    c.mounts = {{kPipes, Path(kPipes)}};
    c.shows_connector_log = true;
    pod_.containers.push_back(std::move(c));
  }

  ContainerPlan& last() { return pod_.containers.back(); }
  const std::string& name() const { return pod_.name; }

  PodPlan Build(std::vector<Endpoint> endpoints) {
    pod_.volumes = {{kPipes, VolumeKind::kEmptyDir, {}}, {kBin, VolumeKind::kEmptyDir, {}}};
    if (options_.volume_root.empty()) pod_.volumes.push_back({kTmp, VolumeKind::kEmptyDir, {}});
    pod_.volumes.insert(pod_.volumes.end(), volumes_.begin(), volumes_.end());
    pod_.volumes.push_back({kRelaySecret,
                            VolumeKind::kSecret,
                            {{std::string(kSecretRelayKey), std::string(kSecretRelayKey)}}});
    pod_.endpoints = std::move(endpoints);
    return std::move(pod_);
  }

 private:
  ContainerPlan Relay(std::string name, ContainerKind kind) const {
    ContainerPlan c;
    c.name = std::move(name);
    c.kind = kind;
    c.image = spec_.relay_image;
    c.resources = spec_.relay_resources;
    return c;
  }

  const SyncSpec& spec_;
  const PlanOptions& options_;
  const std::string role_;
  PodPlan pod_;
  std::vector<VolumePlan> volumes_;
};

}  // namespace

absl::StatusOr<SyncPlan> MakePlan(const SyncSpec& spec, const PlanInputs& inputs,
                                  const PlanOptions& options) {
  if (inputs.sync_id.empty() || inputs.sync_id.size() > 12 ||
      inputs.sync_id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("sync id '", inputs.sync_id, "' must be 1-12 characters of a-z and 0-9"));
  }
  SyncPlan plan;
  plan.sync = spec.name;
  plan.sync_id = inputs.sync_id;
  plan.native_sidecars = spec.native_sidecars;
  plan.secret.name = absl::StrCat(spec.name, "-", inputs.sync_id);
  plan.secret.labels = {{"app.kubernetes.io/name", "sluice"},
                        {"app.kubernetes.io/instance", spec.name},
                        {"app.kubernetes.io/managed-by", "sluice"},
                        {"sluice.dev/sync-id", inputs.sync_id}};
  plan.secret.data.emplace_back(kSecretRelayKey, inputs.relay_secret);

  std::string listen = absl::StrCat("--listen=0.0.0.0:", kRelayPort);
  if (options.host_network) listen = "--listen=127.0.0.1:0";
  if (options.listen_fd >= 0) listen = absl::StrCat("--listen-fd=", options.listen_fd);
  const ContainerPort relay_port{std::string(kRelayPortName),
                                 options.host_network ? 0 : kRelayPort};

  // The destination: its stdin from the source's relay; its stdout (the STATEs it commits) to
  // the orchestrator.
  PodBuilder destination(spec, inputs, options, "destination");
  auto destination_call = PlanConnectorCall(spec.destination, "write", destination.Path(kConnector),
                                            {.catalog = spec.catalog_json, .state = std::nullopt});
  if (!destination_call.ok()) return destination_call.status();
  destination.Init({"stdin", "stdout", "stderr"});
  destination.Main(spec.destination, *destination_call, /*has_stdin=*/true, &plan.secret);
  // Counting once: the source's relay counts, and this one proves by the checksum that what it
  // delivered is what that one counted.
  const PodBuilder::Reading destination_reading =
      spec.inspect == Inspection::kBoth     ? PodBuilder::Reading::kInspect
      : spec.inspect == Inspection::kSource ? PodBuilder::Reading::kVerify
                                            : PodBuilder::Reading::kNone;
  destination.Transfer("relay-stdin", "recv", destination.name(), "stdin", listen,
                       destination_reading, relay_port);
  const Endpoint echo{std::string(kOrchestrator), "echo"};
  destination.Transfer("relay-stdout", "send", absl::StrCat(spec.name, "-destination-stdout"),
                       "stdout", absl::StrCat("--connect=", echo.Placeholder()),
                       PodBuilder::Reading::kNone);
  destination.Logs();
  const std::string destination_name = destination.name();
  plan.pods.push_back(destination.Build({{std::string(kOrchestrator), "report"}, echo}));

  // The source, resuming from the committed state; its relay's STATE events make the
  // committed counts.
  PodBuilder source(spec, inputs, options, "source");
  auto source_call = PlanConnectorCall(spec.source, "read", source.Path(kConnector),
                                       {.catalog = spec.catalog_json, .state = inputs.state});
  if (!source_call.ok()) return source_call.status();
  source.Init({"stdout", "stderr"});
  source.Main(spec.source, *source_call, /*has_stdin=*/false, &plan.secret);
  const Endpoint peer{destination_name, std::string(kRelayPortName)};
  source.Transfer("relay-stdout", "send", source.name(), "stdout",
                  options.peers_on_channel ? std::string("--connect-reported")
                                           : absl::StrCat("--connect=", peer.Placeholder()),
                  spec.inspect == Inspection::kOff ? PodBuilder::Reading::kNone
                                                   : PodBuilder::Reading::kInspect);
  source.last().command.push_back("--report-messages");
  source.Logs();
  const std::string source_name = source.name();
  std::vector<Endpoint> source_endpoints = {{std::string(kOrchestrator), "report"}};
  if (!options.peers_on_channel) source_endpoints.push_back(peer);
  plan.pods.push_back(source.Build(std::move(source_endpoints)));
  if (options.peers_on_channel) plan.pods.back().reported_peers.emplace_back(source_name, peer);
  return plan;
}

}  // namespace sluice::orchestrator
