#include "orchestrator/render.h"

#include <absl/strings/escaping.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_replace.h>
#include <yaml-cpp/yaml.h>

#include <tuple>

namespace sluice::orchestrator {

std::optional<RenderFlavor> ParseRenderFlavor(std::string_view name) {
  if (name == "kubernetes") return RenderFlavor::kKubernetes;
  if (name == "podman") return RenderFlavor::kPodman;
  return std::nullopt;
}

PlanOptions RenderPlanOptions(RenderFlavor flavor) {
  PlanOptions options;
  // podman: pods on the host's network, two syncs at once differing in the ports the kernel
  // picked. Both: a relay's address is known once its pod runs, so peers are named late.
  options.host_network = flavor == RenderFlavor::kPodman;
  options.peers_on_channel = true;
  return options;
}

std::string SecretDirectory(const std::string& workdir, const std::string& pod,
                            const std::string& volume) {
  return absl::StrCat(workdir, "/secrets/", pod, "/", volume);
}

namespace {

constexpr int kNonRootId = 65532;

// Every string is double-quoted: a command argument such as "0" or "true" stays a string.
void Str(YAML::Emitter& out, const std::string& key, const std::string& value) {
  out << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << value;
}

// apiVersion, kind and metadata (name and labels): how every object starts.
void Header(YAML::Emitter& out, const std::string& kind, const std::string& name,
            const std::map<std::string, std::string>& labels) {
  Str(out, "apiVersion", "v1");
  Str(out, "kind", kind);
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  Str(out, "name", name);
  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  for (const auto& [k, v] : labels) Str(out, k, v);
  out << YAML::EndMap << YAML::EndMap;
}

class PodWriter {
 public:
  PodWriter(const SyncPlan& plan, const PodPlan& pod, RenderFlavor flavor,
            const RenderBindings& bindings)
      : plan_(plan), pod_(pod), flavor_(flavor), bindings_(bindings) {}

  std::string Write() {
    YAML::Emitter out;
    out << YAML::BeginMap;
    Header(out, "Pod", pod_.name, pod_.labels);
    out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
    Str(out, "restartPolicy", "Never");
    out << YAML::Key << "automountServiceAccountToken" << YAML::Value << false;
    out << YAML::Key << "enableServiceLinks" << YAML::Value << false;
    if (flavor_ == RenderFlavor::kPodman) out << YAML::Key << "hostNetwork" << YAML::Value << true;
    out << YAML::Key << "securityContext" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "runAsNonRoot" << YAML::Value << true;
    out << YAML::Key << "runAsUser" << YAML::Value << kNonRootId;
    out << YAML::Key << "runAsGroup" << YAML::Value << kNonRootId;
    out << YAML::Key << "fsGroup" << YAML::Value << kNonRootId;
    out << YAML::Key << "seccompProfile" << YAML::Value << YAML::BeginMap;
    Str(out, "type", "RuntimeDefault");
    out << YAML::EndMap << YAML::EndMap;

    // Relays as native sidecars: after the pod's init container, restartable, so the kubelet
    // starts them before the connector and stops them after it.
    const bool native = flavor_ == RenderFlavor::kKubernetes && plan_.native_sidecars;
    out << YAML::Key << "initContainers" << YAML::Value << YAML::BeginSeq;
    for (const ContainerPlan& c : pod_.init_containers) Container(out, c, false);
    if (native) {
      for (const ContainerPlan& c : pod_.containers) {
        if (c.kind == ContainerKind::kSidecar) Container(out, c, true);
      }
    }
    out << YAML::EndSeq;
    out << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq;
    for (const ContainerPlan& c : pod_.containers) {
      if (!native || c.kind != ContainerKind::kSidecar) Container(out, c, false);
    }
    out << YAML::EndSeq;
    Volumes(out);
    out << YAML::EndMap << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
  }

 private:
  // podman 4.3 makes an emptyDir a volume named as the pod's volume, shared by every pod that
  // names it so: there, names are made unique to the pod and the run.
  std::string VolumeName(const std::string& name) const {
    if (flavor_ != RenderFlavor::kPodman) return name;
    return absl::StrCat(pod_.name, "-", plan_.sync_id, "-", name);
  }

