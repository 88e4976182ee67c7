#include "protocol/record_prefix.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::protocol {
namespace {

TEST(RecordPrefixTest, KeepsPrefixesWithinItsBoundsOnly) {
  RecordPrefix p;
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(p.Matches(std::string(200, 'x')));  // nothing kept matches nothing
  p.Set(std::string(RecordPrefix::kMinBytes - 1, 'x'));
  EXPECT_TRUE(p.empty());
  p.Set(std::string(RecordPrefix::kMaxBytes + 1, 'x'));
  EXPECT_TRUE(p.empty());
  for (const size_t n : {RecordPrefix::kMinBytes, size_t{33}, size_t{64}, size_t{65}, size_t{100},
                         RecordPrefix::kMaxBytes}) {
    std::string prefix(n, 'a');
    for (size_t i = 0; i < n; ++i) prefix[i] = static_cast<char>('a' + i % 26);
    p.Set(prefix);
    ASSERT_EQ(p.size(), n);
    EXPECT_EQ(p.bytes(), prefix);
    EXPECT_TRUE(p.Matches(prefix));
    EXPECT_TRUE(p.Matches(prefix + "{\"a\":1}"));
    EXPECT_FALSE(p.Matches(prefix.substr(0, n - 1)));  // a line shorter than the prefix
  }
  p.Clear();
  EXPECT_FALSE(p.Matches(std::string(200, 'a')));
}

TEST(RecordPrefixTest, ADifferenceInAnyByteIsAMismatch) {
  const std::string prefix =
      R"({"type":"RECORD","record":{"namespace":"public","stream":"users_2024","data":)";
  RecordPrefix p;
  p.Set(prefix);
  ASSERT_EQ(p.size(), prefix.size());
  for (size_t i = 0; i < prefix.size(); ++i) {
    std::string line = prefix + R"({},"emitted_at":1}})";
    line[i] ^= 0x01;
    EXPECT_FALSE(p.Matches(line)) << i;
  }
}

TEST(RecordPrefixTest, SaysWhetherItsBytesAreAscii) {
  RecordPrefix p;
  p.Set(R"({"type":"RECORD","record":{"stream":"users","data":)");
  EXPECT_TRUE(p.ascii());
  // A byte >= 0x80 in each 32-byte step of the copy, the overlapping last one included.
  for (const size_t at : {size_t{5}, size_t{40}, size_t{70}}) {
    std::string prefix(72, 'x');
    prefix[at] = static_cast<char>(0xC3);
    p.Set(prefix);
    EXPECT_FALSE(p.ascii()) << at;
    EXPECT_TRUE(p.Matches(prefix)) << at;
  }
}

}  // namespace
}  // namespace sluice::protocol
