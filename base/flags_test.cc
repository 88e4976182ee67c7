#include "base/flags.h"

#include <absl/flags/flag.h>
#include <absl/time/time.h>
#include <gtest/gtest.h>

ABSL_FLAG(std::string, test_fifo, "", "a string");
ABSL_FLAG(bool, test_no_inspect, false, "a boolean");
ABSL_FLAG(absl::Duration, test_timeout, absl::Seconds(5), "a duration");
ABSL_FLAG(uint64_t, test_bytes, 7, "a number");

namespace sluice::base {
namespace {

absl::StatusOr<ParsedFlags> Parse(std::vector<std::string> args) {
  std::vector<char*> argv = {const_cast<char*>("tool")};
  for (std::string& a : args) argv.push_back(a.data());
  return ParseFlags(static_cast<int>(argv.size()), argv.data(), 1,
                    {"test_fifo", "test_no_inspect", "test_timeout", "test_bytes"});
}

TEST(FlagsTest, DashesEqualsSpacesBareBooleansAndPositionals) {
  auto parsed = Parse({"first", "--test-fifo=/p/x", "--test-no-inspect", "--test_timeout", "90s",
                       "second", "--test-bytes=42"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->positional, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(parsed->set,
            (std::set<std::string>{"test_fifo", "test_no_inspect", "test_timeout", "test_bytes"}));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_fifo), "/p/x");
  EXPECT_TRUE(absl::GetFlag(FLAGS_test_no_inspect));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_timeout), absl::Seconds(90));
  EXPECT_EQ(absl::GetFlag(FLAGS_test_bytes), 42u);
  ASSERT_TRUE(Parse({"--test-no-inspect=false"}).ok());
  EXPECT_FALSE(absl::GetFlag(FLAGS_test_no_inspect));
}

TEST(FlagsTest, MistakesAreReturnedAndSayWhich) {
  const auto error = [](std::vector<std::string> args) {
    auto parsed = Parse(std::move(args));
    return parsed.ok() ? std::string("ok") : std::string(parsed.status().message());
  };
  EXPECT_EQ(error({"--nope=1"}), "unknown flag --nope");
  EXPECT_EQ(error({"--help-me"}), "unknown flag --help-me");
  EXPECT_EQ(error({"--test-fifo"}), "--test-fifo needs a value");
  EXPECT_NE(error({"--test-bytes=many"}).find("--test-bytes=many: "), std::string::npos);
  EXPECT_NE(error({"--test-timeout=soon"}).find("--test-timeout=soon: "), std::string::npos);
  // A flag this binary defines but the caller does not take here is unknown too.
  auto parsed = [] {
    std::vector<std::string> args = {"--test-fifo=x"};
    std::vector<char*> argv = {const_cast<char*>("tool"), args[0].data()};
    return ParseFlags(2, argv.data(), 1, {"test_bytes"});
  }();
  EXPECT_FALSE(parsed.ok());
}

}  // namespace
}  // namespace sluice::base
