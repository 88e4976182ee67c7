#include "orchestrator/plan.h"

#include <absl/strings/escaping.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "base/files.h"
#include "orchestrator/render.h"
#include "orchestrator/spec.h"

namespace sluice::orchestrator {
namespace {

const std::string kTestdata = SLUICE_TESTDATA;
const PlanInputs kInputs{
    .sync_id = "t1", .relay_secret = "00112233445566778899aabbccddeeff", .state = {}};

SyncSpec Spec(const std::string& name) {
  auto spec = LoadSyncSpec(kTestdata + "/" + name + ".sync.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : SyncSpec{};
}

SyncPlan Plan(const std::string& name, bool host_network = false,
              const PlanInputs& inputs = kInputs) {
  PlanOptions options;
  options.host_network = host_network;
  auto plan = MakePlan(Spec(name), inputs, options);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : SyncPlan{};
}

// The rendered manifests of every example spec are the files in testdata/, byte for byte; the
// podman run plays the same (tests/orchestrator/test_podman.py). SLUICE_UPDATE_GOLDEN=1 rewrites
// them, for a change meant to change them (review the diff).
TEST(PlanTest, ExampleSpecsRenderToTheExpectedManifests) {
  const bool update = std::getenv("SLUICE_UPDATE_GOLDEN") != nullptr;
  for (const char* name : {"pair", "streams", "no-inspect", "native-sidecars"}) {
    for (const auto& [flavor, flavor_name] : {std::pair{RenderFlavor::kKubernetes, "kubernetes"},
                                              std::pair{RenderFlavor::kPodman, "podman"}}) {
      SCOPED_TRACE(std::string(name) + " " + flavor_name);
      auto plan = MakePlan(Spec(name), kInputs, RenderPlanOptions(flavor));
      ASSERT_TRUE(plan.ok()) << plan.status();
      const std::string yaml = RenderManifests(*plan, flavor, {});
      const std::string path = kTestdata + "/" + name + "." + flavor_name + ".yaml";
      if (update) {
        ASSERT_TRUE(base::WriteFileAtomically(path, yaml).ok());
      }
      EXPECT_EQ(yaml, base::ReadFile(path)) << "rerun with SLUICE_UPDATE_GOLDEN=1 if meant";
      EXPECT_EQ(YAML::LoadAll(yaml).size(), flavor == RenderFlavor::kKubernetes ? 3u : 2u);
    }
  }
}

TEST(PlanTest, PodsStartInOrderAndNameOnlyWhatIsUpBeforeThem) {
  const SyncPlan plan = Plan("pair");
  ASSERT_EQ(plan.pods.size(), 2u);
  EXPECT_EQ(plan.pods[0].name, "pair-destination");
  EXPECT_EQ(plan.pods[1].name, "pair-source");
  std::vector<std::string> up = {std::string(kOrchestrator)};
  for (const PodPlan& pod : plan.pods) {
    for (const Endpoint& e : pod.endpoints) {
      EXPECT_NE(std::find(up.begin(), up.end(), e.pod), up.end()) << pod.name << " names " << e.pod;
    }
    up.push_back(pod.name);
  }
  // The source's relay connects to the destination's, by name, until resolved.
  const ContainerPlan* relay = plan.pods[1].Find("relay-stdout");
  ASSERT_NE(relay, nullptr);
  const std::string placeholder = Endpoint{"pair-destination", "relay"}.Placeholder();
  EXPECT_NE(std::find(relay->command.begin(), relay->command.end(), "--connect=" + placeholder),
            relay->command.end());
  EXPECT_EQ(ResolveEndpoints("--connect=" + placeholder,
                             {{{"pair-destination", "relay"}, "10.0.0.7:9000"}}),
            "--connect=10.0.0.7:9000");
  EXPECT_EQ(ResolveEndpoints("--connect=" + placeholder, {}), "--connect=" + placeholder);
}

TEST(PlanTest, NoSecretValueIsInAPod) {
  const SyncPlan plan = Plan("streams");
  const std::string password = "not-a-real-one";  // the source's api_key
  for (const RenderFlavor flavor : {RenderFlavor::kKubernetes, RenderFlavor::kPodman}) {
    for (const PodPlan& pod : plan.pods) {
      const std::string yaml = RenderPod(plan, pod, flavor, {});
      EXPECT_EQ(yaml.find(password), std::string::npos) << yaml;
      EXPECT_EQ(yaml.find(kInputs.relay_secret), std::string::npos) << yaml;
      EXPECT_EQ(yaml.find(absl::Base64Escape(kInputs.relay_secret)), std::string::npos) << yaml;
    }
  }
  // They are in the Secret, and only the source's pod mounts the source's config.
  const YAML::Node secret = YAML::Load(RenderSecret(plan.secret));
  std::string config;
  ASSERT_TRUE(
      absl::Base64Unescape(secret["data"]["source-config.json"].as<std::string>(), &config));
  EXPECT_NE(config.find(password), std::string::npos);
  for (const PodPlan& pod : plan.pods) {
    for (const VolumePlan& v : pod.volumes) {
      for (const auto& [key, path] : v.items) {
        if (key != kSecretRelayKey) {
          EXPECT_EQ(key.rfind(pod.role + "-", 0), 0u) << pod.name << " " << key;
        }
      }
    }
  }
}

TEST(PlanTest, EveryPodMeetsTheRestrictedPodSecurityStandard) {
  for (const char* name : {"pair", "native-sidecars"}) {
    const SyncPlan plan = Plan(name);
    for (const PodPlan& pod : plan.pods) {
      const YAML::Node p = YAML::Load(RenderPod(plan, pod, RenderFlavor::kKubernetes, {}));
      SCOPED_TRACE(pod.name);
      const YAML::Node sc = p["spec"]["securityContext"];
      EXPECT_TRUE(sc["runAsNonRoot"].as<bool>());
      EXPECT_NE(sc["runAsUser"].as<int>(), 0);
      EXPECT_EQ(sc["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
      EXPECT_FALSE(p["spec"]["automountServiceAccountToken"].as<bool>());
      EXPECT_FALSE(p["spec"]["hostNetwork"].IsDefined());
      size_t containers = 0;
      for (const char* list : {"initContainers", "containers"}) {
        for (const YAML::Node& c : p["spec"][list]) {
          ++containers;
          const YAML::Node csc = c["securityContext"];
          EXPECT_FALSE(csc["allowPrivilegeEscalation"].as<bool>()) << c["name"];
          EXPECT_TRUE(csc["readOnlyRootFilesystem"].as<bool>()) << c["name"];
          ASSERT_EQ(csc["capabilities"]["drop"].size(), 1u);
          EXPECT_EQ(csc["capabilities"]["drop"][0].as<std::string>(), "ALL");
          EXPECT_FALSE(csc["privileged"].IsDefined());
        }
      }
      EXPECT_EQ(containers, pod.init_containers.size() + pod.containers.size());
      for (const YAML::Node& v : p["spec"]["volumes"]) {
        if (v["secret"]) {
          EXPECT_EQ(v["secret"]["defaultMode"].as<int>(), 0400);
        }
        EXPECT_FALSE(v["hostPath"].IsDefined());
      }
      for (const char* label :
           {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
            "app.kubernetes.io/managed-by", "sluice.dev/sync-id"}) {
        EXPECT_TRUE(p["metadata"]["labels"][label].IsDefined()) << label;
      }
      EXPECT_EQ(p["metadata"]["labels"]["sluice.dev/sync-id"].as<std::string>(), kInputs.sync_id);
    }
  }
}

TEST(PlanTest, RelaysAreNativeSidecarsOnlyOnKubernetesWhenAskedFor) {
  for (const auto& [name, flavor, native] :
       {std::tuple{"native-sidecars", RenderFlavor::kKubernetes, true},
        std::tuple{"native-sidecars", RenderFlavor::kPodman, false},
        std::tuple{"pair", RenderFlavor::kKubernetes, false}}) {
    const SyncPlan plan = Plan(name, flavor == RenderFlavor::kPodman);
    const YAML::Node p = YAML::Load(RenderPod(plan, plan.pods[0], flavor, {}));
    SCOPED_TRACE(std::string(name) + (native ? " native" : " ordinary"));
    std::vector<std::string> init, restartable, main, held;
    for (const char* list : {"initContainers", "containers"}) {
      for (const YAML::Node& c : p["spec"][list]) {
        const YAML::Node command = c["command"];
        if (command[command.size() - 1].as<std::string>() == "--hold-until-stopped") {
          held.push_back(c["name"].as<std::string>());
        }
      }
    }
    for (const YAML::Node& c : p["spec"]["initContainers"]) {
      init.push_back(c["name"].as<std::string>());
      if (c["restartPolicy"] && c["restartPolicy"].as<std::string>() == "Always") {
        restartable.push_back(c["name"].as<std::string>());
      }
    }
    for (const YAML::Node& c : p["spec"]["containers"]) main.push_back(c["name"].as<std::string>());
    if (native) {
      EXPECT_EQ(init,
                (std::vector<std::string>{"init", "relay-stdin", "relay-stdout", "relay-stderr"}));
      EXPECT_EQ(restartable,
                (std::vector<std::string>{"relay-stdin", "relay-stdout", "relay-stderr"}));
      EXPECT_EQ(main, (std::vector<std::string>{"main"}));
    } else {
      EXPECT_EQ(init, (std::vector<std::string>{"init"}));
      EXPECT_TRUE(restartable.empty());
      EXPECT_EQ(main,
                (std::vector<std::string>{"main", "relay-stdin", "relay-stdout", "relay-stderr"}));
    }
    EXPECT_EQ(p["spec"]["hostNetwork"].IsDefined(), flavor == RenderFlavor::kPodman);
    // Native sidecars stay until stopped (the kubelet would restart them); ordinary ones exit.
    EXPECT_EQ(held, restartable);
  }
}

TEST(PlanTest, RelaySettingsComeFromTheSpec) {
  const SyncPlan plan = Plan("streams");
  const ContainerPlan* relay = plan.pods[1].Find("relay-stdout");
  ASSERT_NE(relay, nullptr);
  EXPECT_EQ(relay->image, "registry.example/sluice-relay:1.0");
  ASSERT_TRUE(relay->resources.has_value());
  EXPECT_EQ(relay->resources->cpu_request, "250m");
  EXPECT_EQ(relay->resources->memory_limit, "512Mi");
  const auto has = [](const ContainerPlan& c, const std::string& arg) {
    return std::find(c.command.begin(), c.command.end(), arg) != c.command.end();
  };
  EXPECT_TRUE(has(*relay, "--engine=splice"));
  EXPECT_TRUE(has(*relay, "--linger-timeout=1m30s"));
  EXPECT_TRUE(has(*relay, "--report-messages"));
  const ContainerPlan* main = plan.pods[1].Find("main");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->env, (std::vector<std::pair<std::string, std::string>>{{"LOG_LEVEL", "debug"}}));
  EXPECT_FALSE(main->resources.has_value());  // the connector's are its own business

  const SyncPlan bare = Plan("no-inspect");
  for (const PodPlan& pod : bare.pods) {
    for (const char* name : {"relay-stdin", "relay-stdout"}) {
      if (const ContainerPlan* c = pod.Find(name)) {
        EXPECT_TRUE(has(*c, "--no-inspect")) << pod.name;
      }
    }
    const ContainerPlan* m = pod.Find("main");
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->command.back(), pod.role == "source" ? "--all" : "/bin/absorb");  // as it is
    for (const VolumePlan& v : pod.volumes) EXPECT_NE(v.name, "connector");  // no files to mount
  }
}

// Counting once by default: the source's relay inspects, the destination's only checks the
// checksum; `inspect: both` has both count, `false` neither.
TEST(PlanTest, InspectionDecidesWhatEachDataRelayReads) {
  const auto flags = [](const SyncPlan& plan, const std::string& role) {
    std::string out;
    for (const PodPlan& pod : plan.pods) {
      if (pod.role != role) continue;
      const ContainerPlan* c = pod.Find(role == "source" ? "relay-stdout" : "relay-stdin");
      EXPECT_NE(c, nullptr) << role;
      if (c == nullptr) continue;
      for (const std::string& arg : c->command) {
        if (arg == "--no-inspect" || arg == "--verify") out += arg + " ";
      }
    }
    return out;
  };
  for (const auto& [inspect, source, destination] :
       std::vector<std::tuple<Inspection, std::string, std::string>>{
           {Inspection::kSource, "", "--no-inspect --verify "},
           {Inspection::kBoth, "", ""},
           {Inspection::kOff, "--no-inspect ", "--no-inspect "}}) {
    SyncSpec spec = Spec("pair");
    spec.inspect = inspect;
    auto plan = MakePlan(spec, kInputs, {});
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(flags(*plan, "source"), source) << static_cast<int>(inspect);
    EXPECT_EQ(flags(*plan, "destination"), destination) << static_cast<int>(inspect);
  }
}

TEST(PlanTest, TheSourceResumesFromTheStateInItsSecretVolume) {
  PlanInputs inputs = kInputs;
  inputs.state = R"([{"type":"STREAM"}])";
  const SyncPlan plan = Plan("pair", false, inputs);
  const ContainerPlan* main = plan.pods[1].Find("main");
  ASSERT_NE(main, nullptr);
  const auto state = std::find(main->command.begin(), main->command.end(), "--state");
  ASSERT_NE(state, main->command.end());
  EXPECT_EQ(*(state + 1), "/sluice/connector/state.json");
  bool in_secret = false;
  for (const auto& [key, value] : plan.secret.data)
    in_secret |= key == "source-state.json" && value == *inputs.state;
  EXPECT_TRUE(in_secret);
  // The destination never gets --state.
  const ContainerPlan* destination = plan.pods[0].Find("main");
  EXPECT_EQ(std::find(destination->command.begin(), destination->command.end(), "--state"),
            destination->command.end());
}

TEST(PlanTest, HostNetworkRelaysListenOnAPortTheKernelPicks) {
  const SyncPlan plan = Plan("pair", /*host_network=*/true);
  const ContainerPlan* relay = plan.pods[0].Find("relay-stdin");
  ASSERT_NE(relay, nullptr);
  EXPECT_NE(std::find(relay->command.begin(), relay->command.end(), "--listen=127.0.0.1:0"),
            relay->command.end());
  const SyncPlan cluster = Plan("pair");
  const ContainerPlan* listening = cluster.pods[0].Find("relay-stdin");
  EXPECT_NE(
      std::find(listening->command.begin(), listening->command.end(), "--listen=0.0.0.0:9000"),
      listening->command.end());
  ASSERT_EQ(listening->ports.size(), 1u);
  EXPECT_EQ(listening->ports[0].port, kRelayPort);
}

// The local backend binds the listening relay's port itself and hands it over as a descriptor:
// only that relay is told so, and its port stays named for the pods that connect to it.
TEST(PlanTest, ARelayCanTakeAPortTheBackendBound) {
  PlanOptions options;
  options.host_network = true;
  options.listen_fd = 3;
  auto plan = MakePlan(Spec("pair"), kInputs, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int told = 0;
  for (const PodPlan& pod : plan->pods) {
    for (const ContainerPlan& c : pod.containers) {
      const bool takes =
          std::find(c.command.begin(), c.command.end(), "--listen-fd=3") != c.command.end();
      EXPECT_EQ(takes, !c.ports.empty()) << pod.name << "/" << c.name;
      told += takes;
      for (const std::string& arg : c.command) EXPECT_NE(arg.rfind("--listen=", 0), 0u) << arg;
    }
  }
  EXPECT_EQ(told, 1);
  const ContainerPlan* relay = plan->pods[0].Find("relay-stdin");
  ASSERT_NE(relay, nullptr);
  ASSERT_EQ(relay->ports.size(), 1u);
  EXPECT_EQ(relay->ports[0].name, kRelayPortName);
}

TEST(PlanTest, APeerNamedOnTheChannelIsNotWaitedForBeforeItsPodStarts) {
  PlanOptions options;
  options.peers_on_channel = true;
  auto plan = MakePlan(Spec("pair"), kInputs, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->pods.size(), 2u);
  const PodPlan& destination = plan->pods[0];
  const PodPlan& source = plan->pods[1];
  // Only the orchestrator's own endpoints stand between the source's pod and its start.
  for (const Endpoint& e : source.endpoints) EXPECT_EQ(e.pod, kOrchestrator) << e.Placeholder();
  const ContainerPlan* relay = source.Find("relay-stdout");
  ASSERT_NE(relay, nullptr);
  EXPECT_NE(std::find(relay->command.begin(), relay->command.end(), "--connect-reported"),
            relay->command.end());
  for (const std::string& arg : relay->command) EXPECT_NE(arg.rfind("--connect=", 0), 0u) << arg;
  // The orchestrator names the destination's relay port to the relay that says hello as the
  // source's (its --name).
  ASSERT_EQ(source.reported_peers.size(), 1u);
  EXPECT_EQ(source.reported_peers[0].first, source.name);
  EXPECT_NE(std::find(relay->command.begin(), relay->command.end(), "--name=" + source.name),
            relay->command.end());
  EXPECT_EQ(source.reported_peers[0].second,
            (Endpoint{destination.name, std::string(kRelayPortName)}));
  EXPECT_TRUE(destination.reported_peers.empty());

  // Without the option the source's relay is given the address, resolved before it starts.
  auto waited = MakePlan(Spec("pair"), kInputs, {});
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_TRUE(waited->pods[1].reported_peers.empty());
  EXPECT_NE(std::find(waited->pods[1].endpoints.begin(), waited->pods[1].endpoints.end(),
                      (Endpoint{destination.name, std::string(kRelayPortName)})),
            waited->pods[1].endpoints.end());
}

TEST(PlanTest, ABadSyncIdIsRefused) {
  PlanInputs inputs = kInputs;
  inputs.sync_id = "Has Spaces";
  EXPECT_FALSE(MakePlan(Spec("pair"), inputs, {}).ok());
}

}  // namespace
}  // namespace sluice::orchestrator
