#include "orchestrator/kube_objects.h"

#include <gtest/gtest.h>

#include "orchestrator/kubernetes_backend.h"
#include "orchestrator/yaml_json.h"

namespace sluice::orchestrator {
namespace {

// Shapes as the API reference gives them (core/v1 Pod, meta/v1 WatchEvent and Status).
constexpr char kRunningPod[] = R"({"kind":"Pod","apiVersion":"v1",
  "metadata":{"name":"s-destination","namespace":"etl","uid":"7d3c-11","resourceVersion":"42"},
  "spec":{},
  "status":{"phase":"Running","podIP":"10.1.2.3",
    "conditions":[{"type":"PodScheduled","status":"True"}],
    "initContainerStatuses":[{"name":"init","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
    "containerStatuses":[
      {"name":"main","ready":false,"restartCount":0,
       "state":{"terminated":{"exitCode":3,"reason":"Error","startedAt":"2026-11-26T01:00:00Z"}}},
      {"name":"relay-stdin","state":{"running":{"startedAt":"2026-11-26T01:00:00Z"}}},
      {"name":"relay-stdout","state":{"waiting":{"reason":"ContainerCreating"}}}]}})";

TEST(KubeObjectsTest, APodsStatusIsReadAsTheReferenceWritesIt) {
  auto pod = ParsePod(kRunningPod);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(pod->name, "s-destination");
  EXPECT_EQ(pod->uid, "7d3c-11");
  EXPECT_EQ(pod->resource_version, "42");
  EXPECT_EQ(pod->phase, "Running");
  EXPECT_EQ(pod->pod_ip, "10.1.2.3");
  EXPECT_FALSE(pod->deleting);
  EXPECT_FALSE(pod->unscheduled);
  ASSERT_EQ(pod->containers.size(), 4u);
  EXPECT_TRUE(pod->containers[0].init);
  const KubeContainer* main = pod->Find("main");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->state, KubeContainer::State::kTerminated);
  EXPECT_EQ(main->exit_code, 3);
  EXPECT_EQ(pod->Find("relay-stdin")->state, KubeContainer::State::kRunning);
  EXPECT_EQ(pod->Find("relay-stdout")->state, KubeContainer::State::kWaiting);
  EXPECT_EQ(NeverStarts(*pod), "");  // ContainerCreating: it may yet start
}

TEST(KubeObjectsTest, WatchEventsOfEveryType) {
  auto added = ParseWatchEvent(std::string(R"({"type":"ADDED","object":)") + kRunningPod + "}");
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->type, "ADDED");
  ASSERT_TRUE(added->pod);
  EXPECT_EQ(added->resource_version, "42");
  auto bookmark = ParseWatchEvent(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12746"}}})");
  ASSERT_TRUE(bookmark.ok());
  EXPECT_FALSE(bookmark->pod);
  EXPECT_EQ(bookmark->resource_version, "12746");
  auto gone = ParseWatchEvent(
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410}})j");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->error_code, 410);
  EXPECT_EQ(gone->error_message, "Expired: too old resource version: 1 (2)");
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"SURPRISE","object":{}})").ok());
  EXPECT_FALSE(ParseWatchEvent("not json").ok());
}

TEST(KubeObjectsTest, AListCarriesTheVersionAWatchStartsFrom) {
  auto list = ParsePodList(
      std::string(
          R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"77"},"items":[)") +
      kRunningPod + "]}");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->resource_version, "77");
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].name, "s-destination");
}

TEST(KubeObjectsTest, PodsThatWillNeverStartSayWhy) {
  auto unschedulable = ParsePod(R"({"metadata":{"name":"p"},"status":{"phase":"Pending",
    "conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable",
                   "message":"0/1 nodes are available: 1 Insufficient cpu."}]}})");
  ASSERT_TRUE(unschedulable.ok());
  EXPECT_EQ(NeverStarts(*unschedulable),
            "FailedScheduling (Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.)");
  auto pull = ParsePod(R"({"metadata":{"name":"p"},"status":{"phase":"Pending",
    "containerStatuses":[{"name":"relay-stdin","state":{"waiting":{"reason":"ImagePullBackOff",
      "message":"Back-off pulling image \"nowhere/relay:1\""}}}]}})");
  ASSERT_TRUE(pull.ok());
  EXPECT_EQ(NeverStarts(*pull),
            "container relay-stdin: ImagePullBackOff (Back-off pulling image \"nowhere/relay:1\")");
  auto config = ParsePod(R"({"metadata":{"name":"p"},"status":{"containerStatuses":[
    {"name":"main","state":{"waiting":{"reason":"CreateContainerConfigError"}}}]}})");
  EXPECT_EQ(NeverStarts(*config), "container main: CreateContainerConfigError");
}

TEST(KubeObjectsTest, TheNewestWarningEventAndAStatusMessage) {
  EXPECT_EQ(NewestWarningEvent(R"({"kind":"EventList","items":[
      {"type":"Warning","reason":"Failed","message":"old","lastTimestamp":"2026-11-26T01:00:00Z"},
      {"type":"Normal","reason":"Pulling","message":"x","lastTimestamp":"2026-11-26T01:00:09Z"},
      {"type":"Warning","reason":"BackOff","message":"new","lastTimestamp":"2026-11-26T01:00:05Z"}]})"),
            "BackOff: new");
  EXPECT_EQ(NewestWarningEvent(R"({"items":[]})"), "");
  EXPECT_EQ(
      KubeStatusMessage(
          R"({"kind":"Status","status":"Failure","reason":"AlreadyExists","message":"pods \"x\" already exists","code":409})"),
      "AlreadyExists: pods \"x\" already exists");
}

TEST(YamlJsonTest, ManifestsBecomeJsonWithTheirTypes) {
  auto json = YamlToJson(R"(---
apiVersion: "v1"
kind: "Pod"
metadata:
  name: "p"
  labels: {a: "1"}
spec:
  automountServiceAccountToken: false
  securityContext:
    runAsUser: 65532
  containers:
    - name: "main"
      command: ["a b", "--x=\"q\""]
      capabilities:
        drop: [ALL]
      env: ~
)");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json,
            R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"1"}},)"
            R"("spec":{"automountServiceAccountToken":false,"securityContext":{"runAsUser":65532},)"
            R"("containers":[{"name":"main","command":["a b","--x=\"q\""],)"
            R"("capabilities":{"drop":["ALL"]},"env":null}]}})");
  EXPECT_FALSE(YamlToJson("a: [unclosed").ok());
}

TEST(KubernetesBackendTest, OwnerReferencesGoIntoTheMetadata) {
  EXPECT_EQ(
      WithOwnerReferences(R"({"kind":"Pod","metadata":{"name":"p"}})",
                          R"([{"kind":"Pod","name":"o","uid":"u"}])"),
      R"({"kind":"Pod","metadata":{"ownerReferences":[{"kind":"Pod","name":"o","uid":"u"}],"name":"p"}})");
  EXPECT_EQ(WithOwnerReferences(R"({"metadata":{}})", ""), R"({"metadata":{}})");
}

}  // namespace
}  // namespace sluice::orchestrator
