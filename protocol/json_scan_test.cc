#include "protocol/json_scan.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice::protocol {
namespace {

using internal::ScanKernel;

// A byte-at-a-time restatement of ScanLeadingContainer's contract: the size of the container
// `s` starts with, 0 if none closes or it holds a control byte.
size_t SlowLeading(std::string_view s, uint64_t* compact, bool* ascii) {
  if (s.empty() || (s[0] != '{' && s[0] != '[')) return 0;
  bool in_string = false, escaped = false;
  int64_t depth = 0;
  uint64_t ws = 0;
  *ascii = true;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) *ascii = false;
    if (static_cast<unsigned char>(c) < 0x20) return 0;
    const bool this_escaped = escaped;
    escaped = c == '\\' && !this_escaped;  // a backslash escapes the next byte, wherever it is
    if (c == '"' && !this_escaped) {
      in_string = !in_string;
      continue;
    }
    if (in_string) continue;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') ++ws;
    if (c == '{' || c == '[') ++depth;
    if ((c == '}' || c == ']') && --depth == 0) {
      *compact = i + 1 - ws;
      return i + 1;
    }
  }
  return 0;
}

// ScanContainer's contract, restated by it: the container closes at the last byte.
bool SlowScan(std::string_view s, uint64_t* compact) {
  bool ascii = true;
  const size_t n = SlowLeading(s, compact, &ascii);
  return n != 0 && n == s.size();
}

std::vector<ScanKernel> Kernels() {
  std::vector<ScanKernel> k;
  for (ScanKernel kernel : {ScanKernel::kPortable, ScanKernel::kAvx2, ScanKernel::kAvx512}) {
    if (internal::KernelAvailable(kernel)) k.push_back(kernel);
  }
  return k;
}

TEST(ScanContainerTest, CountsWhitespaceOutsideStringsOnly) {
  for (ScanKernel k : Kernels()) {
    ContainerScan scan;
    ASSERT_TRUE(internal::ScanContainerWith(k, R"({"a": [1, "x y"]})", &scan));
    EXPECT_EQ(scan.compact_bytes, 15u);
    EXPECT_TRUE(scan.ascii);
    ASSERT_TRUE(internal::ScanContainerWith(k, "{\"\xC3\xA9\":1}", &scan));
    EXPECT_FALSE(scan.ascii);
  }
}

// A control byte in a string is not JSON; one between tokens is, but the scans leave it to
// the general reader. Anywhere in a block, in the first block, the last, or a short tail.
TEST(ScanContainerTest, RejectsValuesWithControlBytes) {
  for (ScanKernel k : Kernels()) {
    for (const size_t pad : {0, 10, 60, 61, 62, 63, 64, 100, 127, 128, 200}) {
      for (const char control : {'\x01', '\t', '\n', '\r', '\x1f', '\0'}) {
        for (const bool in_string : {true, false}) {
          for (const std::string b : {"\xC3\xA9", "e"}) {
            // {"a":"xxx...","b":"é"}, the control byte amid the x's or before their string.
            std::string value = "{\"a\":\"" + std::string(pad, 'x') + "\",\"b\":\"" + b + "\"}";
            value.insert(in_string ? 6 + pad / 2 : 5, 1, control);
            ContainerScan scan;
            EXPECT_FALSE(internal::ScanContainerWith(k, value, &scan))
                << pad << " " << int{control};
            EXPECT_EQ(internal::ScanLeadingContainerWith(k, value + ",\"c\":1}", &scan), 0u)
                << pad << " " << int{control};
          }
        }
      }
      // Control bytes after the value are not the value's.
      const std::string value = "{\"a\":\"" + std::string(pad, 'x') + "\"}";
      ContainerScan scan;
      EXPECT_EQ(internal::ScanLeadingContainerWith(k, value + "\t\x01", &scan), value.size());
      EXPECT_TRUE(scan.ascii);
    }
  }
}

