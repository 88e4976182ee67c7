#include "dataplane/end_marker.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::dataplane {
namespace {

TEST(EndMarkerTest, RoundTripsWithAndWithoutAChecksum) {
  const std::string with =
      EncodeEndMarker({.payload_bytes = 0x0102030405060708ULL, .checksum = 0xfedcba9876543210ULL});
  ASSERT_EQ(with.size(), kEndMarkerBytes);
  EXPECT_EQ(with.substr(0, 8), std::string("SLUICE\0\x02", 8));
  EXPECT_EQ(with[8], '\x08');  // little-endian
  const auto back = DecodeEndMarker(with);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->payload_bytes, 0x0102030405060708ULL);
  EXPECT_EQ(back->checksum, 0xfedcba9876543210ULL);

  const std::string without = EncodeEndMarker({.payload_bytes = 42, .checksum = std::nullopt});
  ASSERT_EQ(without.size(), kEndMarkerBytes);
  const auto back_without = DecodeEndMarker(without);
  ASSERT_TRUE(back_without.has_value());
  EXPECT_EQ(back_without->payload_bytes, 42u);
  EXPECT_FALSE(back_without->checksum.has_value());
}

TEST(EndMarkerTest, PayloadIsNoMarker) {
  const std::string marker = EncodeEndMarker({.payload_bytes = 7, .checksum = 1});
  EXPECT_FALSE(DecodeEndMarker(marker.substr(0, kEndMarkerBytes - 1)).has_value());
  EXPECT_FALSE(DecodeEndMarker(marker + "x").has_value());
  std::string other_version = marker;
  other_version[7] = '\x01';  // the length-only marker of earlier relays
  EXPECT_FALSE(DecodeEndMarker(other_version).has_value());
  EXPECT_FALSE(DecodeEndMarker(std::string(kEndMarkerBytes, '{')).has_value());
}

uint64_t ChecksumOf(const std::string& bytes, size_t chunk) {
  PayloadChecksum sum;
  for (size_t i = 0; i < bytes.size(); i += chunk)
    sum.Update(std::string_view(bytes).substr(i, chunk));
  return sum.Digest();
}

TEST(PayloadChecksumTest, IsXxh3AndDoesNotDependOnChunking) {
  EXPECT_EQ(PayloadChecksum().Digest(), 0x2D06800538D394C2ULL);  // XXH3-64 of no bytes
  std::string payload;
  for (int i = 0; i < 100000; ++i)
    payload += "{\"type\":\"RECORD\",\"n\":" + std::to_string(i) + "}\n";
  const uint64_t whole = ChecksumOf(payload, payload.size());
  for (size_t chunk : {1u, 7u, 64u, 4096u, 65536u}) EXPECT_EQ(ChecksumOf(payload, chunk), whole);
}

TEST(PayloadChecksumTest, SeesAChangedByteAndSwappedChunks) {
  std::string payload(1 << 20, 'x');
  for (size_t i = 0; i < payload.size(); i += 97) payload[i] = static_cast<char>('a' + i % 26);
  const uint64_t original = ChecksumOf(payload, 65536);
  std::string changed = payload;
  changed[123456] ^= 1;
  EXPECT_NE(ChecksumOf(changed, 65536), original);
  // The same bytes with two 64 KiB chunks in the other order: a length check cannot see it.
  const std::string swapped =
      payload.substr(65536, 65536) + payload.substr(0, 65536) + payload.substr(131072);
  ASSERT_EQ(swapped.size(), payload.size());
  EXPECT_NE(ChecksumOf(swapped, 65536), original);
  EXPECT_EQ(ChecksumHex(0xabcULL), "0000000000000abc");
}

}  // namespace
}  // namespace sluice::dataplane
