#include "orchestrator/kube_config.h"

#include <absl/strings/escaping.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace sluice::orchestrator {
namespace {

constexpr char kToken[] = "eyJ-very-secret-token";
constexpr char kKey[] = "-----BEGIN PRIVATE KEY-----\nsecret-key\n-----END PRIVATE KEY-----\n";

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/sluice-kube-XXXXXX";
    dir_ = mkdtemp(templ);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }

  KubeConfigOptions Options(std::map<std::string, std::string> env) {
    KubeConfigOptions o;
    o.getenv = [env](const std::string& name) -> std::optional<std::string> {
      const auto it = env.find(name);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    o.service_account_dir = dir_ + "/sa";
    return o;
  }

  std::string Kubeconfig() {
    Write("certs/client.crt", "CERT");
    Write("certs/client.key", kKey);
    return Write("kubeconfig", std::string(R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: )") +
                                   absl::Base64Escape("CA PEM") + R"(
- name: proxy
  cluster:
    server: http://127.0.0.1:8001
users:
- name: dev-user
  user:
    token: )" + kToken + R"(
- name: cert-user
  user:
    client-certificate: certs/client.crt
    client-key: certs/client.key
- name: plugin-user
  user:
    exec: {command: aws}
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: syncs}
- name: certs
  context: {cluster: dev-cluster, user: cert-user}
- name: proxy
  context: {cluster: proxy}
- name: plugin
  context: {cluster: dev-cluster, user: plugin-user}
)");
  }

  std::string dir_;
};

TEST_F(KubeConfigTest, TheCurrentContextGivesServerCaTokenAndNamespace) {
  auto c = ResolveKubeConfig(Options({{"KUBECONFIG", Kubeconfig()}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(*c->CurrentToken(), kToken);
  EXPECT_EQ(c->namespace_name, "syncs");
  EXPECT_FALSE(c->in_cluster);
  EXPECT_EQ(c->ToString().find(kToken), std::string::npos) << c->ToString();
}

TEST_F(KubeConfigTest, AContextByNameWithClientCertificateFilesRelativeToTheKubeconfig) {
  KubeConfigOptions options = Options({});
  options.kubeconfig = Kubeconfig();
  options.context = "certs";
  auto c = ResolveKubeConfig(options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, kKey);
  EXPECT_EQ(c->namespace_name, "default");
  EXPECT_EQ(c->ToString().find("secret-key"), std::string::npos);
  auto proxy = LoadKubeconfig(Kubeconfig(), "proxy");
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  EXPECT_EQ(proxy->server, "http://127.0.0.1:8001");
  EXPECT_TRUE(proxy->token.empty());
}

TEST_F(KubeConfigTest, ErrorsSayWhatIsMissingAndNeverQuoteASecret) {
  const std::string file = Kubeconfig();
  auto missing = LoadKubeconfig(file, "prod");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(
                "context 'prod' is not there (contexts: certs, dev, plugin, proxy)"),
            std::string::npos)
      << missing.status();
  auto plugin = LoadKubeconfig(file, "plugin");
  ASSERT_FALSE(plugin.ok());
  EXPECT_NE(plugin.status().message().find("user 'plugin-user' authenticates with exec"),
            std::string::npos)
      << plugin.status();
  for (const auto& s : {missing.status(), plugin.status()}) {
    EXPECT_EQ(s.message().find(kToken), std::string_view::npos);
  }
  EXPECT_FALSE(LoadKubeconfig(dir_ + "/nowhere", "").ok());
  Write("broken", "clusters: {not: a list}\n");
  EXPECT_FALSE(LoadKubeconfig(dir_ + "/broken", "x").ok());
}

TEST_F(KubeConfigTest, KubeconfigListsMergeTheFirstNameWins) {
  const std::string first = Write("first", R"(current-context: one
clusters: [{name: c, cluster: {server: "https://first:6443"}}]
contexts: [{name: one, context: {cluster: c}}]
)");
  const std::string second = Write("second", R"(current-context: two
clusters: [{name: c, cluster: {server: "https://second:6443"}}, {name: d, cluster: {server: "https://d:6443"}}]
contexts: [{name: two, context: {cluster: d}}]
)");
  auto c = ResolveKubeConfig(Options({{"KUBECONFIG", first + ":" + dir_ + "/absent:" + second}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://first:6443");
  auto two = LoadKubeconfig(first + ":" + second, "two");
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->server, "https://d:6443");
}

TEST_F(KubeConfigTest, InAPodTheServiceAccountAndItsRotatingToken) {
  Write("sa/ca.crt", "CLUSTER CA");
  Write("sa/token", std::string(kToken) + "\n");
  Write("sa/namespace", "etl\n");
  auto c = ResolveKubeConfig(
      Options({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT_HTTPS", "443"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->in_cluster);
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  EXPECT_EQ(c->ca_pem, "CLUSTER CA");
  EXPECT_EQ(c->namespace_name, "etl");
  EXPECT_EQ(*c->CurrentToken(), kToken);
  Write("sa/token", "rotated\n");  // the kubelet rotates it: read at each request
  EXPECT_EQ(*c->CurrentToken(), "rotated");
  // In a pod, --kubeconfig still wins.
  KubeConfigOptions options =
      Options({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT_HTTPS", "443"}});
  options.kubeconfig = Kubeconfig();
  auto explicit_file = ResolveKubeConfig(options);
  ASSERT_TRUE(explicit_file.ok());
  EXPECT_EQ(explicit_file->server, "https://10.0.0.1:6443");
}

TEST_F(KubeConfigTest, OutsideAPodWithoutAKubeconfigTheErrorSaysWhere) {
  auto c = ResolveKubeConfig(Options({{"HOME", dir_ + "/home"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_ + "/home/.kube/config"), std::string_view::npos)
      << c.status();
  // A pod whose service account files are missing says so, rather than looking elsewhere.
  auto broken = ResolveKubeConfig(Options(
      {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT_HTTPS", "443"}}));
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("ca.crt"), std::string_view::npos) << broken.status();
}

}  // namespace
}  // namespace sluice::orchestrator
