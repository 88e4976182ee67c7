#include "protocol/canonical_record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

namespace sluice::protocol {
namespace {

// The line in a heap block of exactly its size, so that ASan (the sanitizer build) fails any
// read past its end: the fast path reads 16 bytes at a time near both ends of the line.
class ExactLine {
 public:
  explicit ExactLine(const std::string& text)
      : size_(text.size()), bytes_(std::make_unique<char[]>(text.size())) {
    std::memcpy(bytes_.get(), text.data(), size_);
  }
  std::string_view view() const { return {bytes_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> bytes_;
};

std::string Line(const std::string& stream, const std::string& emitted_at = "1700000000000") {
  return R"({"type":"RECORD","record":{"stream":")" + stream +
         R"(","data":{"id":1},"emitted_at":)" + emitted_at + "}}";
}

TEST(CanonicalRecordTest, StreamNamesOfEveryLengthAroundTheVectorWidth) {
  for (size_t n = 0; n <= 40; ++n) {
    const std::string name(n, 'a');
    const ExactLine line(Line(name));
    CanonicalRecord r;
    ASSERT_TRUE(ReadCanonicalRecord(line.view(), &r)) << n;
    EXPECT_EQ(r.stream, name);
    EXPECT_EQ(r.data_bytes, 8u);
  }
}

TEST(CanonicalRecordTest, RefusesEscapesAndControlsAtEveryPositionOfTheName) {
  for (size_t n = 1; n <= 40; ++n) {
    for (size_t i = 0; i < n; ++i) {
      for (const char bad : {'\\', '\x01', '\x1f', '\t'}) {
        std::string name(n, 'a');
        name[i] = bad;
        const ExactLine line(Line(name));
        CanonicalRecord r;
        EXPECT_FALSE(ReadCanonicalRecord(line.view(), &r))
            << "length " << n << ", byte " << int(bad) << " at " << i;
      }
    }
  }
}

TEST(CanonicalRecordTest, AcceptsUtf8AndSpacesInTheNameAtEveryPosition) {
  for (size_t n = 2; n <= 40; ++n) {
    for (size_t i = 0; i + 1 < n; ++i) {
      std::string name(n, 'a');
      name[i] = '\xc3';  // U+00E9
      name[i + 1] = '\xa9';
      const ExactLine line(Line(name));
      CanonicalRecord r;
      ASSERT_TRUE(ReadCanonicalRecord(line.view(), &r)) << n << " " << i;
      EXPECT_EQ(r.stream, name);
      name[i] = ' ';
      name[i + 1] = '\x7f';  // DEL is not a control character to JSON
      const ExactLine spaced(Line(name));
      ASSERT_TRUE(ReadCanonicalRecord(spaced.view(), &r)) << n << " " << i;
      EXPECT_EQ(r.stream, name);
    }
  }
}

TEST(CanonicalRecordTest, RefusesInvalidUtf8InTheName) {
  for (size_t n = 1; n <= 40; ++n) {
    std::string name(n, 'a');
    name[n / 2] = '\xff';
    const ExactLine line(Line(name));
    CanonicalRecord r;
    EXPECT_FALSE(ReadCanonicalRecord(line.view(), &r)) << n;
  }
}

TEST(CanonicalRecordTest, TruncatedLinesAreRefusedWithoutReadingPastThem) {
  const std::string full = Line(std::string(37, 's'));
  for (size_t n = 0; n < full.size(); ++n) {
    const ExactLine line(full.substr(0, n));
    CanonicalRecord r;
    EXPECT_FALSE(ReadCanonicalRecord(line.view(), &r)) << n;
  }
}

TEST(CanonicalRecordTest, EmittedAtOfEveryLength) {
  for (size_t digits = 1; digits <= 22; ++digits) {
    for (const bool negative : {false, true}) {
      std::string n(digits, '7');
      if (negative) n.insert(0, "-");
      const ExactLine line(Line("s", n));
      CanonicalRecord r;
      EXPECT_TRUE(ReadCanonicalRecord(line.view(), &r)) << n;
      // A leading zero is not JSON, except for 0 itself.
      std::string zero = "0" + std::string(digits - 1, '5');
      if (negative) zero.insert(0, "-");
      const ExactLine zeroed(Line("s", zero));
      EXPECT_EQ(ReadCanonicalRecord(zeroed.view(), &r), digits == 1) << zero;
    }
  }
  for (const char* bad : {"", "-", "1e3", "1.5", "+1", "--1", "1-1", "x1"}) {
    const ExactLine line(Line("s", bad));
    CanonicalRecord r;
    EXPECT_FALSE(ReadCanonicalRecord(line.view(), &r)) << bad;
  }
}

}  // namespace
}  // namespace sluice::protocol
