#include "protocol/state_key.h"

#include <gtest/gtest.h>

namespace sluice::protocol {
namespace {

TEST(StateKeyTest, TheSameStateWrittenAnotherWayHasTheSameKey) {
  const auto java = StateKey(
      R"({"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"é"},"stream_state":{"cursor":1.5e3}}}})");
  // Python's json.dumps: spaces after separators, non-ASCII escaped, another spelling of 1500.
  const auto python = StateKey(
      R"({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "\u00e9"}, "stream_state": {"cursor": 1500.0}}}})");
  ASSERT_TRUE(java.has_value());
  EXPECT_EQ(java, python);
}

TEST(StateKeyTest, AnotherStateHasAnotherKey) {
  EXPECT_NE(StateKey(R"({"type":"STATE","state":{"data":{"c":1}}})"),
            StateKey(R"({"type":"STATE","state":{"data":{"c":2}}})"));
}

TEST(StateKeyTest, WhatIsNotAStateHasNoKey) {
  EXPECT_FALSE(StateKey(R"({"type":"LOG","log":{"level":"INFO","message":"m"}})").has_value());
  EXPECT_FALSE(StateKey("not json").has_value());
  EXPECT_FALSE(StateKey(R"({"type":"STATE"})").has_value());
}

}  // namespace
}  // namespace sluice::protocol
