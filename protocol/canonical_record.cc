#include "protocol/canonical_record.h"

#include <simdjson.h>

#include <cctype>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "protocol/json_scan.h"
#include "protocol/line_cursor.h"

namespace sluice::protocol {
namespace {

using internal::Cursor;

// Reads ',' sp '"emitted_at":' sp int '}}' backwards from the end of the line and returns
// where that suffix starts (the ',' ), or nullptr.
__attribute__((always_inline)) inline const char* EmittedAtSuffix(const char* begin,
                                                                  const char* end) {
  const char* p = end;
  if (p - begin < 2 || p[-1] != '}' || p[-2] != '}') return nullptr;
  p = internal::IntegerBefore(begin, p - 2);
  if (p == nullptr) return nullptr;
  if (p > begin && p[-1] == ' ') --p;
  constexpr std::string_view kKey = "\"emitted_at\":";
  if (static_cast<size_t>(p - begin) < kKey.size() ||
      std::memcmp(p - kKey.size(), kKey.data(), kKey.size()) != 0)
    return nullptr;
  p -= kKey.size();
  if (p > begin && p[-1] == ' ') --p;
  if (p == begin || p[-1] != ',') return nullptr;
  return p - 1;
}

#if defined(__AVX2__)
// The suffix as the CDKs write it, with a millisecond timestamp of 13 digits: its last 32 bytes
// as a pattern ('?' any byte, 'D' a digit), and which of them must equal the pattern's.
struct SuffixForm {
  const char* text;
  uint32_t literal;  // bit i: byte i is the pattern's
  size_t size;       // from the ',' on
};
constexpr uint32_t kSuffixDigits = ((uint32_t{1} << 13) - 1) << 17;
constexpr SuffixForm kSuffixForms[] = {
    {"???,\"emitted_at\":DDDDDDDDDDDDD}}", (((uint32_t{1} << 14) - 1) << 3) | (3u << 30), 29},
    {"?, \"emitted_at\": DDDDDDDDDDDDD}}", (((uint32_t{1} << 16) - 1) << 1) | (3u << 30), 31},
};

// EmittedAtSuffix() for lines that end in one of kSuffixForms: two 32-byte compares, where the
// byte by byte walk back cost about 70 instructions a line (bench/RESULTS.md). `line_begin`:
// where the caller's line starts, all readable.
__attribute__((always_inline)) inline const char* EmittedAtSuffixFast(const char* line_begin,
                                                                      const char* begin,
                                                                      const char* end) {
  if (end - line_begin >= 32) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(end - 32));
    const __m256i d = _mm256_sub_epi8(w, _mm256_set1_epi8('0'));
    const auto digit = static_cast<uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d)));
    // 13 digits, the first not a '0'.
    if ((digit & kSuffixDigits) == kSuffixDigits && end[-15] != '0') {
      for (const SuffixForm& f : kSuffixForms) {
        const __m256i text = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f.text));
        const auto same = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(w, text)));
        if ((same & f.literal) == f.literal) return end - f.size;
      }
    }
  }
  return EmittedAtSuffix(begin, end);
}
#else
inline const char* EmittedAtSuffixFast(const char*, const char* begin, const char* end) {
  return EmittedAtSuffix(begin, end);
}
#endif

// The keys ReadAnyOrderRecord() knows; a key that is none of them sends the line elsewhere.
enum class Key { kType, kRecord, kStream, kNamespace, kData, kEmittedAt, kOther, kUnreadable };

// A key without escapes, then ws ':' ws.
Key ReadKey(Cursor& c, bool* ascii) {
  std::string_view k;
  // A key with escapes may be a known one written another way: only the general reader knows.
  if (!c.SimpleString(&k, ascii)) return Key::kUnreadable;
  c.Whitespace();
  if (!c.Char(':')) return Key::kUnreadable;
  c.Whitespace();
  switch (k.size()) {
    case 4:
      if (k == "type") return Key::kType;
      if (k == "data") return Key::kData;
      break;
    case 6:
      if (k == "record") return Key::kRecord;
      if (k == "stream") return Key::kStream;
      break;
    case 9:
      if (k == "namespace") return Key::kNamespace;
      break;
    case 10:
      if (k == "emitted_at") return Key::kEmittedAt;
      break;
  }
  return Key::kOther;
}

// A JSON string with its escapes checked (the general reader would refuse a line with a bad
// one); `c` is on its opening quote. Clears *ascii when it holds bytes >= 0x80.
bool SkipString(Cursor& c, bool* ascii) {
  if (!c.Char('"')) return false;
  while (c.left() > 0) {
    const auto b = static_cast<unsigned char>(*c.pos());
    c.Skip(1);
    if (b == '"') return true;
    if (b < 0x20) return false;
    if (b >= 0x80) *ascii = false;
    if (b != '\\') continue;
    if (c.left() == 0) return false;
    const char e = *c.pos();
    c.Skip(1);
    if (e == 'u') {
      for (int i = 0; i < 4; ++i, c.Skip(1)) {
        if (c.left() == 0 || !std::isxdigit(static_cast<unsigned char>(*c.pos()))) return false;
      }
    } else if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') {
      return false;
    }
  }
  return false;
}

