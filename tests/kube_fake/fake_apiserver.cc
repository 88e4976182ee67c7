// A fake Kubernetes API server for the kubernetes backend's tests: the parts of core/v1 a sync
// uses, answered as the API reference and its "API concepts" page say, with pods that really
// run, through podman.
//
//   fake-apiserver --cert=server.crt --key=server.key --ca=ca.crt --token=T --state-dir=DIR
//                  --podman-prefix=kf123 [--admin-token=A] [--role=deploy/kubernetes/rbac.yaml]
//                  [--faults=JSON] [--watch-timeout=2s] [--node-cpu=2]
//
// It prints "listening on PORT" once it takes connections (HTTPS, on 127.0.0.1).
//
// What it serves, in every namespace:
//   secrets, configmaps: POST (201; 409 AlreadyExists), GET, DELETE, GET list (labelSelector)
//   pods:      POST (201; 409), GET, DELETE (gracePeriodSeconds), GET list (labelSelector), and
//              watch=1 (resourceVersion, allowWatchBookmarks, timeoutSeconds): chunked
//              WatchEvents, ADDED/MODIFIED/DELETED/BOOKMARK; 410 Gone (a Status) for a
//              resourceVersion older than its window
//   pods/log:  GET (container, tailLines, limitBytes)
//   events:    GET list (fieldSelector=involvedObject.name=X)
// Every request needs "Authorization: Bearer TOKEN" (401 otherwise) and, with --role, a rule of
// that Role that grants its resource and verb (403 otherwise); --admin-token is the test's own,
// unrestricted, unlogged. Each request is appended to DIR/requests.jsonl:
// {"method","path","resource","verb","watch","resourceVersion","status","at"}.
//
// Faults on request (--faults, a JSON array): {"method":"POST","resource":"pods","status":429,
// "retry_after":1,"count":1}; "watch":true matches watches only; "in_stream":true (with 410)
// ends a watch with an ERROR event instead of answering 410; "late_ms":1500 answers as usual
// but holds the answer, made at once, that long (a slow network: the state it tells is old by
// then). A version a 410 named stays gone.
//
// Pods, as a one-node cluster's scheduler and kubelet would run them:
// - scheduled when their containers' cpu requests fit --node-cpu (else PodScheduled False,
//   Unschedulable, and a FailedScheduling event), with a pod IP of their own on loopback,
//   127.0.0.N;
// - an image podman does not have is ErrImagePull then ImagePullBackOff (it never pulls);
// - then played with `podman kube play`, and their phase, containerStatuses and exit codes
//   polled from podman.
// What podman cannot do as a kubelet does is translated, and only that: pods share the host's
// network, so what a pod binds on 0.0.0.0 it binds on its pod IP; secret and configMap volumes
// are directories the fake fills (podman 4.3 crashes on secret volumes); a persistentVolumeClaim
// is a directory per claim that outlives pods; the service account (unless
// automountServiceAccountToken is false) is its token (TOKEN), --ca and the namespace at
// /var/run/secrets/kubernetes.io/serviceaccount, with KUBERNETES_SERVICE_HOST and _PORT; the
// downward API's fieldRefs become values; names get the prefix and the pod's uid (podman shares
// emptyDirs by name); native sidecars (init containers with restartPolicy Always) run beside the
// main containers and are stopped (SIGTERM) once those ended, and their exit makes no phase.
// A DELETE stops the pod with its grace period, publishes the final statuses, removes it from
// podman, then from the store (DELETED); then, as the garbage collector, deletes the pods,
// Secrets and ConfigMaps whose ownerReferences name it.

#include <absl/flags/flag.h>
#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_replace.h>
#include <absl/strings/str_split.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/flags.h"
#include "orchestrator/command.h"
#include "protocol/report.h"

ABSL_FLAG(std::string, cert, "", "the server's certificate (PEM)");
ABSL_FLAG(std::string, key, "", "the server's key (PEM)");
ABSL_FLAG(std::string, token, "", "the bearer token every request must carry");
ABSL_FLAG(std::string, ca, "",
          "the CA's certificate, mounted into pods as the service account's ca.crt");
ABSL_FLAG(std::string, admin_token, "",
          "a token --role does not restrict (for the tests' own looks)");
ABSL_FLAG(std::string, state_dir, "", "where the request log, manifests and secrets go");
ABSL_FLAG(std::string, podman_prefix, "kfake", "the prefix of every podman pod it creates");
ABSL_FLAG(std::string, podman, "podman", "the podman command");
ABSL_FLAG(std::string, role, "", "a YAML file with a Role: only its rules are granted");
ABSL_FLAG(std::string, faults, "[]", "faults to answer, a JSON array");
ABSL_FLAG(absl::Duration, watch_timeout, absl::Minutes(30), "every watch ends after this");
ABSL_FLAG(absl::Duration, bookmark_every, absl::Seconds(1), "BOOKMARK interval");
ABSL_FLAG(double, node_cpu, 2.0, "the one node's allocatable cpu");
ABSL_FLAG(int, event_window, 100000, "watch events kept; an older resourceVersion is 410 Gone");

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace dom = simdjson::dom;
using tcp = net::ip::tcp;
using sluice::protocol::JsonString;

std::string Now3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Str(dom::element e, std::string_view key) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

std::string Raw(dom::element e) { return simdjson::minify(e); }

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string hex(s.substr(i + 1, 2));
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string StatusJson(int code, std::string_view reason, std::string_view message) {
  return absl::StrCat(
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)",
      JsonString(message), R"(,"reason":)", JsonString(reason), R"(,"code":)", code, "}");
}

// ---- the store -------------------------------------------------------------------------

struct ContainerStatus {
  std::string name;
  bool init = false;
  bool sidecar = false;           // a native sidecar: an init container with restartPolicy Always
  std::string state = "waiting";  // waiting, running, terminated
  std::string reason = "ContainerCreating", message;
  int exit_code = 0;
  std::string started, finished;
  std::string Json() const {
    std::string s;
    if (state == "waiting") {
      s = absl::StrCat(R"({"waiting":{"reason":)", JsonString(reason),
                       message.empty() ? "" : absl::StrCat(R"(,"message":)", JsonString(message)),
                       "}}");
    } else if (state == "running") {
      s = absl::StrCat(R"({"running":{"startedAt":)", JsonString(started), "}}");
    } else {
      s = absl::StrCat(R"({"terminated":{"exitCode":)", exit_code, R"(,"reason":)",
                       JsonString(exit_code == 0 ? "Completed" : "Error"), R"(,"startedAt":)",
                       JsonString(started), R"(,"finishedAt":)", JsonString(finished), "}}");
    }
    return absl::StrCat(R"({"name":)", JsonString(name), R"(,"state":)", s, R"(,"ready":)",
                        state == "running" ? "true" : "false",
                        R"(,"restartCount":0,"image":"","imageID":"","started":)",
                        state == "running" ? "true" : "false", "}");
  }
};