  void Container(YAML::Emitter& out, const ContainerPlan& c, bool restartable) {
    out << YAML::BeginMap;
    Str(out, "name", c.name);
    Str(out, "image", c.image);
    if (restartable) Str(out, "restartPolicy", "Always");
    out << YAML::Key << "command" << YAML::Value << YAML::BeginSeq;
    for (const std::string& arg : c.command) {
      out << YAML::DoubleQuoted << ResolveEndpoints(arg, bindings_.endpoints);
    }
    // The kubelet restarts a native sidecar that exits before the connector does: held, a relay
    // that finished stays until the kubelet stops it, after the connector.
    if (restartable) out << YAML::DoubleQuoted << "--hold-until-stopped";
    out << YAML::EndSeq;
    if (!c.env.empty()) {
      out << YAML::Key << "env" << YAML::Value << YAML::BeginSeq;
      for (const auto& [name, value] : c.env) {
        out << YAML::BeginMap;
        Str(out, "name", name);
        Str(out, "value", value);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    bool any_port = false;
    for (const ContainerPort& p : c.ports) any_port = any_port || p.port != 0;
    if (any_port) {
      out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
      for (const ContainerPort& p : c.ports) {
        if (p.port == 0) continue;  // a host network's port is the kernel's choice
        out << YAML::BeginMap;
        Str(out, "name", p.name);
        out << YAML::Key << "containerPort" << YAML::Value << p.port;
        Str(out, "protocol", "TCP");
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    if (c.resources) {
      const Resources& r = *c.resources;
      out << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
      for (const auto& [group, cpu, memory] :
           {std::tuple{"requests", r.cpu_request, r.memory_request},
            std::tuple{"limits", r.cpu_limit, r.memory_limit}}) {
        if (cpu.empty() && memory.empty()) continue;
        out << YAML::Key << group << YAML::Value << YAML::BeginMap;
        if (!cpu.empty()) Str(out, "cpu", cpu);
        if (!memory.empty()) Str(out, "memory", memory);
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::Key << "securityContext" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "allowPrivilegeEscalation" << YAML::Value << false;
    out << YAML::Key << "readOnlyRootFilesystem" << YAML::Value << true;
    out << YAML::Key << "runAsNonRoot" << YAML::Value << true;
    out << YAML::Key << "capabilities" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "drop" << YAML::Value << YAML::Flow << YAML::BeginSeq << "ALL"
        << YAML::EndSeq;
    out << YAML::EndMap << YAML::EndMap;
    out << YAML::Key << "volumeMounts" << YAML::Value << YAML::BeginSeq;
    for (const VolumeMount& m : c.mounts) {
      out << YAML::BeginMap;
      Str(out, "name", VolumeName(m.volume));
      Str(out, "mountPath", m.path);
      if (m.read_only) out << YAML::Key << "readOnly" << YAML::Value << true;
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::EndMap;
  }

  void Volumes(YAML::Emitter& out) {
    out << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
    for (const VolumePlan& v : pod_.volumes) {
      out << YAML::BeginMap;
      Str(out, "name", VolumeName(v.name));
      if (v.kind == VolumeKind::kEmptyDir) {
        out << YAML::Key << "emptyDir" << YAML::Value << YAML::BeginMap << YAML::EndMap;
      } else if (flavor_ == RenderFlavor::kPodman) {
        out << YAML::Key << "hostPath" << YAML::Value << YAML::BeginMap;
        Str(out, "path",
            SecretDirectory(bindings_.workdir.empty() ? "${workdir}" : bindings_.workdir, pod_.name,
                            v.name));
        Str(out, "type", "Directory");
        out << YAML::EndMap;
      } else {
        out << YAML::Key << "secret" << YAML::Value << YAML::BeginMap;
        Str(out, "secretName", plan_.secret.name);
        out << YAML::Key << "defaultMode" << YAML::Value << 0400 << YAML::Comment("0400");
        out << YAML::Key << "items" << YAML::Value << YAML::BeginSeq;
        for (const auto& [key, path] : v.items) {
          out << YAML::BeginMap;
          Str(out, "key", key);
          Str(out, "path", path);
          out << YAML::EndMap;
        }
        out << YAML::EndSeq << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }

  const SyncPlan& plan_;
  const PodPlan& pod_;
  const RenderFlavor flavor_;
  const RenderBindings& bindings_;
};

}  // namespace

std::string RenderPod(const SyncPlan& plan, const PodPlan& pod, RenderFlavor flavor,
                      const RenderBindings& bindings) {
  return PodWriter(plan, pod, flavor, bindings).Write();
}

std::string RenderSecret(const SecretPlan& secret) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Header(out, "Secret", secret.name, secret.labels);
  Str(out, "type", "Opaque");
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  for (const auto& [key, value] : secret.data) Str(out, key, absl::Base64Escape(value));
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string RenderManifests(const SyncPlan& plan, RenderFlavor flavor,
                            const RenderBindings& bindings) {
  std::string out;
  if (flavor == RenderFlavor::kKubernetes)
    absl::StrAppend(&out, "---\n", RenderSecret(plan.secret));
  for (const PodPlan& pod : plan.pods) {
    absl::StrAppend(&out, "---\n", RenderPod(plan, pod, flavor, bindings));
  }
  return out;
}

}  // namespace sluice::orchestrator