TEST(ScanContainerTest, RejectsSpansThatAreNotOneValue) {
  for (ScanKernel k : Kernels()) {
    ContainerScan compact;
    EXPECT_FALSE(internal::ScanContainerWith(k, R"({"a":1},{"b":2})", &compact));  // closes early
    EXPECT_FALSE(internal::ScanContainerWith(k, R"({"a":"}")", &compact));         // open string
    EXPECT_FALSE(internal::ScanContainerWith(k, R"({"a":{})", &compact));          // unbalanced
    EXPECT_FALSE(internal::ScanContainerWith(k, R"("a")", &compact));  // not a container
    EXPECT_FALSE(internal::ScanContainerWith(k, "", &compact));
    EXPECT_TRUE(
        internal::ScanContainerWith(k, R"({"a":"}\"{"})", &compact));        // brackets in strings
    EXPECT_TRUE(internal::ScanContainerWith(k, R"({"a":"\\"})", &compact));  // escaped backslash
  }
}

TEST(ScanContainerTest, BackslashRunsAcrossBlockBoundaries) {
  // Runs of backslashes of every length ending at every offset around the 64-byte boundary.
  for (ScanKernel k : Kernels()) {
    for (size_t pad = 50; pad < 70; ++pad) {
      for (size_t run = 1; run <= 5; ++run) {
        std::string s = "{\"" + std::string(pad, 'x') + std::string(run, '\\') + "\"";
        if (run % 2 == 1) s += "\"";  // an odd run escapes the quote: one more closes the string
        s += ":1}";
        uint64_t want = 0;
        ContainerScan got;
        const bool ok = SlowScan(s, &want);
        ASSERT_EQ(internal::ScanContainerWith(k, s, &got), ok) << s;
        if (ok) {
          EXPECT_EQ(got.compact_bytes, want) << s;
        }
      }
    }
  }
}

TEST(ScanContainerTest, AgreesWithByteAtATimeScanOnRandomInput) {
  std::mt19937_64 rng(7);
  const char alphabet[] = {'{', '}', '[', ']', '"', '\\', ' ', '\t', 'a', ',', ':', '\n', '\r'};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s = "{";
    const size_t n = rng() % 300;
    for (size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % sizeof alphabet]);
    if (rng() % 2) s.push_back('}');
    uint64_t want = 0;
    const bool ok = SlowScan(s, &want);
    // The same span, alone and behind a prefix of junk the kernel may read but must ignore.
    const std::string prefix(rng() % 80, alphabet[rng() % sizeof alphabet]);
    const std::string framed = prefix + s;
    const std::string_view behind = std::string_view(framed).substr(prefix.size());
    for (ScanKernel k : Kernels()) {
      ContainerScan framed_got;
      ASSERT_EQ(internal::ScanContainerWith(k, behind, &framed_got, prefix.size()), ok) << s;
      if (ok) {
        ASSERT_EQ(framed_got.compact_bytes, want) << s;
      }
      ContainerScan got;
      ASSERT_EQ(internal::ScanContainerWith(k, s, &got), ok) << s;
      if (ok) {
        ASSERT_EQ(got.compact_bytes, want) << s;
        // CompactSize agrees with the scan wherever strings are closed.
        ASSERT_EQ(internal::CompactSizeWith(k, s), want);
      }
    }
  }
}

// A short record's `data` is shorter than a block, and the kernels read such a span with one
// load (of 32 bytes when it fits, on AVX2) behind it or copied: every size below a block and
// above, closed or not, with bytes >= 0x80 or not, with the line's bytes before it or none.
TEST(ScanContainerTest, ShortSpansAgreeWithByteAtATimeScan) {
  std::mt19937_64 rng(13);
  // No control bytes: most spans that close are then values, and the whitespace and `ascii`
  // results get checked, not only the refusals.
  const char alphabet[] = {'{', '}', '[', ']', '"', '\\', ' ', 'a', ',', ':', '\xC3', '\xA9'};
  size_t accepted = 0;
  for (int iter = 0; iter < 40000; ++iter) {
    const size_t size = 1 + iter % 72;  // 1 to 72 bytes, the same count of each
    std::string s = "{";
    // Half the spans are "{", random bytes, "}" that balance: a run of whole values.
    while (s.size() + 1 < size) {
      if (rng() % 2 == 0) {
        s.push_back(alphabet[rng() % sizeof alphabet]);
      } else {
        s += std::string_view("\"a\": [1, \"}\"],").substr(0, size - 1 - s.size());
      }
    }
    if (s.size() < size) s.push_back('}');
    uint64_t want = 0;
    bool want_ascii = true;
    const bool ok = SlowLeading(s, &want, &want_ascii) == s.size();
    accepted += ok;
    const std::string framed = std::string(rng() % 80, 'x') + s;
    const std::string_view behind = std::string_view(framed).substr(framed.size() - s.size());
    for (ScanKernel k : Kernels()) {
      for (const size_t before : {size_t{0}, framed.size() - s.size()}) {
        ContainerScan got;
        ASSERT_EQ(internal::ScanContainerWith(k, before ? behind : s, &got, before), ok)
            << s << " " << before;
        if (ok) {
          ASSERT_EQ(got.compact_bytes, want) << s;
          ASSERT_EQ(got.ascii, want_ascii) << s;
        }
      }
    }
  }
  EXPECT_GT(accepted, 4000u);  // the acceptances are tested, not only the refusals
}

