#include "orchestrator/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
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
  EXPECT_EQ(spec->engine, "splice");
  EXPECT_FALSE(spec->inspect);
  EXPECT_EQ(spec->state_file, "state.json");
  EXPECT_EQ(spec->timeout, absl::Minutes(90));
}

TEST(SyncSpecTest, DefaultsForWhatIsLeftOut) {
  auto spec = ParseSyncSpec("name: a\nsource: {command: [s]}\ndestination: {command: [d]}\n", "x");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->engine, "auto");
  EXPECT_TRUE(spec->inspect);
  EXPECT_EQ(spec->state_file, "");
  EXPECT_EQ(spec->timeout, absl::InfiniteDuration());
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
       "sync.yaml:4: relay.inspect: must be true or false"},
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

TEST(SyncSpecTest, AMissingFileSaysWhichAndWhatToDo) {
  auto spec = LoadSyncSpec("/nonexistent/sync.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("cannot read the sync spec /nonexistent/sync.yaml"));
}

}  // namespace
}  // namespace sluice::orchestrator
