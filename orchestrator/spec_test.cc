#include "orchestrator/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace sluice::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

TEST(SyncSpecTest, ReadsEveryField) {
  auto spec = ParseSyncSpec(R"(
name: pg-to-s3
source:
  command: [my-source, read, --config, source.json]
  env: {LOG_LEVEL: info}
destination:
  command: ["my-destination", "write"]
relay:
  engine: splice
  inspect: false
state_file: state.json
timeout: 90m
)",
                            "sync.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "pg-to-s3");
  EXPECT_THAT(spec->source.command, ElementsAre("my-source", "read", "--config", "source.json"));
  EXPECT_THAT(spec->source.env, ElementsAre(Pair("LOG_LEVEL", "info")));
  EXPECT_THAT(spec->destination.command, ElementsAre("my-destination", "write"));
  EXPECT_EQ(spec->engine, dataplane::EngineKind::kSplice);
  EXPECT_EQ(spec->inspect, Inspection::kOff);
  EXPECT_EQ(spec->state_file, "state.json");
  EXPECT_EQ(spec->timeout, absl::Minutes(90));
}

TEST(SyncSpecTest, DefaultsForWhatIsLeftOut) {
  auto spec = ParseSyncSpec("name: a\nsource: {command: [s]}\ndestination: {command: [d]}\n", "x");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->engine, dataplane::EngineKind::kAuto);
  EXPECT_EQ(spec->inspect, Inspection::kSource);
  EXPECT_EQ(spec->state_file, "");
  EXPECT_EQ(spec->timeout, absl::InfiniteDuration());
}

TEST(SyncSpecTest, InspectNamesWhichRelaysCount) {
  for (const auto& [value, expected] :
       std::vector<std::pair<std::string, Inspection>>{{"true", Inspection::kSource},
                                                       {"both", Inspection::kBoth},
                                                       {"false", Inspection::kOff}}) {
    auto spec = ParseSyncSpec(
        "name: a\nsource: {command: [s]}\ndestination: {command: [d]}\nrelay: {inspect: " + value +
            "}\n",
        "x");
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->inspect, expected) << value;
  }
}

// Each mistake is named with the file, the line and the key.
TEST(SyncSpecTest, ErrorsSayWhereAndWhat) {
  const struct {
    const char* yaml;
    const char* expected;
  } cases[] = {
      {"name: a\nsource: {command: [s]}\n", "sync.yaml: destination: is missing"},
      {"name: a\nsource: {command: s}\ndestination: {command: [d]}\n",
       "sync.yaml:2: source.command: must be a non-empty list of strings"},
      {"name: a\nsource: {command: []}\ndestination: {command: [d]}\n",
       "sync.yaml:2: source.command: must be a non-empty list"},
      {"name: Bad_Name\nsource: {command: [s]}\ndestination: {command: [d]}\n",
       "sync.yaml:1: name: 'Bad_Name' must be 1-40 characters"},
      {"name: a\nsource: {command: [s]}\ndestination: {command: [d]}\nrelay: {engine: fast}\n",
       "sync.yaml:4: relay.engine: 'fast' must be auto, uring, splice or copy"},
      {"name: a\nsource: {command: [s]}\ndestination: {command: [d]}\nrelay: {inspect: maybe}\n",
       "sync.yaml:4: relay.inspect: must be true (the source's relay counts, the destination's "
       "checks the checksum), both (both relays count) or false"},
      {"name: a\nsource: {command: [s]}\ndestination: {command: [d]}\ntimeout: soon\n",
       "sync.yaml:4: timeout: 'soon' must be a positive duration"},
      {"name: a\nsource: {command: [s]}\ndestination: {command: [d]}\nstate_fiel: x\n",
       "sync.yaml:4: state_fiel: unknown key"},
      {"name: a\nsource: {command: [s], enV: {}}\ndestination: {command: [d]}\n",
       "sync.yaml:2: source.enV: unknown key"},
      {"name: a\nsource: {command: [s], env: {A=B: c}}\ndestination: {command: [d]}\n",
       "'A=B' is not a variable name"},
      {"name: [a\n", "sync.yaml:"},
      {"- just\n- a list\n", "sync.yaml: must be a map"},
  };
  for (const auto& c : cases) {
    auto spec = ParseSyncSpec(c.yaml, "sync.yaml");
    ASSERT_FALSE(spec.ok()) << c.yaml;
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(c.expected)) << c.yaml;
  }
}