struct Pod {
  std::string ns, name, uid, created, deletion;
  std::map<std::string, std::string> labels;
  std::string labels_json = "{}", owners_json, spec_json;
  int64_t rv = 0;
  std::string phase = "Pending", pod_ip, host_ip = "127.0.0.1";
  std::string scheduled = "True", scheduled_reason, scheduled_message;
  std::vector<ContainerStatus> statuses;
  int64_t grace = 30;
  bool delete_requested = false;
  std::string Json() const {
    std::string meta = absl::StrCat(R"({"name":)", JsonString(name), R"(,"namespace":)",
                                    JsonString(ns), R"(,"uid":)", JsonString(uid),
                                    R"(,"resourceVersion":")", rv, R"(","creationTimestamp":)",
                                    JsonString(created), R"(,"labels":)", labels_json);
    if (!owners_json.empty()) absl::StrAppend(&meta, R"(,"ownerReferences":)", owners_json);
    if (!deletion.empty()) {
      absl::StrAppend(&meta, R"(,"deletionTimestamp":)", JsonString(deletion),
                      R"(,"deletionGracePeriodSeconds":)", grace);
    }
    meta += "}";
    std::string conditions = absl::StrCat(R"([{"type":"PodScheduled","status":")", scheduled, "\"");
    if (!scheduled_reason.empty()) {
      absl::StrAppend(&conditions, R"(,"reason":)", JsonString(scheduled_reason), R"(,"message":)",
                      JsonString(scheduled_message));
    }
    conditions += "}]";
    std::vector<std::string> init, main;
    for (const ContainerStatus& c : statuses) (c.init ? init : main).push_back(c.Json());
    std::string status = absl::StrCat(R"({"phase":)", JsonString(phase), R"(,"conditions":)",
                                      conditions, R"(,"hostIP":)", JsonString(host_ip));
    if (!pod_ip.empty()) {
      absl::StrAppend(&status, R"(,"podIP":)", JsonString(pod_ip), R"(,"podIPs":[{"ip":)",
                      JsonString(pod_ip), "}]");
    }
    if (!init.empty())
      absl::StrAppend(&status, R"(,"initContainerStatuses":[)", absl::StrJoin(init, ","), "]");
    if (!main.empty())
      absl::StrAppend(&status, R"(,"containerStatuses":[)", absl::StrJoin(main, ","), "]");
    status += "}";
    return absl::StrCat(R"({"kind":"Pod","apiVersion":"v1","metadata":)", meta, R"(,"spec":)",
                        spec_json, R"(,"status":)", status, "}");
  }
};

// A Secret, or a ConfigMap (kind): data by key.
struct Secret {
  std::string kind = "Secret";
  std::string ns, name, uid, created, owners_json, labels_json = "{}", type = "Opaque";
  std::map<std::string, std::string> labels;
  std::vector<std::pair<std::string, std::string>> data;  // key, base64
  int64_t rv = 0;
  std::string Json() const {
    std::vector<std::string> d;
    for (const auto& [k, v] : data) d.push_back(absl::StrCat(JsonString(k), ":", JsonString(v)));
    return absl::StrCat(
        R"({"kind":"Secret","apiVersion":"v1","metadata":{"name":)", JsonString(name),
        R"(,"namespace":)", JsonString(ns), R"(,"uid":)", JsonString(uid),
        R"(,"resourceVersion":")", rv, R"(","creationTimestamp":)", JsonString(created),
        R"(,"labels":)", labels_json,
        owners_json.empty() ? "" : absl::StrCat(R"(,"ownerReferences":)", owners_json),
        R"(},"type":)", JsonString(type), R"(,"data":{)", absl::StrJoin(d, ","), "}}");
  }
};

struct Event {
  std::string ns, involved, type, reason, message, json;
};

struct WatchEvent {
  int64_t rv;
  std::string ns, type, json;
  std::map<std::string, std::string> labels;
};

struct Fault {
  std::string method, resource;
  std::optional<bool> watch;
  int status = 500;
  int retry_after = -1;
  int count = 1;
  bool in_stream = false;
  int late_ms = 0;  // answered as usual, but this long after the answer was made
};

std::mutex mu;
std::condition_variable changed;
int64_t version = 1;
int64_t next_uid = 1;
int next_ip = 2;
std::map<std::pair<std::string, std::string>, std::shared_ptr<Pod>> pods;
std::map<std::pair<std::string, std::string>, Secret> secrets;
std::map<std::pair<std::string, std::string>, Secret> config_maps;  // data as given, not base64
std::vector<Event> events;
std::deque<WatchEvent> history;
std::vector<Fault> faults;
std::set<std::pair<std::string, std::string>> granted;  // resource, verb
// A resourceVersion below this is gone for good (as after a compaction): set by a 410 fault, so
// that a client that watches again from the version it was told is too old is told again.
int64_t compacted_below = 0;
bool enforce_rbac = false;
std::ofstream request_log;

// Under mu: a new version for a pod and its watch event.
void Publish(const std::string& type, Pod& pod) {
  pod.rv = ++version;
  history.push_back({pod.rv, pod.ns, type, pod.Json(), pod.labels});
  while (history.size() > static_cast<size_t>(absl::GetFlag(FLAGS_event_window)))
    history.pop_front();
  changed.notify_all();
}

void AddEvent(const Pod& pod, const std::string& type, const std::string& reason,
              const std::string& message) {
  const std::string now = Now3339();
  const std::string name = absl::StrCat(pod.name, ".", ++next_uid);
  events.push_back(
      {pod.ns, pod.name, type, reason, message,
       absl::StrCat(R"({"kind":"Event","apiVersion":"v1","metadata":{"name":)", JsonString(name),
                    R"(,"namespace":)", JsonString(pod.ns),
                    R"(},"involvedObject":{"kind":"Pod","namespace":)", JsonString(pod.ns),
                    R"(,"name":)", JsonString(pod.name), R"(,"uid":)", JsonString(pod.uid),
                    R"(},"reason":)", JsonString(reason), R"(,"message":)", JsonString(message),
                    R"(,"type":)", JsonString(type), R"(,"count":1,"firstTimestamp":)",
                    JsonString(now), R"(,"lastTimestamp":)", JsonString(now), "}")});
}

