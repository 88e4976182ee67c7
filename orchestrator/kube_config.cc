#include "orchestrator/kube_config.h"

#include <absl/status/status.h>
#include <absl/strings/escaping.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>
#include <vector>

#include "base/files.h"

namespace sluice::orchestrator {
namespace {

std::string Trimmed(std::string s) { return std::string(absl::StripAsciiWhitespace(s)); }

std::optional<std::string> Env(const KubeConfigOptions& o, const std::string& name) {
  if (o.getenv) return o.getenv(name);
  const char* v = std::getenv(name.c_str());
  return v == nullptr ? std::nullopt : std::optional<std::string>(v);
}

absl::StatusOr<std::string> ReadRequired(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(what, " ", path, " cannot be read"));
  }
  return base::ReadFile(path);
}

// One kubeconfig file's named entries, merged into `into` (the first file naming one wins).
struct Merged {
  std::map<std::string, YAML::Node> clusters, users, contexts;
  std::map<std::string, std::string> dir_of;  // entry key ("cluster/NAME") -> its file's dir
  std::string current_context;
  std::vector<std::string> files;
};

absl::Status MergeFile(const std::string& path, Merged* into) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", path, ":", e.mark.line + 1, ": ", e.msg));
  }
  into->files.push_back(path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  for (const auto& [list, target, kind] : {std::tuple{"clusters", &into->clusters, "cluster"},
                                           std::tuple{"users", &into->users, "user"},
                                           std::tuple{"contexts", &into->contexts, "context"}}) {
    const YAML::Node entries = root[list];
    if (!entries) continue;
    if (!entries.IsSequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig ", path, ": ", list, " must be a list"));
    }
    for (const YAML::Node& e : entries) {
      if (!e["name"] || !e[kind]) {
        return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ":", e.Mark().line + 1,
                                                       ": each of ", list, " needs name and ",
                                                       kind));
      }
      const std::string name = e["name"].as<std::string>();
      if (target->emplace(name, e[kind]).second) into->dir_of[absl::StrCat(kind, "/", name)] = dir;
    }
  }
  if (into->current_context.empty() && root["current-context"]) {
    into->current_context = root["current-context"].as<std::string>();
  }
  return absl::OkStatus();
}

// A file-or-data pair of a kubeconfig: KEY (a path, relative to the file) or KEY-data (base64).
absl::StatusOr<std::string> FileOrData(const YAML::Node& n, const std::string& key,
                                       const std::string& dir, const std::string& where) {
  if (const YAML::Node data = n[key + "-data"]; data) {
    std::string decoded;
    if (!absl::Base64Unescape(data.as<std::string>(), &decoded)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", key, "-data is not base64"));
    }
    return decoded;
  }
  if (const YAML::Node file = n[key]; file) {
    std::filesystem::path p = file.as<std::string>();
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    return ReadRequired(p.string(), absl::StrCat(where, ": ", key));
  }
  return std::string();
}

}  // namespace

absl::StatusOr<std::string> KubeConfig::CurrentToken() const {
  if (token_file.empty()) return token;
  auto text = ReadRequired(token_file, "the token file");
  if (!text.ok()) return text.status();
  return Trimmed(*text);
}

std::string KubeConfig::ToString() const {
  std::string credentials;
  if (!token.empty()) credentials = "a bearer token";
  if (!token_file.empty()) credentials = "the bearer token in " + token_file;
  if (!client_cert_pem.empty()) {
    absl::StrAppend(&credentials, credentials.empty() ? "" : " and ", "a client certificate");
  }
  if (credentials.empty()) credentials = "no credentials";
  return absl::StrCat(server, ", namespace ", namespace_name, ", ", credentials, " (", source, ")");
}

absl::StatusOr<KubeConfig> InClusterConfig(const KubeConfigOptions& options) {
  const std::optional<std::string> host = Env(options, "KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = Env(options, "KUBERNETES_SERVICE_PORT_HTTPS");
  if (!port) port = Env(options, "KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return absl::NotFoundError(
        "not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT_HTTPS are not set");
  }
  KubeConfig c;
  c.in_cluster = true;
  c.source = "in-cluster service account";
  const bool v6 = host->find(':') != std::string::npos;
  c.server = absl::StrCat("https://", v6 ? "[" : "", *host, v6 ? "]" : "", ":", *port);
  const std::string& dir = options.service_account_dir;
  auto ca = ReadRequired(dir + "/ca.crt", "the service account's CA");
  if (!ca.ok()) return ca.status();
  c.ca_pem = std::move(*ca);
  c.token_file = dir + "/token";
  if (auto token = c.CurrentToken(); !token.ok()) return token.status();
  if (auto ns = ReadRequired(dir + "/namespace", "the service account's namespace"); ns.ok()) {
    c.namespace_name = Trimmed(*ns);
  }
  return c;
}

absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& files, const std::string& context) {
  Merged m;
  const std::vector<std::string> paths = absl::StrSplit(files, ':', absl::SkipEmpty());
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;  // as kubectl: a missing one is skipped
    if (auto s = MergeFile(path, &m); !s.ok()) return s;
  }
  if (m.files.empty()) return absl::NotFoundError(absl::StrCat("no kubeconfig at ", files));
  const std::string origin = absl::StrCat("kubeconfig ", absl::StrJoin(m.files, ":"));
  const std::string name = context.empty() ? m.current_context : context;
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": no current-context; give one with --context"));
  }
  const auto ctx = m.contexts.find(name);
  if (ctx == m.contexts.end()) {
    std::string known;
    for (const auto& [n, _] : m.contexts) absl::StrAppend(&known, known.empty() ? "" : ", ", n);
    return absl::NotFoundError(
        absl::StrCat(origin, ": context '", name,
                     "' is not there (contexts: ", known.empty() ? "none" : known, ")"));
  }
  KubeConfig c;
  c.source = absl::StrCat(origin, ", context ", name);
  const std::string cluster_name =
      ctx->second["cluster"] ? ctx->second["cluster"].as<std::string>() : "";
  const std::string user_name = ctx->second["user"] ? ctx->second["user"].as<std::string>() : "";
  if (ctx->second["namespace"]) c.namespace_name = ctx->second["namespace"].as<std::string>();
  const auto cluster = m.clusters.find(cluster_name);
  if (cluster == m.clusters.end()) {
    return absl::NotFoundError(absl::StrCat(origin, ": context '", name, "' names cluster '",
                                            cluster_name, "', which is not there"));
  }
  const std::string where = absl::StrCat(origin, ": cluster '", cluster_name, "'");
  if (!cluster->second["server"]) return absl::InvalidArgumentError(where + " has no server");
  c.server = cluster->second["server"].as<std::string>();
  if (c.server.rfind("https://", 0) != 0 && c.server.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": server '", c.server, "' must be an https:// or http:// URL"));
  }
  c.insecure_skip_tls_verify = cluster->second["insecure-skip-tls-verify"] &&
                               cluster->second["insecure-skip-tls-verify"].as<bool>();
  auto ca = FileOrData(cluster->second, "certificate-authority",
                       m.dir_of[absl::StrCat("cluster/", cluster_name)], where);
  if (!ca.ok()) return ca.status();
  c.ca_pem = std::move(*ca);
  if (user_name.empty()) return c;
  const auto user = m.users.find(user_name);
  if (user == m.users.end()) {
    return absl::NotFoundError(absl::StrCat(origin, ": context '", name, "' names user '",
                                            user_name, "', which is not there"));
  }
  const YAML::Node& u = user->second;
  const std::string user_where = absl::StrCat(origin, ": user '", user_name, "'");
  for (const char* unsupported : {"exec", "auth-provider", "username"}) {
    if (u[unsupported]) {
      return absl::InvalidArgumentError(absl::StrCat(
          user_where, " authenticates with ", unsupported,
          ", which sluice does not run: give it a token, a tokenFile or a client certificate"));
    }
  }
  const std::string dir = m.dir_of[absl::StrCat("user/", user_name)];
  if (u["token"]) c.token = u["token"].as<std::string>();
  if (u["tokenFile"]) {
    std::filesystem::path p = u["tokenFile"].as<std::string>();
    if (p.is_relative()) p = std::filesystem::path(dir) / p;
    c.token_file = p.string();
  }
  auto cert = FileOrData(u, "client-certificate", dir, user_where);
  if (!cert.ok()) return cert.status();
  auto key = FileOrData(u, "client-key", dir, user_where);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        user_where, ": a client certificate needs its key, and a key its certificate"));
  }
  c.client_cert_pem = std::move(*cert);
  c.client_key_pem = std::move(*key);
  return c;
}

absl::StatusOr<KubeConfig> ResolveKubeConfig(const KubeConfigOptions& options) {
  if (!options.kubeconfig.empty()) return LoadKubeconfig(options.kubeconfig, options.context);
  if (const auto env = Env(options, "KUBECONFIG"); env && !env->empty()) {
    return LoadKubeconfig(*env, options.context);
  }
  if (options.context.empty()) {
    auto in_cluster = InClusterConfig(options);
    if (in_cluster.ok() || in_cluster.status().code() != absl::StatusCode::kNotFound ||
        Env(options, "KUBERNETES_SERVICE_HOST")) {
      return in_cluster;  // in a pod: its service account, or why it cannot be used
    }
  }
  const std::optional<std::string> home = Env(options, "HOME");
  if (!home) {
    return absl::NotFoundError(
        "no kubeconfig: not in a pod, and neither --kubeconfig, KUBECONFIG nor HOME is set");
  }
  return LoadKubeconfig(*home + "/.kube/config", options.context);
}

}  // namespace sluice::orchestrator
