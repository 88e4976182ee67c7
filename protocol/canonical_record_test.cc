#include "protocol/canonical_record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

TEST(CanonicalRecordTest, EveryByteOfTheEnvelopeIsChecked) {
  // `{"type":"RECORD","record":{`: a reader that matched the envelope by its length or its
  // shape alone would take lines that are not records.
  constexpr size_t kEnvelope = 27;
  for (const std::string& name : {std::string("s"), std::string(40, 'a')}) {
    const std::string good = Line(name);
    ASSERT_EQ(good[kEnvelope - 1], '{');
    CanonicalRecord r;
    ASSERT_TRUE(ReadCanonicalRecord(ExactLine(good).view(), &r));
    for (size_t i = 0; i < kEnvelope; ++i) {
      std::string bad = good;
      bad[i] = 'x';
      const ExactLine line(bad);
      EXPECT_FALSE(ReadCanonicalRecord(line.view(), &r)) << bad;
      EXPECT_FALSE(ReadRecordFast(line.view(), &r)) << bad;
    }
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

TEST(CanonicalRecordTest, EveryByteOfTheSuffixIsChecked) {
  // The suffix as the CDKs write it is matched against a pattern from the line's end; each of
  // its bytes must still count, with every spacing the grammar allows.
  for (const char* comma_space : {"", " "}) {
    for (const char* colon_space : {"", " "}) {
      for (const char* data : {"{}", R"({"id":1,"name":"a"})"}) {
        const std::string head =
            std::string(R"({"type":"RECORD","record":{"stream":"s","data":)") + data;
        const std::string good =
            head + "," + comma_space + R"("emitted_at":)" + colon_space + "1700000000000}}";
        CanonicalRecord r;
        ASSERT_TRUE(ReadCanonicalRecord(ExactLine(good).view(), &r)) << good;
        EXPECT_EQ(r.data_bytes, std::strlen(data));
        for (size_t i = head.size(); i < good.size(); ++i) {
          std::string bad = good;
          bad[i] = 'x';
          EXPECT_FALSE(ReadCanonicalRecord(ExactLine(bad).view(), &r)) << bad;
          // A space where none may stand (a first digit that becomes the one space allowed
          // after ':' leaves a valid line).
          if (good[i] == ' ' || (i == good.size() - 15 && *colon_space == '\0')) continue;
          bad[i] = ' ';
          EXPECT_FALSE(ReadCanonicalRecord(ExactLine(bad).view(), &r)) << bad;
        }
      }
    }
  }
}

// The members of a RECORD line in a given order, joined with `sep` around ':' and ','.
std::string Assemble(const std::vector<std::pair<std::string, std::string>>& members,
                     const std::string& sep) {
  std::string out = "{" + sep;
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out += sep + "," + sep;
    out += "\"" + members[i].first + "\"" + sep + ":" + sep + members[i].second;
  }
  return out + sep + "}";
}

TEST(AnyOrderRecordTest, EveryOrderOfEveryKeyReadsAsTheCanonicalLine) {
  const std::string data = R"({"id": 1, "tags": ["a", "b}"], "n": {"x": null}})";
  const std::string canonical =
      R"({"type":"RECORD","record":{"namespace":"ns","stream":"users","data":)" + data +
      R"(,"emitted_at":1700000000000}})";
  CanonicalRecord want;  // its views point into `canonical`
  ASSERT_TRUE(ReadCanonicalRecord(canonical, &want));
  std::vector<std::pair<std::string, std::string>> fields = {{"data", data},
                                                             {"emitted_at", "1700000000000"},
                                                             {"namespace", "\"ns\""},
                                                             {"stream", "\"users\""}};
  int orders = 0;
  do {
    for (const std::string sep : {"", " ", "\t \r"}) {
      const std::string record = Assemble(fields, sep);
      for (const bool type_first : {true, false}) {
        std::vector<std::pair<std::string, std::string>> top = {{"type", "\"RECORD\""},
                                                                {"record", record}};
        if (!type_first) std::swap(top[0], top[1]);
        const ExactLine line(sep + Assemble(top, sep) + sep);
        CanonicalRecord r;
        ASSERT_TRUE(ReadAnyOrderRecord(line.view(), &r)) << line.view();
        EXPECT_EQ(r.stream, want.stream);
        EXPECT_EQ(r.ns, want.ns);
        EXPECT_TRUE(r.has_namespace);
        EXPECT_EQ(r.data_bytes, want.data_bytes) << line.view();
      }
    }
    ++orders;
  } while (std::next_permutation(fields.begin(), fields.end()));
  EXPECT_EQ(orders, 24);
}