bool Matches(const std::map<std::string, std::string>& labels, const std::string& selector) {
  if (selector.empty()) return true;
  for (const absl::string_view term : absl::StrSplit(selector, ',')) {
    const std::vector<std::string> kv = absl::StrSplit(term, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return false;
    const auto it = labels.find(kv[0]);
    if (it == labels.end() || it->second != kv[1]) return false;
  }
  return true;
}

// ---- pods through podman ------------------------------------------------------------------

std::string Podman() { return absl::GetFlag(FLAGS_podman); }
std::string PodmanName(const Pod& pod) {
  return absl::StrCat(absl::GetFlag(FLAGS_podman_prefix), "-", pod.uid.substr(0, 6), "-", pod.name);
}

double CpuOf(const std::string& q) {
  double v = 0;
  if (absl::EndsWith(q, "m")) {
    return absl::SimpleAtod(q.substr(0, q.size() - 1), &v) ? v / 1000 : 0;
  }
  return absl::SimpleAtod(q, &v) ? v : 0;
}

int api_port = 0;  // this server's, for the pods' KUBERNETES_SERVICE_PORT

// Where the kubelet's service-account volume is mounted, and the volume's name.
constexpr char kServiceAccountPath[] = "/var/run/secrets/kubernetes.io/serviceaccount";
constexpr char kServiceAccountVolume[] = "kube-api-access";

// Whether the kubelet would mount the service account's token into the pod.
bool MountsServiceAccount(dom::element spec) {
  bool automount = true;
  if (spec["automountServiceAccountToken"].get(automount) != simdjson::SUCCESS) automount = true;
  return automount;
}

// The spec as podman plays it (see the banner for what is translated). `root` is the pod's
// directory of volumes the kubelet would fill: secrets, configMaps, the service account.
std::string PodmanSpec(dom::element spec, const Pod& pod, const std::string& root) {
  const std::string prefix = PodmanName(pod) + "-";
  const bool service_account = MountsServiceAccount(spec);
  const auto container = [&](dom::element c) {
    std::vector<std::string> fields;
    std::vector<std::string> mounts, env;
    for (auto field : dom::object(c)) {
      const std::string key(field.key);
      if (key == "volumeMounts") {
        for (dom::element m : dom::array(field.value)) {
          std::string raw = Raw(m);
          const std::string name = Str(m, "name");
          absl::StrReplaceAll({{absl::StrCat("\"name\":", JsonString(name)),
                                absl::StrCat("\"name\":", JsonString(prefix + name))}},
                              &raw);
          mounts.push_back(raw);
        }
      } else if (key == "env") {
        // The downward API: the kubelet writes the values in.
        for (dom::element e : dom::array(field.value)) {
          std::string_view path;
          if (e["valueFrom"]["fieldRef"]["fieldPath"].get(path) != simdjson::SUCCESS) {
            env.push_back(Raw(e));
            continue;
          }
          const std::string value = path == "metadata.name"        ? pod.name
                                    : path == "metadata.namespace" ? pod.ns
                                    : path == "metadata.uid"       ? pod.uid
                                    : path == "status.podIP"       ? pod.pod_ip
                                                                   : std::string();
          env.push_back(absl::StrCat(R"({"name":)", JsonString(Str(e, "name")), R"(,"value":)",
                                     JsonString(value), "}"));
        }
      } else if (key == "command" || key == "args") {
        std::vector<std::string> args;
        for (dom::element a : dom::array(field.value)) {
          args.push_back(JsonString(absl::StrReplaceAll(std::string(std::string_view(a)),
                                                        {{"0.0.0.0:", pod.pod_ip + ":"}})));
        }
        fields.push_back(absl::StrCat(JsonString(key), ":[", absl::StrJoin(args, ","), "]"));
      } else if (key != "ports" && key != "restartPolicy") {  // a containerPort maps nothing
        // on the host's network; a native sidecar's restartPolicy is the poll loop's to honour
        fields.push_back(absl::StrCat(JsonString(key), ":", Raw(field.value)));
      }
    }
    if (service_account) {
      mounts.push_back(absl::StrCat(R"({"name":)", JsonString(prefix + kServiceAccountVolume),
                                    R"(,"mountPath":)", JsonString(kServiceAccountPath),
                                    R"(,"readOnly":true})"));
      for (const char* name : {"KUBERNETES_SERVICE_PORT", "KUBERNETES_SERVICE_PORT_HTTPS"}) {
        env.push_back(absl::StrCat(R"({"name":")", name, R"(","value":")", api_port, R"("})"));
      }
      env.push_back(R"({"name":"KUBERNETES_SERVICE_HOST","value":"127.0.0.1"})");
    }
    if (!mounts.empty())
      fields.push_back(absl::StrCat("\"volumeMounts\":[", absl::StrJoin(mounts, ","), "]"));
    if (!env.empty()) fields.push_back(absl::StrCat("\"env\":[", absl::StrJoin(env, ","), "]"));
    return absl::StrCat("{", absl::StrJoin(fields, ","), "}");
  };
  const auto host_path = [&](const std::string& name, const std::string& path) {
    return absl::StrCat(R"({"name":)", JsonString(prefix + name), R"(,"hostPath":{"path":)",
                        JsonString(path), R"(,"type":"Directory"}})");
  };
  std::vector<std::string> fields = {"\"hostNetwork\":true"};
  std::vector<std::string> volumes, containers, init_containers;
  if (service_account)
    volumes.push_back(host_path(kServiceAccountVolume, root + "/" + kServiceAccountVolume));
  for (auto field : dom::object(spec)) {
    const std::string key(field.key);
    if (key == "containers" || key == "initContainers") {
      // Podman has no native sidecars: they run beside the main containers, and the poll loop
      // stops them as the kubelet would.
      for (dom::element c : dom::array(field.value)) {
        std::string_view restart;
        const bool sidecar = key == "initContainers" &&
                             c["restartPolicy"].get(restart) == simdjson::SUCCESS &&
                             restart == "Always";
        (key == "containers" || sidecar ? containers : init_containers).push_back(container(c));
      }
    } else if (key == "volumes") {
      for (dom::element v : dom::array(field.value)) {
        const std::string name = Str(v, "name");
        std::string_view claim;
        if (v["secret"].error() == simdjson::SUCCESS ||
            v["configMap"].error() == simdjson::SUCCESS) {
          volumes.push_back(host_path(name, root + "/" + name));
        } else if (v["persistentVolumeClaim"]["claimName"].get(claim) == simdjson::SUCCESS) {
          // The fake's provisioner: a directory per claim, kept across pods.
          volumes.push_back(host_path(name, absl::StrCat(absl::GetFlag(FLAGS_state_dir), "/pvc/",
                                                         pod.ns, "-", std::string(claim))));
        } else {
          volumes.push_back(
              absl::StrCat(R"({"name":)", JsonString(prefix + name), R"(,"emptyDir":{}})"));
        }
      }
    } else if (key != "hostNetwork" && key != "nodeName" && key != "serviceAccountName" &&
               key != "automountServiceAccountToken") {
      fields.push_back(absl::StrCat(JsonString(key), ":", Raw(field.value)));
    }
  }
  fields.push_back(absl::StrCat("\"volumes\":[", absl::StrJoin(volumes, ","), "]"));
  fields.push_back(absl::StrCat("\"containers\":[", absl::StrJoin(containers, ","), "]"));
  if (!init_containers.empty()) {
    fields.push_back(
        absl::StrCat("\"initContainers\":[", absl::StrJoin(init_containers, ","), "]"));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ","), "}");
}