// A connector with a config runs on the Airbyte CLI; YAML values keep their JSON types.
TEST(SyncSpecTest, ConnectorConfigsAndTheCatalog) {
  auto spec = ParseSyncSpec(R"(
name: a
source:
  image: airbyte/source-postgres:3.6
  command: [source-postgres]
  config: {host: db, port: 5432, ssl: true, password: "0123", ratio: 1.5, none: ~, tags: [a, "b"]}
destination:
  command: [destination-x]
  config: {path: "/out"}
catalog: {streams: [{stream: {name: users}, sync_mode: incremental}]}
relay: {stall_timeout: 2m}
)",
                            "sync.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->source.image, "airbyte/source-postgres:3.6");
  EXPECT_EQ(*spec->source.config_json,
            R"({"host":"db","port":5432,"ssl":true,"password":"0123","ratio":1.5,"none":null,"tags":["a","b"]})");
  EXPECT_EQ(*spec->destination.config_json, R"({"path":"/out"})");
  EXPECT_EQ(*spec->catalog_json,
            R"({"streams":[{"stream":{"name":"users"},"sync_mode":"incremental"}]})");
  EXPECT_EQ(spec->stall_timeout, absl::Minutes(2));
}

TEST(SyncSpecTest, ConfigAndCatalogFilesAreRelativeToTheSpec) {
  // A directory of its own, removed however the test ends: the files hold a (fake) secret.
  char templ[] = "/tmp/sluice-spec-files-XXXXXX";
  ASSERT_NE(mkdtemp(templ), nullptr);
  const std::string dir = templ;
  const struct RemoveAll {
    std::string dir;
    ~RemoveAll() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_all{dir};
  std::ofstream(dir + "/source.json") << R"({ "api_key" : "secret-value", "n": [1, 2] })";
  std::ofstream(dir + "/catalog.json") << R"({"streams": []})";
  std::ofstream(dir + "/broken.json") << R"({"api_key": "secret-value")";
  auto spec = ParseSyncSpec(
      "name: a\nsource: {command: [s], config_file: source.json}\ndestination: {command: [d]}\n"
      "catalog_file: catalog.json\n",
      dir + "/sync.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(*spec->source.config_json, R"({"api_key":"secret-value","n":[1,2]})");
  EXPECT_FALSE(spec->destination.config_json.has_value());
  EXPECT_EQ(*spec->catalog_json, R"({"streams":[]})");
  // A broken config file is named, and its content (a secret) is not quoted.
  auto broken = ParseSyncSpec(
      "name: a\nsource: {command: [s], config_file: broken.json}\ndestination: {command: [d]}\n"
      "catalog_file: catalog.json\n",
      dir + "/sync.yaml");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()),
              HasSubstr("source.config_file: " + dir + "/broken.json is not a JSON object"));
  EXPECT_THAT(std::string(broken.status().message()), Not(HasSubstr("secret-value")));
}

TEST(SyncSpecTest, AConfigWithoutACatalogSaysWhatIsMissing) {
  auto spec = ParseSyncSpec("name: a\nsource: {command: [s], config: {k: v}}\ndestination: {command: [d]}\n",
                            "sync.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("sync.yaml: catalog: is missing"));
  auto both = ParseSyncSpec(
      "name: a\nsource: {command: [s], config: {k: v}, config_file: x.json}\n"
      "destination: {command: [d]}\ncatalog: {streams: []}\n",
      "sync.yaml");
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(std::string(both.status().message()),
              HasSubstr("source.config_file: give source.config or source.config_file, not both"));
}

TEST(ConnectorSpecTest, OneConnectorAlone) {
  auto c = ParseConnectorSpec("command: [source-x]\nconfig: {token: t}\n", "source.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->command, ElementsAre("source-x"));
  EXPECT_EQ(*c->config_json, R"({"token":"t"})");
  auto bad = ParseConnectorSpec("comand: [x]\n", "source.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("source.yaml:1: connector.comand: unknown key"));
}

TEST(SyncSpecTest, AMissingFileSaysWhichAndWhatToDo) {
  auto spec = LoadSyncSpec("/nonexistent/sync.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("cannot read the sync spec /nonexistent/sync.yaml"));
}

}  // namespace
}  // namespace sluice::orchestrator
