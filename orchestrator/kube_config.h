// Where the Kubernetes API server is and how to prove who we are, as kubectl finds it:
//
//   1. --kubeconfig FILE, else $KUBECONFIG (a ':'-separated list, merged: the first file that
//      names a cluster, user or context wins), else, inside a pod, the service account
//      ($KUBERNETES_SERVICE_HOST, $KUBERNETES_SERVICE_PORT_HTTPS, and token, ca.crt and
//      namespace under /var/run/secrets/kubernetes.io/serviceaccount), else ~/.kube/config;
//   2. in a kubeconfig, the current context or --context: its cluster's server,
//      certificate-authority or certificate-authority-data, insecure-skip-tls-verify; its user's
//      token or tokenFile, client-certificate(-data) and client-key(-data); its namespace.
//      Relative paths are relative to the kubeconfig's directory. A plain http:// server (a
//      `kubectl proxy`) takes no credentials.
//
//   absl::StatusOr<KubeConfig> c = ResolveKubeConfig({.kubeconfig = flag, .context = ""});
//
// Secrets (the token, the client key) are held in memory only and appear in no error and in
// no ToString(). A token file (the service account's, which the kubelet rotates) is named, not
// read: CurrentToken() reads it when asked, so a long sync follows the rotation.
//
// Thread-compatible.

#ifndef SLUICE_ORCHESTRATOR_KUBE_CONFIG_H_
#define SLUICE_ORCHESTRATOR_KUBE_CONFIG_H_

#include <absl/status/statusor.h>

#include <functional>
#include <optional>
#include <string>

namespace sluice::orchestrator {

struct KubeConfig {
  std::string server;  // https://host:port, or http://127.0.0.1:8001 for a kubectl proxy
  std::string ca_pem;  // the cluster's CA; "" for the system's trust store
  bool insecure_skip_tls_verify = false;
  std::string token;                            // a bearer token, or
  std::string token_file;                       // one to read (again) at each request
  std::string client_cert_pem, client_key_pem;  // client certificate authentication
  std::string namespace_name = "default";
  bool in_cluster = false;
  std::string
      source;  // where this came from, for messages: "in-cluster", "kubeconfig F (context C)"

  // The bearer token to send now ("" for none): token, or token_file's content, trimmed.
  absl::StatusOr<std::string> CurrentToken() const;
  // For logs: the server, the namespace, the source and which kinds of credentials, never their
  // values.
  std::string ToString() const;
};

struct KubeConfigOptions {
  std::string kubeconfig;  // --kubeconfig; "" for the search above
  std::string context;     // --context; "" for the current context
  // The environment and the home directory; tests give their own.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

absl::StatusOr<KubeConfig> ResolveKubeConfig(const KubeConfigOptions& options);

// The parts, for tests and for callers that know which they want.
absl::StatusOr<KubeConfig> InClusterConfig(const KubeConfigOptions& options);
absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& files, const std::string& context);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_KUBE_CONFIG_H_