std::string Base64Decode(std::string_view in) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (const char c : in) {
    const size_t i = chars.find(c);
    if (i == std::string::npos) break;
    val = (val << 6) + static_cast<int>(i);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// Writes what the kubelet would mount: secret and configMap volumes (their keys, or `items`,
// with defaultMode), the claims' directories, and the service account's token, ca.crt and
// namespace. False (and a FailedMount event) when a Secret, ConfigMap or key is missing.
bool WriteVolumes(dom::element spec, Pod& pod, const std::string& root) {
  const auto own = [](const std::string& path) {
    if (chown(path.c_str(), 65532, 65532) != 0) std::perror("chown");
  };
  const auto write_dir = [&](const std::string& dir,
                             const std::vector<std::pair<std::string, std::string>>& files,
                             int64_t mode) {
    std::filesystem::create_directories(dir);
    for (const auto& [path, value] : files) {
      const std::string file = dir + "/" + path;
      std::ofstream(file, std::ios::binary) << value;
      chmod(file.c_str(), static_cast<mode_t>(mode));
      own(file);
    }
    chmod(dir.c_str(), 0500);
    own(dir);
  };
  if (MountsServiceAccount(spec)) {
    write_dir(root + "/" + kServiceAccountVolume,
              {{"token", absl::GetFlag(FLAGS_token)},
               {"ca.crt", ReadWhole(absl::GetFlag(FLAGS_ca))},
               {"namespace", pod.ns}},
              0444);
  }
  dom::array volumes;
  if (spec["volumes"].get(volumes) != simdjson::SUCCESS) return true;
  for (dom::element v : volumes) {
    const std::string name = Str(v, "name");
    std::string_view claim;
    if (v["persistentVolumeClaim"]["claimName"].get(claim) == simdjson::SUCCESS) {
      const std::string dir =
          absl::StrCat(absl::GetFlag(FLAGS_state_dir), "/pvc/", pod.ns, "-", std::string(claim));
      std::filesystem::create_directories(dir);
      chmod(dir.c_str(), 0770);
      own(dir);
      continue;
    }
    dom::element source;
    const bool is_secret = v["secret"].get(source) == simdjson::SUCCESS;
    if (!is_secret && v["configMap"].get(source) != simdjson::SUCCESS) continue;
    const std::string object = Str(source, is_secret ? "secretName" : "name");
    std::vector<std::pair<std::string, std::string>> data;
    {
      std::lock_guard<std::mutex> lock(mu);
      const auto& store = is_secret ? secrets : config_maps;
      const auto it = store.find({pod.ns, object});
      if (it == store.end()) {
        AddEvent(pod, "Warning", "FailedMount",
                 absl::StrCat("MountVolume.SetUp failed for volume \"", name, "\" : ",
                              is_secret ? "secret" : "configmap", " \"", object, "\" not found"));
        return false;
      }
      data = it->second.data;
    }
    if (is_secret) {
      for (auto& kv : data) kv.second = Base64Decode(kv.second);
    }
    std::vector<std::pair<std::string, std::string>> files;
    dom::array items;
    if (source["items"].get(items) == simdjson::SUCCESS) {
      for (dom::element item : items) {
        const std::string key = Str(item, "key");
        const auto it =
            std::find_if(data.begin(), data.end(), [&](const auto& kv) { return kv.first == key; });
        if (it == data.end()) return false;
        files.emplace_back(Str(item, "path"), it->second);
      }
    } else {
      files = data;
    }
    int64_t mode = 0644;
    if (source["defaultMode"].get(mode) != simdjson::SUCCESS) mode = 0644;
    write_dir(root + "/" + name, files, mode);
  }
  return true;
}

// Reads the pod's containers from `podman ps` into its statuses (takes mu): whether any changed,
// or nothing when podman did not answer. Plain init containers are not there: podman removes
// them once they ran.
std::optional<bool> ReadPodman(Pod& pod) {
  auto ps = sluice::orchestrator::RunCommand(
      {Podman(), "ps", "--all", "--format", "json", "--filter", "pod=" + PodmanName(pod)},
      absl::Now() + absl::Seconds(60));
  dom::parser parser;
  dom::array containers;
  if (!ps.ok() || ps->exit_code != 0 ||
      parser.parse(ps->output).get(containers) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu);
  bool changed_state = false;
  for (ContainerStatus& c : pod.statuses) {
    for (dom::element p : containers) {
      std::string_view name;
      if (p["Names"].at(0).get(name) != simdjson::SUCCESS ||
          name != PodmanName(pod) + "-" + c.name) {
        continue;
      }
      const std::string state = Str(p, "State");
      int64_t code = 0;
      if (p["ExitCode"].get(code) != simdjson::SUCCESS) code = 0;
      const std::string now_state = state == "running"                          ? "running"
                                    : (state == "exited" || state == "stopped") ? "terminated"
                                                                                : "waiting";
      if (now_state == c.state) continue;
      changed_state = true;
      if (c.started.empty()) c.started = Now3339();
      if (now_state == "terminated") {
        c.finished = Now3339();
        c.exit_code = static_cast<int>(code);
      }
      c.state = now_state;
    }
  }
  return changed_state;
}

// One pod's life: scheduled, pulled, played, watched until it is deleted.
void RunPod(std::shared_ptr<Pod> pod_ptr) {
  Pod& pod = *pod_ptr;
  dom::parser parser;
  std::string spec_text;
  {
    std::lock_guard<std::mutex> lock(mu);
    spec_text = pod.spec_json;
  }
  dom::element spec = parser.parse(spec_text);
  const auto deleted = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return pod.delete_requested;
  };
  const auto wait_for_delete = [&] {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return pod.delete_requested; });
  };
  // Scheduling: the cpu the containers request against the node's.
  double cpu = 0;
  std::vector<std::string> images;
  for (const char* list : {"containers", "initContainers"}) {
    dom::array cs;
    if (spec[list].get(cs) != simdjson::SUCCESS) continue;
    for (dom::element c : cs) {
      images.push_back(Str(c, "image"));
      std::string_view request;
      if (c["resources"]["requests"]["cpu"].get(request) == simdjson::SUCCESS)
        cpu += CpuOf(std::string(request));
    }
  }
  if (cpu > absl::GetFlag(FLAGS_node_cpu)) {
    std::lock_guard<std::mutex> lock(mu);
    pod.scheduled = "False";
    pod.scheduled_reason = "Unschedulable";
    pod.scheduled_message = "0/1 nodes are available: 1 Insufficient cpu.";
    AddEvent(pod, "Warning", "FailedScheduling", pod.scheduled_message);
    Publish("MODIFIED", pod);
  } else {
    {
      std::lock_guard<std::mutex> lock(mu);
      pod.pod_ip = absl::StrCat("127.0.", next_ip / 250, ".", 2 + next_ip % 250);
      ++next_ip;
      AddEvent(pod, "Normal", "Scheduled", "Successfully assigned " + pod.ns + "/" + pod.name);
      Publish("MODIFIED", pod);
    }
    std::string missing;
    for (const std::string& image : images) {
      auto exists = sluice::orchestrator::RunCommand({Podman(), "image", "exists", image},
                                                     absl::Now() + absl::Seconds(60));
      if (!exists.ok() || exists->exit_code != 0) missing = image;
    }
    const std::string root = absl::StrCat(absl::GetFlag(FLAGS_state_dir), "/secrets/", pod.uid);
    if (!missing.empty()) {
      // Never pulled (nothing is reachable here): as a kubelet that cannot pull it says.
      const std::string failed = absl::StrCat("Failed to pull image \"", missing,
                                              "\": rpc error: code = NotFound desc = not found");
      for (const char* reason : {"ErrImagePull", "ImagePullBackOff"}) {
        std::lock_guard<std::mutex> lock(mu);
        for (ContainerStatus& c : pod.statuses) {
          c.reason = reason;
          c.message = std::string(reason) == "ErrImagePull"
                          ? failed
                          : "Back-off pulling image \"" + missing + "\"";
        }
        AddEvent(pod, "Warning", std::string(reason) == "ErrImagePull" ? "Failed" : "BackOff",
                 pod.statuses.front().message);
        Publish("MODIFIED", pod);
        changed.notify_all();
      }
    } else if (!deleted() && WriteVolumes(spec, pod, root)) {
      const std::string manifest =
          absl::StrCat(absl::GetFlag(FLAGS_state_dir), "/", pod.uid, ".json");
      std::string podman_pod;
      {
        std::lock_guard<std::mutex> lock(mu);
        std::string labels = pod.labels_json;
        podman_pod = absl::StrCat(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":)",
                                  JsonString(PodmanName(pod)), R"(,"labels":)", labels,
                                  R"(},"spec":)", PodmanSpec(spec, pod, root), "}");
      }
      std::ofstream(manifest) << podman_pod;
      auto played = sluice::orchestrator::RunCommand({Podman(), "kube", "play", manifest},
                                                     absl::Now() + absl::Seconds(120));
      if (!played.ok() || played->exit_code != 0) {
        std::lock_guard<std::mutex> lock(mu);
        for (ContainerStatus& c : pod.statuses) {
          c.reason = "CreateContainerError";
          c.message = played.ok() ? played->output.substr(0, 500) : "podman kube play timed out";
        }
        Publish("MODIFIED", pod);
      } else {
        // Watched through podman until every container ended or the pod is deleted.
        bool sidecars_stopped = false;
        for (;;) {
          const bool deleting = deleted();
          const std::optional<bool> read = ReadPodman(pod);
          bool all_ended = false;  // not known while podman does not answer
          if (read) {
            std::lock_guard<std::mutex> lock(mu);
            bool changed_state = *read, mains_ended = true, sidecars_run = false,
                 any_failed = false;
            for (ContainerStatus& c : pod.statuses) {
              if (c.init && !c.sidecar) {  // podman ran them before the others, and removed them
                if (c.state != "terminated") {
                  c.state = "terminated";
                  c.started = c.finished = Now3339();
                  changed_state = true;
                }
              } else if (c.sidecar) {  // a sidecar's exit does not make the pod's phase
                sidecars_run |= c.state != "terminated";
              } else {
                mains_ended &= c.state == "terminated";
                any_failed |= c.state == "terminated" && c.exit_code != 0;
              }
            }
            all_ended = mains_ended && !sidecars_run;
            if (mains_ended && sidecars_run && !sidecars_stopped) {
              // The kubelet stops native sidecars once the main containers ended.
              sidecars_stopped = true;
              std::vector<std::string> stop = {Podman(), "stop", "--time=30"};
              for (const ContainerStatus& c : pod.statuses) {
                if (c.sidecar) stop.push_back(PodmanName(pod) + "-" + c.name);
              }
              std::thread([stop] {
                (void)sluice::orchestrator::RunCommand(stop, absl::Now() + absl::Seconds(90));
              }).detach();
            }
            const std::string phase = all_ended ? (any_failed ? "Failed" : "Succeeded") : "Running";
            if (phase != pod.phase) {
              pod.phase = phase;
              changed_state = true;
            }
            if (changed_state) Publish("MODIFIED", pod);
          }
          if (deleting || all_ended) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
    }
  }
  wait_for_delete();
  int64_t grace;
  {
    std::lock_guard<std::mutex> lock(mu);
    grace = pod.grace;
  }
  // The kubelet's part of a delete: stop (SIGTERM, SIGKILL after the grace period), report how
  // each container ended, then remove.
  (void)sluice::orchestrator::RunCommand(
      {Podman(), "pod", "stop", absl::StrCat("--time=", grace), PodmanName(pod)},
      absl::Now() + absl::Seconds(grace + 60));
  (void)ReadPodman(pod);
  {
    std::lock_guard<std::mutex> lock(mu);
    Publish("MODIFIED", pod);
  }
  (void)sluice::orchestrator::RunCommand(
      {Podman(), "pod", "rm", "--force", "--ignore", "--time=0", PodmanName(pod)},
      absl::Now() + absl::Seconds(60));
  std::error_code ec;
  std::filesystem::remove_all(absl::StrCat(absl::GetFlag(FLAGS_state_dir), "/secrets/", pod.uid),
                              ec);
  std::lock_guard<std::mutex> lock(mu);
  Publish("DELETED", pod);
  pods.erase({pod.ns, pod.name});
  // The garbage collector (background propagation): what this pod owned goes with it.
  const std::string owner = absl::StrCat("\"uid\":", JsonString(pod.uid));
  for (auto& [key, dependent] : pods) {
    if (absl::StrContains(dependent->owners_json, owner) && !dependent->delete_requested) {
      dependent->delete_requested = true;
      dependent->deletion = Now3339();
      Publish("MODIFIED", *dependent);
    }
  }
  for (auto* store : {&secrets, &config_maps}) {
    for (auto it = store->begin(); it != store->end();) {
      it = absl::StrContains(it->second.owners_json, owner) ? store->erase(it) : std::next(it);
    }
  }
  changed.notify_all();
}

// ---- HTTP -----------------------------------------------------------------------------------

struct Request {
  std::string method, path, ns, resource, name, subresource;
  std::map<std::string, std::string> query;
  std::string body;
  bool watch = false;
  std::string Verb() const {
    if (method == "POST") return "create";
    if (method == "DELETE") return "delete";
    if (method == "PATCH") return "patch";
    if (method == "PUT") return "update";
    if (!name.empty()) return "get";
    return watch ? "watch" : "list";
  }
  std::string Resource() const {
    return subresource.empty() ? resource : resource + "/" + subresource;
  }
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  int retry_after = -1;
};

Reply Error(int code, std::string_view reason, std::string_view message) {
  return {code, StatusJson(code, reason, message)};
}

std::optional<Request> Route(const http::request<http::string_body>& req) {
  Request r;
  r.method = std::string(req.method_string());
  const std::string target(req.target());
  const size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    for (const absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&')) {
      const std::vector<std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
      r.query[UrlDecode(p[0])] = p.size() > 1 ? UrlDecode(p[1]) : "";
    }
  }
  r.watch = r.query.contains("watch") && (r.query["watch"] == "1" || r.query["watch"] == "true");
  const std::vector<std::string> parts = absl::StrSplit(r.path, '/', absl::SkipEmpty());
  // /api/v1/namespaces/NS/RESOURCE[/NAME[/SUB]]
  if (parts.size() < 5 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces") {
    return std::nullopt;
  }
  r.ns = parts[3];
  r.resource = parts[4];
  if (parts.size() > 5) r.name = parts[5];
  if (parts.size() > 6) r.subresource = parts[6];
  r.body = req.body();
  return r;
}

