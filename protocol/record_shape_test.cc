#include "protocol/record_shape.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/canonical_record.h"

namespace sluice::protocol {
namespace {

// A line in one key order with its two values in place of <d> (`data`) and <e> (`emitted_at`).
struct Shape {
  const char* name;
  std::string text;
};

std::string Fill(const std::string& shape, const std::string& data, const std::string& at) {
  std::string line = shape;
  line.replace(line.find("<d>"), 3, data);
  if (const size_t e = line.find("<e>"); e != std::string::npos) line.replace(e, 3, at);
  return line;
}

const std::vector<Shape>& Shapes() {
  static const std::vector<Shape> shapes = {
      {"sorted keys",
       R"({"record":{"data":<d>,"emitted_at":<e>,"stream":"users"},"type":"RECORD"})"},
      {"sorted with namespace",
       R"({"record":{"data":<d>,"emitted_at":<e>,"namespace":"public","stream":"users"},"type":"RECORD"})"},
      {"emitted_at first",
       R"({"type":"RECORD","record":{"emitted_at":<e>,"stream":"users","data":<d>}})"},
      {"emitted_at first, spaced",
       R"( { "record" : { "emitted_at" : <e> , "data" : <d> , "stream" : "users" } , "type" : "RECORD" } )"},
      {"no emitted_at", R"({"record":{"stream":"users","data":<d>},"type":"RECORD"})"},
      {"with meta and null namespace",
       R"({"record":{"data":<d>,"emitted_at":<e>,"meta":{"changes":[]},"namespace":null,"stream":"users"},"type":"RECORD"})"},
      {"non-ASCII name",
       R"({"record":{"data":<d>,"emitted_at":<e>,"stream":"ünïcödé"},"type":"RECORD"})"},
  };
  return shapes;
}

// Values the holes can hold: some the any-order reader reads as `data` and `emitted_at`, some
// it refuses, some that would change how the rest of the line reads.
const std::vector<std::string> kData = {
    R"({})",
    R"({"a":1})",
    R"({"id": 7, "name": "x y", "tags": [1, {"k": null}]})",
    R"({"s":"}"})",
    R"({"s":"\""})",
    R"({"s":"\\"})",
    R"({"s":"日本"})",
    "{\"s\":\"\xff\"}",   // not UTF-8
    "{\"s\":\"\xc3(\"}",  // a broken sequence
    R"({"a":1)",          // not closed
    R"({"a":1}})",        // closed once too often
    R"([1,2])",           // not an object
    R"("text")",
    R"(null)",
    R"({"a":1},"stream":"other")",  // another member after it
    R"({"a":"x)",                   // an open string
};
const std::vector<std::string> kAt = {
    "1700000000000",           "0",     "-5",  "01", "1.5", "1e3", "-", "", "12a",
    "99999999999999999999999", "\"1\"", "null"};

TEST(RecordShapeTest, ReadsWhatTheAnyOrderReaderReadsAndNothingElse) {
  size_t read = 0;
  for (const Shape& shape : Shapes()) {
    const std::string first = Fill(shape.text, R"({"x":0})", "1700000000001");
    CanonicalRecord kept;
    ASSERT_TRUE(ReadAnyOrderRecord(first, &kept)) << shape.name;
    RecordShape s;
    s.Set(first, kept);
    ASSERT_FALSE(s.empty()) << shape.name;
    for (const std::string& data : kData) {
      for (const std::string& at : kAt) {
        const std::string line = Fill(shape.text, data, at);
        CanonicalRecord r;
        const bool reader = ReadAnyOrderRecord(line, &r);
        uint64_t data_bytes = 0;
        const bool fast = s.Read(line, &data_bytes);
        // Read() may leave a line to the reader; it must never take one the reader refuses,
        // nor read a stream or a size the reader would not.
        if (fast) {
          EXPECT_TRUE(reader) << shape.name << ": " << line;
          EXPECT_EQ(r.stream, kept.stream) << line;
          EXPECT_EQ(r.ns, kept.ns) << line;
          EXPECT_EQ(data_bytes, r.data_bytes) << line;
          ++read;
        }
        // A line with both values well formed is read: that is what the shape is for.
        if (reader && line.substr(r.data_begin, r.data_end - r.data_begin) == data) {
          EXPECT_TRUE(fast) << shape.name << ": " << line;
        }
      }
    }
  }
  // Not vacuous: 7 well-formed data values times 4 well-formed integers (the timestamp, "0",
  // "-5" and one of 23 digits, which this reader does not bound) for each shape with
  // `emitted_at`, and times every integer for the one without it.
  EXPECT_EQ(read, 6 * 7 * 4 + 7 * kAt.size());
}

TEST(RecordShapeTest, ADifferenceInAnyKeptByteIsAMismatch) {
  for (const Shape& shape : Shapes()) {
    const std::string first = Fill(shape.text, R"({"x":0})", "1700000000001");
    CanonicalRecord kept;
    ASSERT_TRUE(ReadAnyOrderRecord(first, &kept));
    RecordShape s;
    s.Set(first, kept);
    uint64_t data_bytes;
    ASSERT_TRUE(s.Read(first, &data_bytes)) << shape.name;
    for (size_t i = 0; i < first.size(); ++i) {
      const bool in_value =
          (i >= kept.data_begin && i < kept.data_end) || (i >= kept.at_begin && i < kept.at_end);
      if (in_value) continue;
      std::string line = first;
      line[i] ^= 0x01;
      EXPECT_FALSE(s.Read(line, &data_bytes)) << shape.name << " byte " << i << ": " << line;
    }
    // Longer or shorter at either end.
    EXPECT_FALSE(s.Read(" " + first, &data_bytes)) << shape.name;
    EXPECT_FALSE(s.Read(first + " ", &data_bytes)) << shape.name;
    EXPECT_FALSE(s.Read(first.substr(1), &data_bytes)) << shape.name;
    EXPECT_FALSE(s.Read(first.substr(0, first.size() - 1), &data_bytes)) << shape.name;
  }
}

TEST(RecordShapeTest, KeepsNothingOverItsBoundOrWithoutData) {
  const std::string meta(RecordShape::kMaxBytes, 'm');
  const std::string line = R"({"record":{"data":{},"emitted_at":1,"meta":")" + meta +
                           R"(","stream":"users"},"type":"RECORD"})";
  CanonicalRecord r;
  ASSERT_TRUE(ReadAnyOrderRecord(line, &r));
  RecordShape s;
  s.Set(line, r);
  EXPECT_TRUE(s.empty());
  uint64_t data_bytes;
  EXPECT_FALSE(s.Read(line, &data_bytes));
  // A canonical reading locates no values: nothing to keep.
  const std::string canonical =
      R"({"type":"RECORD","record":{"stream":"users","data":{},"emitted_at":1}})";
  ASSERT_TRUE(ReadCanonicalRecord(canonical, &r));
  s.Set(canonical, r);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace sluice::protocol