TEST(AnyOrderRecordTest, WhatTheGeneralReaderMustDecideIsRefused) {
  const std::string d = R"("data":{"a":1})";
  for (const std::string& bad : std::vector<std::string>{
           R"({"record":{"stream":"s",)" + d + R"(},"type":"RECORD","type":"RECORD"})",
           R"({"record":{"stream":"s","stream":"t",)" + d + R"(},"type":"RECORD"})",
           R"({"record":{"stream":"s",)" + d + R"(,"data":{}},"type":"RECORD"})",
           R"({"record":{"stream":"s",)" + d + R"(},"type":"RECORD","extra":1})",
           R"({"record":{"str\u0065am":"s",)" + d + R"(},"type":"RECORD"})",
           R"({"record":{"stream":"s\n",)" + d + R"(},"type":"RECORD"})",
           R"({"record":{"stream":"s",)" + d + R"(,"emitted_at":1.5},"type":"RECORD"})",
           R"({"record":{"stream":"s",)" + d + R"(,"emitted_at":01},"type":"RECORD"})",
           R"({"record":{"stream":"s","namespace":7,)" + d + R"(},"type":"RECORD"})",
           R"({"record":{"stream":"s","data":[1]},"type":"RECORD"})",
           R"({"record":{"stream":"s","data":"x"},"type":"RECORD"})",
           R"({"record":{)" + d + R"(},"type":"RECORD"})",
           R"({"record":{"stream":"s"},"type":"RECORD"})",
           R"({"record":{"stream":"s",)" + d + R"(}})",
           R"({"record":{"stream":"s",)" + d + R"(},"type":"STATE"})",
           R"({"record":{"stream":"s",)" + d + R"(},"type":"RECORD"} x)",
           R"({"record":{"stream":"s",)" + d + R"(},"type":"RECORD",})",
           R"({"record":{"stream":"s",)" + d + R"(,},"type":"RECORD"})",
           R"({"record":{},"type":"RECORD"})",
           R"({})",
           R"( )",
           R"()"}) {
    const ExactLine line(bad);
    CanonicalRecord r;
    EXPECT_FALSE(ReadAnyOrderRecord(line.view(), &r)) << bad;
  }
}

TEST(AnyOrderRecordTest, FieldsNoReaderCountsArePassedOverWhenTheirValuesAreValid) {
  for (const std::string value :
       {R"({"changes":[{"field":"x","change":"NULLED"}]})", R"("a\"b\\c\/\n\u00e9")", "null",
        "true", "false", "0", "-1.5e+3", "2E7", R"([1,{"a":"}"}])", "\"\xC3\xA9\""}) {
    const ExactLine line(R"({"record":{"meta":)" + value +
                         R"(,"stream":"s","data":{"a": 1},"meta":)" + value +
                         R"(,"emitted_at":1},"type":"RECORD"})");
    CanonicalRecord r;
    ASSERT_TRUE(ReadAnyOrderRecord(line.view(), &r)) << line.view();
    EXPECT_EQ(r.stream, "s");
    EXPECT_EQ(r.data_bytes, 7u);
  }
  for (const std::string bad : {R"("\x")", R"("\u12")", R"("\u12g4")", "01", "1.", "1e", "-", "tru",
                                R"("open)", "\"\x01\"", R"({"a":1)", "\"\xFF\""}) {
    const ExactLine line(R"({"record":{"stream":"s","data":{},"meta":)" + bad +
                         R"(},"type":"RECORD"})");
    CanonicalRecord r;
    EXPECT_FALSE(ReadAnyOrderRecord(line.view(), &r)) << line.view();
  }
  // Invalid UTF-8 in a field passed over before `data` is still caught: `data` being ASCII
  // does not vouch for it.
  const ExactLine before(R"({"record":{"meta":")" + std::string("\xFF") +
                         R"(","stream":"s","data":{}},"type":"RECORD"})");
  CanonicalRecord r;
  EXPECT_FALSE(ReadAnyOrderRecord(before.view(), &r));
}