Reply CreatePod(const Request& r) {
  dom::parser parser;
  dom::element pod_json;
  if (parser.parse(r.body).get(pod_json) != simdjson::SUCCESS) {
    return Error(400, "BadRequest", "the body is not JSON");
  }
  if (Str(pod_json, "kind") != "Pod" || Str(pod_json, "apiVersion") != "v1") {
    return Error(400, "BadRequest", "kind Pod, apiVersion v1 expected");
  }
  auto pod = std::make_shared<Pod>();
  pod->ns = r.ns;
  pod->name = Str(pod_json["metadata"], "name");
  if (pod->name.empty())
    return Error(422, "Invalid", "Pod \"\" is invalid: metadata.name: Required value");
  dom::element labels, owners, spec;
  if (pod_json["metadata"]["labels"].get(labels) == simdjson::SUCCESS) {
    pod->labels_json = Raw(labels);
    for (auto kv : dom::object(labels))
      pod->labels[std::string(kv.key)] = std::string(std::string_view(kv.value));
  }
  if (pod_json["metadata"]["ownerReferences"].get(owners) == simdjson::SUCCESS)
    pod->owners_json = Raw(owners);
  if (pod_json["spec"].get(spec) != simdjson::SUCCESS)
    return Error(422, "Invalid", "spec: Required value");
  pod->spec_json = Raw(spec);
  for (const char* list : {"initContainers", "containers"}) {
    dom::array cs;
    if (spec[list].get(cs) != simdjson::SUCCESS) continue;
    for (dom::element c : cs) {
      ContainerStatus s;
      s.name = Str(c, "name");
      s.init = std::string_view(list) == "initContainers";
      std::string_view restart;
      s.sidecar =
          s.init && c["restartPolicy"].get(restart) == simdjson::SUCCESS && restart == "Always";
      if (s.init && !s.sidecar) s.reason = "PodInitializing";
      pod->statuses.push_back(s);
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  if (pods.contains({r.ns, pod->name})) {
    return Error(409, "AlreadyExists", absl::StrCat("pods \"", pod->name, "\" already exists"));
  }
  pod->uid =
      absl::StrCat("f4ce", absl::Hex(++next_uid, absl::kZeroPad8), "-0000-4000-8000-000000000000");
  pod->created = Now3339();
  pods[{r.ns, pod->name}] = pod;
  Publish("ADDED", *pod);
  const std::string json = pod->Json();
  std::thread(RunPod, pod).detach();
  return {201, json};
}

// A Secret or a ConfigMap.
Reply CreateObject(const Request& r) {
  const bool is_secret = r.resource == "secrets";
  const std::string kind = is_secret ? "Secret" : "ConfigMap";
  auto& store = is_secret ? secrets : config_maps;
  dom::parser parser;
  dom::element json;
  if (parser.parse(r.body).get(json) != simdjson::SUCCESS || Str(json, "kind") != kind) {
    return Error(400, "BadRequest", "a " + kind + " (JSON) expected");
  }
  Secret s;
  s.kind = kind;
  s.ns = r.ns;
  s.name = Str(json["metadata"], "name");
  dom::element labels, owners, data;
  if (json["metadata"]["labels"].get(labels) == simdjson::SUCCESS) {
    s.labels_json = Raw(labels);
    for (auto kv : dom::object(labels))
      s.labels[std::string(kv.key)] = std::string(std::string_view(kv.value));
  }
  if (json["metadata"]["ownerReferences"].get(owners) == simdjson::SUCCESS)
    s.owners_json = Raw(owners);
  if (json["data"].get(data) == simdjson::SUCCESS) {
    for (auto kv : dom::object(data))
      s.data.emplace_back(std::string(kv.key), std::string(std::string_view(kv.value)));
  }
  std::lock_guard<std::mutex> lock(mu);
  if (store.contains({r.ns, s.name})) {
    return Error(409, "AlreadyExists",
                 absl::StrCat(r.resource, " \"", s.name, "\" already exists"));
  }
  s.uid =
      absl::StrCat("5ec0", absl::Hex(++next_uid, absl::kZeroPad8), "-0000-4000-8000-000000000000");
  s.created = Now3339();
  s.rv = ++version;
  store[{r.ns, s.name}] = s;
  return {201, s.Json()};
}

template <typename Stream>
void WriteReply(Stream& stream, const Reply& reply) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
  res.set(http::field::content_type, reply.content_type);
  if (reply.retry_after >= 0) res.set(http::field::retry_after, std::to_string(reply.retry_after));
  res.keep_alive(false);
  res.body() = reply.body;
  res.prepare_payload();
  beast::error_code ec;
  http::write(stream, res, ec);
}

// A watch, streamed: ADDED for what exists when it starts without a version; then every event
// after the version; BOOKMARKs when asked for; until the watch's timeout.
template <typename Stream>
int Watch(Stream& stream, const Request& r, bool error_in_stream) {
  const std::string selector = r.query.contains("labelSelector") ? r.query.at("labelSelector") : "";
  const bool bookmarks =
      r.query.contains("allowWatchBookmarks") && r.query.at("allowWatchBookmarks") == "true";
  int64_t from = 0;
  if (r.query.contains("resourceVersion") && !r.query.at("resourceVersion").empty() &&
      !absl::SimpleAtoi(r.query.at("resourceVersion"), &from)) {
    WriteReply(stream, Error(400, "BadRequest", "resourceVersion is not a number"));
    return 400;
  }
  absl::Duration timeout = absl::GetFlag(FLAGS_watch_timeout);
  int64_t seconds = 0;
  if (r.query.contains("timeoutSeconds") &&
      absl::SimpleAtoi(r.query.at("timeoutSeconds"), &seconds)) {
    timeout = std::min(timeout, absl::Seconds(seconds));
  }
  std::vector<std::string> initial;
  {
    std::lock_guard<std::mutex> lock(mu);
    const int64_t oldest = history.empty() ? version : history.front().rv;
    if (from != 0 && (from < oldest - 1 || from < compacted_below)) {
      WriteReply(stream,
                 Error(410, "Expired",
                       absl::StrCat("too old resource version: ", from, " (", oldest, ")")));
      return 410;
    }
    if (from == 0) {
      for (const auto& [key, pod] : pods) {
        if (key.first == r.ns && Matches(pod->labels, selector)) {
          initial.push_back(absl::StrCat(R"({"type":"ADDED","object":)", pod->Json(), "}\n"));
        }
      }
      from = version;
    }
  }
  http::response<http::empty_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::transfer_encoding, "chunked");
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  beast::error_code ec;
  http::write_header(stream, sr, ec);
  const auto send = [&](const std::string& line) {
    net::write(stream, http::make_chunk(net::buffer(line)), ec);
    return !ec;
  };
  for (const std::string& line : initial) {
    if (!send(line)) return 200;
  }
  if (error_in_stream) {
    {
      std::lock_guard<std::mutex> lock(mu);
      compacted_below = std::max(compacted_below, from + 1);
      version = std::max(version, compacted_below);  // a list now starts past it
    }
    send(absl::StrCat(R"({"type":"ERROR","object":)",
                      StatusJson(410, "Expired", absl::StrCat("too old resource version: ", from)),
                      "}\n"));
    net::write(stream, http::make_chunk_last(), ec);
    return 200;
  }
  const absl::Time end = absl::Now() + timeout;
  absl::Time next_bookmark = absl::Now() + absl::GetFlag(FLAGS_bookmark_every);
  while (absl::Now() < end) {
    std::vector<std::string> lines;
    {
      std::unique_lock<std::mutex> lock(mu);
      changed.wait_for(lock, std::chrono::milliseconds(100),
                       [&] { return !history.empty() && history.back().rv > from; });
      for (const WatchEvent& e : history) {
        if (e.rv <= from) continue;
        if (e.ns == r.ns && Matches(e.labels, selector)) {
          lines.push_back(absl::StrCat(R"({"type":")", e.type, R"(","object":)", e.json, "}\n"));
        }
        from = e.rv;
      }
      if (bookmarks && lines.empty() && absl::Now() >= next_bookmark) {
        lines.push_back(absl::StrCat(
            R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":")",
            version, R"("}}})", "\n"));
        from = version;
        next_bookmark = absl::Now() + absl::GetFlag(FLAGS_bookmark_every);
      }
    }
    for (const std::string& line : lines) {
      if (!send(line)) return 200;
    }
  }
  net::write(stream, http::make_chunk_last(), ec);
  return 200;
}

