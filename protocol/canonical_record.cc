#include "protocol/canonical_record.h"

#include <simdjson.h>

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "protocol/json_scan.h"

namespace sluice::protocol {
namespace {

// A cursor over the line; every method checks bounds.
class Cursor {
 public:
  Cursor(const char* p, const char* end) : p_(p), end_(end) {}

  bool Literal(std::string_view s) {
    if (static_cast<size_t>(end_ - p_) < s.size() || std::memcmp(p_, s.data(), s.size()) != 0)
      return false;
    p_ += s.size();
    return true;
  }
  void OptionalSpace() {
    if (p_ < end_ && *p_ == ' ') ++p_;
  }
  // A string without escapes or control characters; `p_` is on its opening quote. Clears
  // *ascii when it holds bytes >= 0x80.
  bool SimpleString(std::string_view* out, bool* ascii) {
    if (p_ >= end_ || *p_ != '"') return false;
    const char* const begin = p_ + 1;
    const char* c = begin;
#if defined(__SSE2__)
    // 16 bytes at a time: stream names are short, so one step usually ends it.
    for (; end_ - c >= 16; c += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c));
      const unsigned quote =
          static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
      const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);  // <= 0x1f
      const unsigned bad = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_or_si128(control, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))));
      const unsigned before = quote != 0 ? (quote & (0u - quote)) - 1 : 0xffffu;
      if ((bad & before) != 0) return false;
      if ((static_cast<unsigned>(_mm_movemask_epi8(v)) & before) != 0) *ascii = false;
      if (quote != 0) return Close(begin, c + __builtin_ctz(quote), out);
    }
#endif
    for (; c < end_; ++c) {
      const auto b = static_cast<unsigned char>(*c);
      if (b == '"') return Close(begin, c, out);
      if (b == '\\' || b < 0x20) return false;
      if (b >= 0x80) *ascii = false;
    }
    return false;
  }
  const char* pos() const { return p_; }

 private:
  bool Close(const char* begin, const char* close, std::string_view* out) {
    *out = std::string_view(begin, static_cast<size_t>(close - begin));
    p_ = close + 1;
    return true;
  }

  const char* p_;
  const char* end_;
};

// Reads ',' sp '"emitted_at":' sp int '}}' backwards from the end of the line and returns
// where that suffix starts (the ',' ), or nullptr.
const char* EmittedAtSuffix(const char* begin, const char* end) {
  const char* p = end;
  if (p - begin < 2 || p[-1] != '}' || p[-2] != '}') return nullptr;
  p -= 2;
  const char* digits_end = p;
#if defined(__SSE2__)
  // The 16 bytes before "}}" at once: a millisecond timestamp has 13 digits.
  if (p - begin >= 16) {
    const __m128i v =
        _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p - 16)), _mm_set1_epi8('0'));
    const unsigned digit = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(9)), v)));
    const unsigned other = ~digit & 0xffffu;
    // Digits run down from bit 15 to just above the highest non-digit.
    p -= other != 0 ? 15 - (31 - __builtin_clz(other)) : 16;
  }
#endif
  while (p > begin && p[-1] >= '0' && p[-1] <= '9') --p;
  const size_t digits = static_cast<size_t>(digits_end - p);
  if (digits == 0 || (digits > 1 && *p == '0')) return nullptr;
  if (p > begin && p[-1] == '-') --p;
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

}  // namespace

bool ReadCanonicalRecord(std::string_view line, CanonicalRecord* out) {
  const char* const begin = line.data();
  const char* const end = begin + line.size();
  Cursor c(begin, end);
  if (!c.Literal("{\"type\":")) return false;
  c.OptionalSpace();
  if (!c.Literal("\"RECORD\",")) return false;
  c.OptionalSpace();
  if (!c.Literal("\"record\":")) return false;
  c.OptionalSpace();
  if (!c.Literal("{")) return false;

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

  const char* data_begin = c.pos();
  const char* suffix = EmittedAtSuffix(data_begin, end);
  if (suffix == nullptr || suffix <= data_begin || *data_begin != '{') return false;
  const std::string_view data(data_begin, static_cast<size_t>(suffix - data_begin));
  ContainerScan scan;
  // The line's start precedes `data`: the kernel may read it instead of copying a short tail.
  if (!ScanContainer(data, &scan, static_cast<size_t>(data_begin - begin))) return false;
  out->data_bytes = scan.compact_bytes;
  // Everything outside the names and `data` is ASCII by the grammar: validate only when a byte
  // >= 0x80 was seen.
  return (names_ascii && scan.ascii) || simdjson::validate_utf8(begin, line.size());
}

}  // namespace sluice::protocol