// A JSON number: '-'? ('0' | [1-9][0-9]*) ('.' [0-9]+)? ([eE] [+-]? [0-9]+)?
bool SkipNumber(Cursor& c) {
  if (!c.Integer()) return false;
  if (c.Char('.') && c.Digits() == 0) return false;
  if (c.Char('e') || c.Char('E')) {
    if (!c.Char('+')) c.Char('-');
    if (c.Digits() == 0) return false;
  }
  return true;
}

// The value of a record field this reader does not count (`meta`, and whatever a newer
// protocol adds): checked as the general reader would check it, then passed over.
bool SkipValue(Cursor& c, const char* line_begin, bool* ascii) {
  if (c.left() == 0) return false;
  switch (*c.pos()) {
    case '{':
    case '[': {
      ContainerScan scan;
      if (!c.Container(line_begin, &scan)) return false;
      if (!scan.ascii) *ascii = false;
      return true;
    }
    case '"':
      return SkipString(c, ascii);
    case 't':
      return c.Literal("true");
    case 'f':
      return c.Literal("false");
    case 'n':
      return c.Literal("null");
    default:
      return SkipNumber(c);
  }
}

// After a member: ws, then ',' ws (true, *more) or '}' (true, !*more).
__attribute__((always_inline)) inline bool NextMember(Cursor& c, bool* more) {
  c.Whitespace();
  if (c.Char(',')) {
    c.Whitespace();
    return *more = true;
  }
  *more = false;
  return c.Char('}');
}

}  // namespace

bool ReadAnyOrderRecord(std::string_view line, CanonicalRecord* out) {
  const char* const begin = line.data();
  Cursor c(begin, begin + line.size());
  bool ascii = true;         // of the names and keys
  bool values_ascii = true;  // of `data` and the fields passed over
  bool have_type = false, have_record = false;
  *out = CanonicalRecord{};
  c.Whitespace();
  if (!c.Char('{')) return false;
  c.Whitespace();
  for (bool more = true; more;) {
    switch (ReadKey(c, &ascii)) {
      case Key::kType:
        if (have_type || !c.Literal("\"RECORD\"")) return false;
        have_type = true;
        break;
      case Key::kRecord: {
        if (have_record || !c.Char('{')) return false;
        have_record = true;
        bool have_stream = false, have_namespace = false, have_data = false, have_at = false;
        c.Whitespace();
        for (bool fields = true; fields;) {
          switch (ReadKey(c, &ascii)) {
            case Key::kStream:
              if (have_stream || !c.SimpleString(&out->stream, &ascii)) return false;
              have_stream = true;
              break;
            case Key::kNamespace:
              if (have_namespace) return false;
              have_namespace = true;
              if (!c.Literal("null")) {
                if (!c.SimpleString(&out->ns, &ascii)) return false;
                out->has_namespace = true;
              }
              break;
            case Key::kData: {
              ContainerScan scan;
              out->data_begin = static_cast<size_t>(c.pos() - begin);
              if (have_data || c.left() == 0 || *c.pos() != '{' || !c.Container(begin, &scan))
                return false;
              out->data_end = static_cast<size_t>(c.pos() - begin);
              out->data_bytes = scan.compact_bytes;
              values_ascii = values_ascii && scan.ascii;
              have_data = true;
              break;
            }
            case Key::kEmittedAt:
              out->at_begin = static_cast<size_t>(c.pos() - begin);
              if (have_at || !c.Integer()) return false;
              out->at_end = static_cast<size_t>(c.pos() - begin);
              have_at = true;
              break;
            case Key::kOther:  // a field no reader counts (meta, ...): any valid value
              if (!SkipValue(c, begin, &values_ascii)) return false;
              break;
            default:
              return false;
          }
          if (!NextMember(c, &fields)) return false;
        }
        if (!have_stream || !have_data) return false;
        break;
      }
      default:
        return false;
    }
    if (!NextMember(c, &more)) return false;
  }
  c.Whitespace();
  if (c.left() != 0 || !have_type || !have_record) return false;
  return (ascii && values_ascii) || simdjson::validate_utf8(begin, line.size());
}