Reply Handle(const Request& r) {
  if (r.resource == "pods" && r.subresource == "log" && r.method == "GET") {
    std::string podman_name;
    {
      std::lock_guard<std::mutex> lock(mu);
      const auto it = pods.find({r.ns, r.name});
      if (it == pods.end())
        return Error(404, "NotFound", absl::StrCat("pods \"", r.name, "\" not found"));
      podman_name = PodmanName(*it->second);
    }
    std::vector<std::string> args = {Podman(), "logs"};
    if (r.query.contains("tailLines")) args.push_back("--tail=" + r.query.at("tailLines"));
    args.push_back(podman_name + "-" +
                   (r.query.contains("container") ? r.query.at("container") : "main"));
    auto logs = sluice::orchestrator::RunCommand(args, absl::Now() + absl::Seconds(30));
    if (!logs.ok() || logs->exit_code != 0) {
      return Error(
          400, "BadRequest",
          absl::StrCat("container ", r.query.contains("container") ? r.query.at("container") : "",
                       " is not valid for pod ", r.name));
    }
    std::string body = logs->output;
    int64_t limit = 0;
    if (r.query.contains("limitBytes") && absl::SimpleAtoi(r.query.at("limitBytes"), &limit) &&
        limit >= 0 && body.size() > static_cast<size_t>(limit)) {
      body.resize(static_cast<size_t>(limit));
    }
    return {200, body, "text/plain"};
  }
  if (!r.subresource.empty()) return Error(404, "NotFound", "no such subresource");
  std::lock_guard<std::mutex> lock(mu);
  const std::string selector = r.query.contains("labelSelector") ? r.query.at("labelSelector") : "";
  if (r.resource == "pods") {
    if (r.method == "GET" && r.name.empty()) {
      std::vector<std::string> items;
      for (const auto& [key, pod] : pods) {
        if (key.first == r.ns && Matches(pod->labels, selector)) items.push_back(pod->Json());
      }
      return {200,
              absl::StrCat(R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":")",
                           version, R"("},"items":[)", absl::StrJoin(items, ","), "]}")};
    }
    const auto it = pods.find({r.ns, r.name});
    if (r.method == "GET") {
      if (it == pods.end())
        return Error(404, "NotFound", absl::StrCat("pods \"", r.name, "\" not found"));
      return {200, it->second->Json()};
    }
    if (r.method == "DELETE") {
      if (it == pods.end())
        return Error(404, "NotFound", absl::StrCat("pods \"", r.name, "\" not found"));
      Pod& pod = *it->second;
      int64_t grace = 30;
      if (r.query.contains("gracePeriodSeconds"))
        (void)absl::SimpleAtoi(r.query.at("gracePeriodSeconds"), &grace);
      if (!pod.delete_requested || grace < pod.grace) pod.grace = grace;
      if (!pod.delete_requested) {
        pod.delete_requested = true;
        pod.deletion = Now3339();
        Publish("MODIFIED", pod);
      }
      changed.notify_all();
      return {200, pod.Json()};
    }
  }
  if (r.resource == "secrets" || r.resource == "configmaps") {
    auto& store = r.resource == "secrets" ? secrets : config_maps;
    if (r.method == "GET" && r.name.empty()) {
      std::vector<std::string> items;
      for (const auto& [key, s] : store) {
        if (key.first == r.ns && Matches(s.labels, selector)) items.push_back(s.Json());
      }
      return {200, absl::StrCat(
                       R"({"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":")",
                       version, R"("},"items":[)", absl::StrJoin(items, ","), "]}")};
    }
    const auto it = store.find({r.ns, r.name});
    if (it == store.end())
      return Error(404, "NotFound", absl::StrCat("secrets \"", r.name, "\" not found"));
    if (r.method == "GET") return {200, it->second.Json()};
    if (r.method == "DELETE") {
      store.erase(it);
      ++version;
      return {
          200,
          StatusJson(200, "", "").replace(StatusJson(200, "", "").find("Failure"), 7, "Success")};
    }
  }
  if (r.resource == "events" && r.method == "GET" && r.name.empty()) {
    std::string involved;
    if (r.query.contains("fieldSelector")) {
      const std::string& f = r.query.at("fieldSelector");
      if (absl::StartsWith(f, "involvedObject.name=")) involved = f.substr(20);
    }
    std::vector<std::string> items;
    for (const Event& e : events) {
      if (e.ns == r.ns && (involved.empty() || e.involved == involved)) items.push_back(e.json);
    }
    return {200,
            absl::StrCat(R"({"kind":"EventList","apiVersion":"v1","metadata":{"resourceVersion":")",
                         version, R"("},"items":[)", absl::StrJoin(items, ","), "]}")};
  }
  return Error(405, "MethodNotAllowed", absl::StrCat(r.method, " ", r.path, " is not served here"));
}