TEST(ScanLeadingContainerTest, FindsTheValueThatOpensTheTextAndIgnoresWhatFollows) {
  for (ScanKernel k : Kernels()) {
    ContainerScan scan;
    EXPECT_EQ(internal::ScanLeadingContainerWith(k, R"({"a": [1, "}"]},"emitted_at":1})", &scan),
              15u);
    EXPECT_EQ(scan.compact_bytes, 13u);  // the space after ':' and the one after ','
    // What follows the value does not count: not its whitespace, not its bytes >= 0x80.
    EXPECT_EQ(internal::ScanLeadingContainerWith(k, "{}   \"\xC3\xA9\"", &scan), 2u);
    EXPECT_EQ(scan.compact_bytes, 2u);
    EXPECT_TRUE(scan.ascii);
    EXPECT_EQ(internal::ScanLeadingContainerWith(k, R"({"a":{})", &scan), 0u);  // never closes
    EXPECT_EQ(internal::ScanLeadingContainerWith(k, R"({"a":"})", &scan), 0u);  // in a string
    EXPECT_EQ(internal::ScanLeadingContainerWith(k, R"( {})", &scan), 0u);      // does not open it
  }
}

TEST(ScanLeadingContainerTest, AgreesWithByteAtATimeScanOnRandomInput) {
  std::mt19937_64 rng(11);
  const char alphabet[] = {'{', '}', '[', ']', '"', '\\', ' ', '\t', 'a', ',', ':', '\xC3'};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s = "{";
    const size_t n = rng() % 300;
    for (size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % sizeof alphabet]);
    uint64_t want = 0;
    bool want_ascii = true;
    const size_t size = SlowLeading(s, &want, &want_ascii);
    const std::string prefix(rng() % 80, alphabet[rng() % sizeof alphabet]);
    const std::string framed = prefix + s;
    const std::string_view behind = std::string_view(framed).substr(prefix.size());
    for (ScanKernel k : Kernels()) {
      for (const size_t before : {size_t{0}, prefix.size()}) {
        ContainerScan got;
        ASSERT_EQ(internal::ScanLeadingContainerWith(k, before ? behind : s, &got, before), size)
            << s;
        if (size != 0) {
          ASSERT_EQ(got.compact_bytes, want) << s;
          ASSERT_EQ(got.ascii, want_ascii) << s;  // the value's own bytes only
        }
      }
    }
  }
}

// What a static initializer elsewhere gets when it scans before this library's kernels are
// picked: the same results.
TEST(ScanContainerTest, TheKernelsBeforeStartUpGiveTheSameResults) {
  const std::string text = R"({"a": [1, "x y", {"b": "\"}"}], "c" : 2} tail)";
  const std::string_view whole = std::string_view(text).substr(0, text.size() - 5);
  ContainerScan before, after;
  ASSERT_EQ(internal::ScanBeforeInit<false>(whole, 0, &before), whole.size());
  ASSERT_TRUE(ScanContainer(whole, &after));
  EXPECT_EQ(before.compact_bytes, after.compact_bytes);
  EXPECT_EQ(before.compact_bytes, whole.size() - 7);
  EXPECT_EQ(internal::ScanBeforeInit<true>(text, 0, &before), whole.size());
  EXPECT_EQ(ScanLeadingContainer(text, &after), whole.size());
  EXPECT_EQ(before.compact_bytes, after.compact_bytes);
}

}  // namespace
}  // namespace sluice::protocol