// emitted_at's digits are read 16 at a time where 16 bytes are left: every length around that
// step, with the line ending right after them or further on, and a leading zero refused.
TEST(AnyOrderRecordTest, EmittedAtOfEveryLengthAndPlace) {
  for (size_t digits = 1; digits <= 40; ++digits) {
    for (const bool at_end : {true, false}) {
      for (const bool leading_zero : {false, true}) {
        std::string n;
        for (size_t i = 0; i < digits; ++i) n.push_back(static_cast<char>('1' + i % 9));
        n[digits / 2] = '0';
        if (leading_zero) n[0] = '0';
        const std::string record = R"({"stream":"s","data":{"a":1},"emitted_at":)" + n + "}";
        const ExactLine line(at_end ? R"({"type":"RECORD","record":)" + record + "}"
                                    : R"({"record":)" + record + R"(,"type":"RECORD"})");
        CanonicalRecord r;
        EXPECT_EQ(ReadAnyOrderRecord(line.view(), &r), !leading_zero || digits == 1)
            << line.view();
        const ExactLine minus(at_end ? R"({"type":"RECORD","record":{"emitted_at":-)" + n +
                                           R"(,"stream":"s","data":{}}})"
                                     : R"({"record":{"stream":"s","data":{},"emitted_at":-)" +
                                           n + R"(},"type":"RECORD"})");
        EXPECT_EQ(ReadAnyOrderRecord(minus.view(), &r), !leading_zero || digits == 1)
            << minus.view();
      }
    }
  }
}

TEST(AnyOrderRecordTest, Utf8IsValidatedWhereverItStands) {
  for (const std::string where : {"stream", "namespace", "data"}) {
    for (const std::string bytes : {"\xC3\xA9", "\xFF"}) {
      const std::string stream = where == "stream" ? bytes : "s";
      const std::string ns = where == "namespace" ? bytes : "n";
      const std::string data = where == "data" ? "{\"" + bytes + "\":1}" : "{}";
      const ExactLine line(R"({"record":{"data":)" + data + R"(,"namespace":")" + ns +
                           R"(","stream":")" + stream + R"("},"type":"RECORD"})");
      CanonicalRecord r;
      EXPECT_EQ(ReadAnyOrderRecord(line.view(), &r), bytes != "\xFF") << where;
    }
  }
}

TEST(AnyOrderRecordTest, TruncatedLinesAreRefusedWithoutReadingPastThem) {
  const std::string full = R"({"record":{"data":{"k":")" + std::string(70, 'v') +
                           R"("},"emitted_at":17,"namespace":null,"stream":"s"},"type":"RECORD"})";
  for (size_t n = 0; n < full.size(); ++n) {
    const ExactLine line(full.substr(0, n));
    CanonicalRecord r;
    EXPECT_FALSE(ReadAnyOrderRecord(line.view(), &r)) << n;
  }
  const ExactLine line(full);
  CanonicalRecord r;
  ASSERT_TRUE(ReadAnyOrderRecord(line.view(), &r));
  EXPECT_FALSE(r.has_namespace);
  EXPECT_EQ(r.data_bytes, 78u);
}

}  // namespace
}  // namespace sluice::protocol