void LogRequest(const Request& r, int status) {
  std::lock_guard<std::mutex> lock(mu);
  request_log
      << absl::StrCat(
             R"({"method":)", JsonString(r.method), R"(,"path":)", JsonString(r.path),
             R"(,"resource":)", JsonString(r.Resource()), R"(,"verb":)", JsonString(r.Verb()),
             R"(,"watch":)", r.watch ? "true" : "false", R"(,"resourceVersion":)",
             JsonString(r.query.contains("resourceVersion") ? r.query.at("resourceVersion") : ""),
             R"(,"status":)", status, R"(,"at":)",
             absl::StrFormat("%.3f", absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch())), "}\n")
      << std::flush;
}

void Serve(tcp::socket socket, ssl::context& ctx) {
  beast::ssl_stream<tcp::socket> stream(std::move(socket), ctx);
  beast::error_code ec;
  stream.handshake(ssl::stream_base::server, ec);
  if (ec) return;
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) return;
  const auto& req = parser.get();
  auto routed = Route(req);
  if (!routed) {
    WriteReply(stream, Error(404, "NotFound", "the server could not find the requested resource"));
    return;
  }
  const Request& r = *routed;
  const std::string admin = absl::GetFlag(FLAGS_admin_token);
  const bool is_admin = !admin.empty() && req[http::field::authorization] == "Bearer " + admin;
  if (is_admin) {  // the test looking: neither logged, nor restricted, nor faulted
    const Reply reply = r.method != "POST"     ? Handle(r)
                        : r.resource == "pods" ? CreatePod(r)
                                               : CreateObject(r);
    WriteReply(stream, reply);
    return;
  }
  if (req[http::field::authorization] != "Bearer " + absl::GetFlag(FLAGS_token)) {
    LogRequest(r, 401);
    WriteReply(stream, Error(401, "Unauthorized", "Unauthorized"));
    return;
  }
  if (enforce_rbac && !granted.contains({r.Resource(), r.Verb()})) {
    LogRequest(r, 403);
    WriteReply(stream, Error(403, "Forbidden",
                             absl::StrCat(r.resource, " is forbidden: User cannot ", r.Verb(),
                                          " resource \"", r.Resource(), "\" in the namespace \"",
                                          r.ns, "\"")));
    return;
  }
  std::optional<Fault> fault;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (Fault& f : faults) {
      if (f.count > 0 && f.method == r.method && f.resource == r.Resource() &&
          (!f.watch || *f.watch == r.watch)) {
        --f.count;
        fault = f;
        break;
      }
    }
  }
  const int late_ms = fault ? fault->late_ms : 0;
  if (late_ms > 0) fault.reset();
  if (fault && !fault->in_stream) {
    LogRequest(r, fault->status);
    if (fault->status == 410 && r.watch) {
      std::lock_guard<std::mutex> lock(mu);
      int64_t from = 0;
      if (r.query.contains("resourceVersion") &&
          absl::SimpleAtoi(r.query.at("resourceVersion"), &from)) {
        compacted_below = std::max(compacted_below, from + 1);
        version = std::max(version, compacted_below);
      }
    }
    const char* reason = fault->status == 429   ? "TooManyRequests"
                         : fault->status == 410 ? "Expired"
                         : fault->status == 409 ? "AlreadyExists"
                                                : "InternalError";
    Reply reply =
        Error(fault->status, reason, absl::StrCat("injected by the test (", fault->status, ")"));
    reply.retry_after = fault->retry_after;
    WriteReply(stream, reply);
    return;
  }
  if (r.watch && r.resource == "pods" && r.method == "GET") {
    LogRequest(r, 200);
    Watch(stream, r, fault.has_value());
  } else {
    Reply reply = r.resource == "pods" && r.method == "POST" ? CreatePod(r)
                  : (r.resource == "secrets" || r.resource == "configmaps") && r.method == "POST"
                      ? CreateObject(r)
                      : Handle(r);
    LogRequest(r, reply.status);
    std::this_thread::sleep_for(std::chrono::milliseconds(late_ms));
    WriteReply(stream, reply);
  }
  stream.shutdown(ec);
}