namespace {

#if defined(__AVX2__)
// The envelope's opening exactly as the CDKs write it, without spaces (Java) and with one after
// each ':' and ',' (Python): `size` bytes of `text` are compared, the rest is padding.
struct EnvelopeOpening {
  alignas(32) char text[32];
  size_t size;
};
constexpr EnvelopeOpening kOpenings[] = {
    {"{\"type\":\"RECORD\",\"record\":{", 27},
    {"{\"type\": \"RECORD\", \"record\": {", 30},
};

// How many bytes of the line one of kOpenings takes, or 0: a 32-byte compare each, 27 fewer
// instructions a line than the literals one by one (callgrind, bench/RESULTS.md). Every other
// spacing, and every line that is not a RECORD, goes the literal way.
inline size_t ReadOpening(const char* begin, const char* end) {
  if (end - begin < 32) return 0;
  const __m256i line = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(begin));
  for (const EnvelopeOpening& o : kOpenings) {
    const __m256i text = _mm256_load_si256(reinterpret_cast<const __m256i*>(o.text));
    const auto same = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(line, text)));
    const uint32_t want = (uint32_t{1} << o.size) - 1;
    if ((same & want) == want) return o.size;
  }
  return 0;
}
#else
inline size_t ReadOpening(const char*, const char*) { return 0; }
#endif

// `data` at `data_offset` and the suffix after it: ReadCanonicalTail().
__attribute__((always_inline)) inline bool ReadTail(std::string_view line, size_t data_offset,
                                                    bool prefix_ascii, uint64_t* data_bytes) {
  const char* const begin = line.data();
  const char* const data_begin = begin + data_offset;
  const char* const suffix = EmittedAtSuffixFast(begin, data_begin, begin + line.size());
  if (suffix == nullptr || suffix <= data_begin || *data_begin != '{') return false;
  const std::string_view data(data_begin, static_cast<size_t>(suffix - data_begin));
  ContainerScan scan;
  // The line's start precedes `data`: the kernel may read it instead of copying a short tail.
  if (!ScanContainer(data, &scan, data_offset)) return false;
  *data_bytes = scan.compact_bytes;
  // Everything outside the names and `data` is ASCII by the grammar: validate only when a byte
  // >= 0x80 was seen.
  return (prefix_ascii && scan.ascii) || simdjson::validate_utf8(begin, line.size());
}

// ReadCanonicalRecord(); *other_type set when the line starts as the CDKs write every message
// and its type is not RECORD (the first "type" key is the one that counts).
// Inlined into both callers: a call more costs 3% at 100 B lines (bench/RESULTS.md).
__attribute__((always_inline)) inline bool ReadCanonical(std::string_view line,
                                                         CanonicalRecord* out, bool* other_type) {
  const char* const begin = line.data();
  const char* const end = begin + line.size();
  Cursor c(begin, end);
  if (const size_t opening = ReadOpening(begin, end); opening != 0) {
    c.Skip(opening);
  } else {
    if (!c.Literal("{\"type\":")) return false;
    c.OptionalSpace();
    if (!c.Literal("\"RECORD\",")) {
      *other_type = !c.Literal("\"RECORD\"");
      return false;
    }
    c.OptionalSpace();
    if (!c.Literal("\"record\":")) return false;
    c.OptionalSpace();
    if (!c.Literal("{")) return false;
  }

  bool have_stream = false;
  bool have_namespace = false;
  bool names_ascii = true;
  *out = CanonicalRecord{};
  for (;;) {
    if (!have_stream && c.Literal("\"stream\":")) {
      c.OptionalSpace();
      if (!c.SimpleString(&out->stream, &names_ascii)) return false;
      have_stream = true;
    } else if (!have_namespace && c.Literal("\"namespace\":")) {
      c.OptionalSpace();
      if (!c.Literal("null")) {
        if (!c.SimpleString(&out->ns, &names_ascii)) return false;
        out->has_namespace = true;
      }
      have_namespace = true;
    } else {
      break;
    }
    if (!c.Literal(",")) return false;
    c.OptionalSpace();
  }
  if (!have_stream || !c.Literal("\"data\":")) return false;
  c.OptionalSpace();
  out->data_offset = static_cast<size_t>(c.pos() - begin);
  return ReadTail(line, out->data_offset, names_ascii, &out->data_bytes);
}

}  // namespace

bool ReadCanonicalRecord(std::string_view line, CanonicalRecord* out) {
  bool other_type = false;
  return ReadCanonical(line, out, &other_type);
}

bool ReadCanonicalTail(std::string_view line, size_t data_offset, bool prefix_ascii,
                       uint64_t* data_bytes) {
  return data_offset < line.size() && ReadTail(line, data_offset, prefix_ascii, data_bytes);
}

bool ReadRecordFast(std::string_view line, CanonicalRecord* out) {
  bool other_type = false;
  // A line whose first key is "type" with another value is no RECORD in any order.
  return ReadCanonical(line, out, &other_type) || (!other_type && ReadAnyOrderRecord(line, out));
}

}  // namespace sluice::protocol
