// A bounds-checked cursor over one line of JSON text, with the token readers the fast readers
// of RECORD lines share (canonical_record.cc, record_shape.cc): literals, whitespace, integers,
// simple strings and bracketed values scanned without a parse (json_scan.h).
//
//   Cursor c(line.data(), line.data() + line.size());
//   if (c.Literal("{\"type\":") && ...) ...
//
// A plain value over bytes the caller owns; reads none outside [begin, end).

#ifndef SLUICE_PROTOCOL_LINE_CURSOR_H_
#define SLUICE_PROTOCOL_LINE_CURSOR_H_

#include <cstddef>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "protocol/json_scan.h"

namespace sluice::protocol::internal {

#if defined(__SSE2__)
// Bit i set when p[i] is an ASCII digit, for the 16 bytes at `p` (all readable).
inline unsigned DigitMask16(const char* p) {
  const __m128i v =
      _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), _mm_set1_epi8('0'));
  return static_cast<unsigned>(
      _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(9)), v)));
}
#endif

// Where the JSON integer that ends at `end` starts ('-'? ('0' | [1-9][0-9]*)), reading back no
// further than `begin`; nullptr when none does (no digit before `end`, or a leading zero before
// more digits). For a value whose next byte the caller knows: the byte before the integer is
// then no digit either, in valid JSON (':', ',', '[' or whitespace), so the run of digits is the
// integer's.
inline const char* IntegerBefore(const char* begin, const char* end) {
  const char* p = end;
#if defined(__SSE2__)
  // 16 bytes at once: a millisecond timestamp has 13 digits.
  if (p - begin >= 16) {
    const unsigned other = ~DigitMask16(p - 16) & 0xffffu;
    // Digits run down from bit 15 to just above the highest non-digit.
    p -= other != 0 ? 15 - (31 - __builtin_clz(other)) : 16;
  }
#endif
  while (p > begin && p[-1] >= '0' && p[-1] <= '9') --p;
  const size_t digits = static_cast<size_t>(end - p);
  if (digits == 0 || (digits > 1 && *p == '0')) return nullptr;
  if (p > begin && p[-1] == '-') --p;
  return p;
}

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
  void Whitespace() {
    // Every JSON whitespace byte is <= ' ': most calls, between compact tokens, end here.
    if (left() > 0 && static_cast<unsigned char>(*p_) > ' ') return;
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r' || *p_ == '\n')) ++p_;
  }
  bool Char(char c) {
    if (p_ >= end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  // [0-9]*: how many it passed.
  size_t Digits() {
    const char* const start = p_;
#if defined(__SSE2__)
    // 16 bytes at once: a millisecond timestamp has 13 digits.
    while (end_ - p_ >= 16) {
      const unsigned digit = DigitMask16(p_);
      if (digit != 0xffffu) {
        p_ += __builtin_ctz(~digit);
        return static_cast<size_t>(p_ - start);
      }
      p_ += 16;
    }
#endif
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return static_cast<size_t>(p_ - start);
  }
  // '-'? ('0' | [1-9][0-9]*), not followed by a digit ('.' or 'e' after it fail the caller's
  // next token).
  bool Integer() {
    Char('-');
    const char* const start = p_;
    const size_t n = Digits();
    return n > 0 && (*start != '0' || n == 1);
  }
  // The bracketed value the cursor is on, scanned (json_scan.h) and passed; `line_begin` is
  // where the caller's buffer starts, all readable. False, without moving, if it is none.
  bool Container(const char* line_begin, ContainerScan* scan) {
    const size_t n = ScanLeadingContainer(std::string_view(p_, left()), scan,
                                          static_cast<size_t>(p_ - line_begin));
    p_ += n;
    return n != 0;
  }
  void Skip(size_t n) { p_ += n; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
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

}  // namespace sluice::protocol::internal

#endif  // SLUICE_PROTOCOL_LINE_CURSOR_H_