bool LoadRole(const std::string& path) {
  try {
    for (const YAML::Node& doc : YAML::LoadAllFromFile(path)) {
      if (!doc["kind"] || doc["kind"].as<std::string>() != "Role") continue;
      for (const YAML::Node& rule : doc["rules"]) {
        for (const YAML::Node& group : rule["apiGroups"]) {
          if (group.as<std::string>() != "") continue;  // core
          for (const YAML::Node& res : rule["resources"]) {
            for (const YAML::Node& verb : rule["verbs"]) {
              granted.insert({res.as<std::string>(), verb.as<std::string>()});
            }
          }
        }
      }
      return true;
    }
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "fake-apiserver: %s: %s\n", path.c_str(), e.what());
  }
  return false;
}

bool LoadFaults(const std::string& text) {
  dom::parser parser;
  dom::array list;
  if (parser.parse(text).get(list) != simdjson::SUCCESS) return false;
  for (dom::element e : list) {
    Fault f;
    f.method = Str(e, "method");
    f.resource = Str(e, "resource");
    int64_t v = 0;
    if (e["status"].get(v) == simdjson::SUCCESS) f.status = static_cast<int>(v);
    if (e["retry_after"].get(v) == simdjson::SUCCESS) f.retry_after = static_cast<int>(v);
    if (e["count"].get(v) == simdjson::SUCCESS) f.count = static_cast<int>(v);
    bool b = false;
    if (e["watch"].get(b) == simdjson::SUCCESS) f.watch = b;
    if (e["in_stream"].get(b) == simdjson::SUCCESS) f.in_stream = b;
    if (e["late_ms"].get(v) == simdjson::SUCCESS) f.late_ms = static_cast<int>(v);
    faults.push_back(f);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = sluice::base::ParseFlags(
      argc, argv, 1,
      {"cert", "key", "token", "state_dir", "podman_prefix", "podman", "role", "faults",
       "watch_timeout", "bookmark_every", "node_cpu", "event_window", "admin_token", "ca"});
  if (!parsed.ok()) {
    std::fprintf(stderr, "fake-apiserver: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  const std::string dir = absl::GetFlag(FLAGS_state_dir);
  if (dir.empty() || absl::GetFlag(FLAGS_cert).empty() || absl::GetFlag(FLAGS_token).empty()) {
    std::fprintf(stderr, "fake-apiserver: --state-dir, --cert, --key and --token are needed\n");
    return 2;
  }
  std::filesystem::create_directories(dir + "/secrets");
  request_log.open(dir + "/requests.jsonl", std::ios::app);
  if (!absl::GetFlag(FLAGS_role).empty()) {
    enforce_rbac = true;
    if (!LoadRole(absl::GetFlag(FLAGS_role))) {
      std::fprintf(stderr, "fake-apiserver: no Role in %s\n", absl::GetFlag(FLAGS_role).c_str());
      return 2;
    }
  }
  if (!LoadFaults(absl::GetFlag(FLAGS_faults))) {
    std::fprintf(stderr, "fake-apiserver: --faults is not a JSON array\n");
    return 2;
  }
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_server);
  ctx.use_certificate_chain_file(absl::GetFlag(FLAGS_cert));
  ctx.use_private_key_file(absl::GetFlag(FLAGS_key), ssl::context::pem);
  tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
  api_port = acceptor.local_endpoint().port();
  std::printf("listening on %d\n", api_port);
  std::fflush(stdout);
  for (;;) {
    beast::error_code ec;
    tcp::socket socket = acceptor.accept(ec);
    if (ec) continue;
    std::thread([s = std::move(socket), &ctx]() mutable { Serve(std::move(s), ctx); }).detach();
  }
}
