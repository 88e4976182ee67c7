#include "protocol/json_scan.h"

#include <immintrin.h>

#include <bit>
#include <cstring>

namespace sluice::protocol {
namespace internal {
namespace {

// One 64-byte block as bitmasks: bit i describes byte i.
struct BlockMasks {
  uint64_t quote;
  uint64_t backslash;
  uint64_t whitespace;  // ' ', '\t', '\n', '\r'; ' ' alone from the kScan classifiers
  uint64_t open;        // '{' or '['
  uint64_t close;       // '}' or ']'
  // Not 0 when a byte is < 0x20 or >= 0x80 (not by position: a flag, which the classifiers
  // for CompactSize leave 0). It may also count bytes around the block that the load read.
  uint64_t unusual;
};

// Carried from one block to the next.
struct StringState {
  uint64_t next_is_escaped = 0;  // 1 when the next block's first byte follows an odd '\' run
  uint64_t in_string = 0;        // all ones when the next block starts inside a string
};

constexpr uint64_t kOddBits = 0xAAAAAAAAAAAAAAAAULL;

// Bytes that are escaped (follow an odd run of backslashes), carrying runs across blocks.
// The subtraction trick of simdjson's escape scanner: subtracting the run starts from the odd
// bits flips exactly the bytes that end odd-length runs.
inline uint64_t EscapedBytes(uint64_t backslash, StringState& state) {
  if (backslash == 0) {
    const uint64_t escaped = state.next_is_escaped;
    state.next_is_escaped = 0;
    return escaped;
  }
  const uint64_t potential_escape = backslash & ~state.next_is_escaped;
  const uint64_t maybe_escaped = potential_escape << 1;
  const uint64_t codes = ((maybe_escaped | kOddBits) - potential_escape) ^ kOddBits;
  const uint64_t escaped = codes ^ (backslash | state.next_is_escaped);
  state.next_is_escaped = (codes & backslash) >> 63;
  return escaped;
}

inline uint64_t PrefixXorPortable(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

__attribute__((target("avx2,pclmul"))) inline uint64_t PrefixXorClmul(uint64_t x) {
  const __m128i all_ones = _mm_set1_epi8(static_cast<char>(0xFF));
  return static_cast<uint64_t>(_mm_cvtsi128_si64(
      _mm_clmulepi64_si128(_mm_set_epi64x(0, static_cast<int64_t>(x)), all_ones, 0)));
}

// Bits inside strings (the opening quote included, the closing one not).
template <uint64_t (*PrefixXor)(uint64_t)>
inline uint64_t InStringBits(const BlockMasks& m, StringState& state) {
  const uint64_t quotes = m.quote & ~EscapedBytes(m.backslash, state);
  const uint64_t in_string = PrefixXor(quotes) ^ state.in_string;
  state.in_string = static_cast<uint64_t>(static_cast<int64_t>(in_string) >> 63);
  return in_string;
}

// The classifiers, for the container scans (kScan) or for CompactSize. A scan refuses a span
// with any control byte, so its whitespace is ' ' alone, and the bytes it must look at again
// (controls, and bytes >= 0x80 for the UTF-8 question) come out as one mask.
template <bool kScan>
inline BlockMasks ClassifyPortable(const uint8_t* p) {
  BlockMasks m{};
  for (int i = 0; i < 64; ++i) {
    const uint64_t bit = uint64_t{1} << i;
    const uint8_t c = p[i];
    if (c == '"') m.quote |= bit;
    if (c == '\\') m.backslash |= bit;
    if (c == ' ' || (!kScan && (c == '\t' || c == '\n' || c == '\r'))) m.whitespace |= bit;
    if ((c | 0x20) == '{') m.open |= bit;   // '{' 0x7B, '[' 0x5B
    if ((c | 0x20) == '}') m.close |= bit;  // '}' 0x7D, ']' 0x5D
    if (kScan && (c < 0x20 || c >= 0x80)) m.unusual |= bit;
  }
  return m;
}

// Whitespace by low-nibble lookup (pshufb): each 16-byte lane holds the one whitespace byte with
// that low nibble (' ' 0x20, '\t' 0x09, '\n' 0x0A, '\r' 0x0D) and 0x80 elsewhere; a byte is
// whitespace when the lookup returns the byte itself (pshufb yields 0 for bytes >= 0x80). Once
// per lane, as pshufb looks up within lanes: the AVX2 kernel loads two lanes, AVX-512 all four.
// clang-format off
alignas(64) constexpr int8_t kWhitespaceByLowNibble[64] = {
    ' ', -128, -128, -128, -128, -128, -128, -128, -128, '\t', '\n', -128, -128, '\r', -128, -128,
    ' ', -128, -128, -128, -128, -128, -128, -128, -128, '\t', '\n', -128, -128, '\r', -128, -128,
    ' ', -128, -128, -128, -128, -128, -128, -128, -128, '\t', '\n', -128, -128, '\r', -128, -128,
    ' ', -128, -128, -128, -128, -128, -128, -128, -128, '\t', '\n', -128, -128, '\r', -128, -128,
};
// clang-format on

__attribute__((target("avx2"))) inline uint64_t Bits(__m256i lo, __m256i hi) {
  return uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(lo))} |
         (uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(hi))} << 32);
}

template <bool kScan>
__attribute__((target("avx2"))) inline BlockMasks ClassifyAvx2(const uint8_t* p) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
  // 0x20: the case bit that folds '[' into '{', the space, and the bound of the printable
  // bytes. Opaque to the compiler, which otherwise materializes it once for each use and turns
  // the signed compare below into a min and an equality.
  __m256i x20 = _mm256_set1_epi8(0x20);
  __asm__("" : "+x"(x20));
  const __m256i lo_folded = _mm256_or_si256(lo, x20);
  const __m256i hi_folded = _mm256_or_si256(hi, x20);
  const auto eq = [](__m256i v, char c) __attribute__((target("avx2"))) {
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c));
  };
  BlockMasks m;
  m.quote = Bits(eq(lo, '"'), eq(hi, '"'));
  m.backslash = Bits(eq(lo, '\\'), eq(hi, '\\'));
  if constexpr (kScan) {
    m.whitespace = Bits(_mm256_cmpeq_epi8(lo, x20), _mm256_cmpeq_epi8(hi, x20));
    // Signed: 0x20 is above the controls and above every byte >= 0x80. One movemask for both
    // halves: a flag needs no positions.
    m.unusual = static_cast<uint32_t>(_mm256_movemask_epi8(
        _mm256_or_si256(_mm256_cmpgt_epi8(x20, lo), _mm256_cmpgt_epi8(x20, hi))));
  } else {
    const __m256i ws_table =
        _mm256_load_si256(reinterpret_cast<const __m256i*>(kWhitespaceByLowNibble));
    m.whitespace = Bits(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, lo), lo),
                        _mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, hi), hi));
    m.unusual = 0;
  }
  m.open = Bits(eq(lo_folded, '{'), eq(hi_folded, '{'));
  m.close = Bits(eq(lo_folded, '}'), eq(hi_folded, '}'));
  return m;
}

// The same masks from one 512-bit register (AVX-512BW): each compare yields its 64-bit mask
// directly, where AVX2 needs two movemasks, a shift and an or per mask.
template <bool kScan>
__attribute__((target("avx512f,avx512bw"))) inline BlockMasks ClassifyVectorAvx512(__m512i v) {
  const __m512i folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
  BlockMasks m;
  m.quote = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"'));
  m.backslash = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\\'));
  if constexpr (kScan) {
    m.whitespace = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(' '));
    m.unusual = _mm512_cmpgt_epi8_mask(_mm512_set1_epi8(0x20), v);  // signed, as for AVX2
  } else {
    const __m512i ws_table = _mm512_load_si512(kWhitespaceByLowNibble);
    m.whitespace = _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(ws_table, v), v);
    m.unusual = 0;
  }
  m.open = _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('{'));
  m.close = _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('}'));
  return m;
}

template <bool kScan>
__attribute__((target("avx512f,avx512bw"))) inline BlockMasks ClassifyAvx512(const uint8_t* p) {
  return ClassifyVectorAvx512<kScan>(_mm512_loadu_si512(p));
}

// The last `rest` (< 64) bytes of a span by a masked load: the bytes past them read as spaces
// (neutral: the callers count whitespace within the span only) and are never touched, so
// nothing before or after the span needs to be readable.
template <bool kScan>
__attribute__((target("avx512f,avx512bw"))) inline BlockMasks TailAvx512(const uint8_t* p,
                                                                         size_t rest, size_t) {
  return ClassifyVectorAvx512<kScan>(
      _mm512_mask_loadu_epi8(_mm512_set1_epi8(' '), (uint64_t{1} << rest) - 1, p));
}

// Shifts every mask right by `shift` bits (the `unusual` flag stays).
inline BlockMasks ShiftMasks(BlockMasks m, unsigned shift) {
  m.quote >>= shift;
  m.backslash >>= shift;
  m.whitespace >>= shift;
  m.open >>= shift;
  m.close >>= shift;
  return m;
}

// The masks of the `rest` (< 64) bytes at `p`, the last of a span, with full-block loads: when
// the 64 bytes ending at the span's end are readable (`readable_before` bytes precede `p` in
// the caller's buffer), it classifies those and shifts the bytes before the tail out of the
// masks; otherwise it copies the tail into a block of spaces (neutral: the callers count
// whitespace within the span only).
template <BlockMasks (*Classify)(const uint8_t*)>
inline BlockMasks TailByBlock(const uint8_t* p, size_t rest, size_t readable_before) {
  if (readable_before + rest >= 64) {
    return ShiftMasks(Classify(p + rest - 64), static_cast<unsigned>(64 - rest));
  }
  alignas(64) uint8_t tail[64];
  std::memset(tail, ' ', sizeof tail);
  std::memcpy(tail, p, rest);
  return Classify(tail);
}

// The last block of a whole span (ScanWholeImpl()) with AVX2: up to 32 bytes from one 32-byte
// load, half a block's work (the `data` of a short record is often that small); longer ones by
// TailByBlock().
__attribute__((target("avx2"))) inline BlockMasks TailShortAvx2(const uint8_t* p, size_t rest,
                                                                size_t readable_before) {
  if (rest > 32 || readable_before + rest < 32) {
    return TailByBlock<ClassifyAvx2<true>>(p, rest, readable_before);
  }
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + rest - 32));
  __m256i x20 = _mm256_set1_epi8(0x20);  // as in ClassifyAvx2()
  __asm__("" : "+x"(x20));
  const __m256i folded = _mm256_or_si256(v, x20);
  const auto bits = [shift = static_cast<unsigned>(32 - rest)](__m256i eq)
      __attribute__((target("avx2"))) {
    return uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(eq))} >> shift;
  };
  BlockMasks m;
  m.quote = bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')));
  m.backslash = bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
  m.whitespace = bits(_mm256_cmpeq_epi8(v, x20));
  m.unusual = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpgt_epi8(x20, v)));
  m.open = bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8('{')));
  m.close = bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8('}')));
  return m;
}

// Walks `span` block by block, the last (< 64 bytes) by `Tail`. `on_block(masks,
// outside_strings, offset)` returns false to stop early.
template <BlockMasks (*Classify)(const uint8_t*),
          BlockMasks (*Tail)(const uint8_t*, size_t, size_t), uint64_t (*PrefixXor)(uint64_t),
          typename F>
inline bool ForEachBlock(std::string_view span, size_t readable_before, StringState& state,
                         F&& on_block) {
  const auto* p = reinterpret_cast<const uint8_t*>(span.data());
  const size_t n = span.size();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const BlockMasks m = Classify(p + i);
    if (!on_block(m, ~InStringBits<PrefixXor>(m, state), i)) return false;
  }
  if (i < n) {
    const size_t rest = n - i;
    const uint64_t valid = (uint64_t{1} << rest) - 1;
    const BlockMasks m = Tail(p + i, rest, readable_before + i);
    if (!on_block(m, ~InStringBits<PrefixXor>(m, state) & valid, i)) return false;
  }
  return true;
}

// Whether none of the `n` bytes at `p` is a control byte (< 0x20, whitespace ones too: in a
// string JSON forbids them, and outside one a line written by a CDK has none, so the general
// reader can have those rare values). Clears *ascii when one is >= 0x80. The scans call it only
// for a value with such bytes: text in other scripts, say.
inline bool NoControlBytes(const char* p, size_t n, bool* ascii) {
  size_t i = 0;
  bool high = false;
#if defined(__SSE2__)
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    if (_mm_movemask_epi8(control) != 0) return false;
    high = high || _mm_movemask_epi8(v) != 0;
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20) return false;
    high = high || c >= 0x80;
  }
  *ascii = !high;
  return true;
}

// A scan's result for the value of `size` bytes at `value`, `unusual` the flag of its bytes
// < 0x20 or >= 0x80: when set, look again, at the value's bytes alone, for which it was. Its
// size, or 0 when it holds a control byte.
inline size_t ScanResult(const char* value, size_t size, uint64_t whitespace, uint64_t unusual,
                         ContainerScan* result) {
  bool ascii = true;
  if (unusual != 0 && !NoControlBytes(value, size, &ascii)) return 0;
  result->compact_bytes = size - whitespace;
  result->ascii = ascii;
  return size;
}

// ScanContainer(): the container that opens at span[0] and closes at its last byte, its size or
// 0. Every fast-path line runs it, so it keeps to the fewest steps a block (bench/RESULTS.md):
// the blocks before the last, where the depth must not come back to zero, then the last one (1
// to 64 bytes), where it must, at the last byte. A short record's `data` has only that one, and
// takes no loop, no state carried between blocks and, with AVX2, half a block's classification
// when it is 32 bytes or less. `kShort`: the span is shorter than a block (kShortSpan).
template <BlockMasks (*Classify)(const uint8_t*),
          BlockMasks (*Tail)(const uint8_t*, size_t, size_t), uint64_t (*PrefixXor)(uint64_t),
          bool kShort>
inline size_t ScanWholeImpl(std::string_view span, size_t readable_before, ContainerScan* result) {
  const size_t n = span.size();
  if (n == 0 || (span[0] != '{' && span[0] != '[')) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(span.data());
  StringState state;
  uint64_t depth = 0;
  uint64_t whitespace = 0;
  uint64_t unusual = 0;
  size_t i = 0;
  for (; !kShort && n - i > 64; i += 64) {
    const BlockMasks m = Classify(p + i);
    const uint64_t outside = ~InStringBits<PrefixXor>(m, state);
    whitespace += std::popcount(m.whitespace & outside);
    unusual |= m.unusual;
    const uint64_t open = m.open & outside;
    const uint64_t close = m.close & outside;
    if (close == 0) {  // the depth only grows: it cannot come back to zero here
      depth += std::popcount(open);
      continue;
    }
    for (uint64_t brackets = open | close; brackets != 0; brackets &= brackets - 1) {
      if ((open & brackets & (~brackets + 1)) != 0) {
        ++depth;
      } else if (--depth == 0) {
        return 0;  // closed before the last byte
      }
    }
  }
  const size_t rest = n - i;
  const BlockMasks m =
      !kShort && rest == 64 ? Classify(p + i) : Tail(p + i, rest, readable_before + i);
  // A string left open at the end holds the last byte, so no bracket closes the span there: the
  // depth check below refuses it.
  const uint64_t outside = ~InStringBits<PrefixXor>(m, state) & (~uint64_t{0} >> (64 - rest));
  const uint64_t open = m.open & outside;
  const uint64_t last = uint64_t{1} << (rest - 1);
  for (uint64_t brackets = open | (m.close & outside); brackets != 0; brackets &= brackets - 1) {
    const uint64_t bit = brackets & (~brackets + 1);
    if ((open & bit) != 0) {
      ++depth;
    } else if (--depth == 0) {
      if (bit != last) return 0;
      break;
    }
  }
  if (depth != 0) return 0;
  whitespace += std::popcount(m.whitespace & outside);
  return ScanResult(span.data(), n, whitespace, unusual | m.unusual, result);
}

// ScanLeadingContainer(): the container that opens at text[0], its size or 0; it may end before
// the text does (the rest is not looked at).
template <BlockMasks (*Classify)(const uint8_t*),
          BlockMasks (*Tail)(const uint8_t*, size_t, size_t), uint64_t (*PrefixXor)(uint64_t)>
inline size_t ScanLeadingImpl(std::string_view text, size_t readable_before,
                              ContainerScan* result) {
  if (text.empty() || (text[0] != '{' && text[0] != '[')) return 0;
  StringState state;
  uint64_t depth = 0;
  uint64_t whitespace = 0;
  uint64_t unusual = 0;
  size_t size = 0;  // set when depth comes back to zero
  ForEachBlock<Classify, Tail, PrefixXor>(
      text, readable_before, state, [&](const BlockMasks& m, uint64_t outside, size_t offset) {
        const uint64_t open = m.open & outside;
        const uint64_t close = m.close & outside;
        uint64_t inside = ~uint64_t{0};  // the bytes of this block up to the value's end
        if (close == 0) {                // depth only grows: it cannot reach zero here
          depth += std::popcount(open);
        } else {
          for (uint64_t brackets = open | close; brackets != 0; brackets &= brackets - 1) {
            const int bit = std::countr_zero(brackets);
            if ((open >> bit) & 1) {
              ++depth;
            } else if (--depth == 0) {
              size = offset + static_cast<size_t>(bit) + 1;
              inside = bit == 63 ? ~uint64_t{0} : (uint64_t{2} << bit) - 1;
              break;
            }
          }
        }
        whitespace += std::popcount(m.whitespace & outside & inside);
        unusual |= m.unusual;  // a flag: NoControlBytes() looks at the value alone
        return size == 0;
      });
  return size == 0 ? 0 : ScanResult(text.data(), size, whitespace, unusual, result);
}

template <BlockMasks (*Classify)(const uint8_t*),
          BlockMasks (*Tail)(const uint8_t*, size_t, size_t), uint64_t (*PrefixXor)(uint64_t)>
inline uint64_t CompactSizeImpl(std::string_view json) {
  StringState state;
  uint64_t whitespace = 0;
  ForEachBlock<Classify, Tail, PrefixXor>(json, 0, state,
                                          [&](const BlockMasks& m, uint64_t outside, size_t) {
                                            whitespace += std::popcount(m.whitespace & outside);
                                            return true;
                                          });
  return json.size() - whitespace;
}

// What a kernel function scans: a whole span (ScanContainer()), one shorter than kShortSpan, or
// the container a text starts with (ScanLeadingContainer()).
enum class Scan { kWhole, kShort, kLeading };

// flatten, on every kernel: the classifiers and the carry-less multiply want targets the shared
// templates between them lack, so they inline only when this caller takes everything in.
// Without it the AVX2 kernel called PrefixXorClmul once a block (bench/RESULTS.md).
template <Scan kScan>
__attribute__((target("avx512f,avx512bw,avx2,pclmul"), flatten)) size_t ScanContainerAvx512(
    std::string_view span, size_t readable_before, ContainerScan* result) {
  if constexpr (kScan == Scan::kLeading) {
    return ScanLeadingImpl<ClassifyAvx512<true>, TailAvx512<true>, PrefixXorClmul>(
        span, readable_before, result);
  }
  return ScanWholeImpl<ClassifyAvx512<true>, TailAvx512<true>, PrefixXorClmul,
                       kScan == Scan::kShort>(span, readable_before, result);
}
__attribute__((target("avx512f,avx512bw,avx2,pclmul"), flatten)) uint64_t CompactSizeAvx512(
    std::string_view json) {
  return CompactSizeImpl<ClassifyAvx512<false>, TailAvx512<false>, PrefixXorClmul>(json);
}
template <Scan kScan>
__attribute__((target("avx2,pclmul"), flatten)) size_t ScanContainerAvx2(std::string_view span,
                                                                         size_t readable_before,
                                                                         ContainerScan* result) {
  if constexpr (kScan == Scan::kLeading) {
    return ScanLeadingImpl<ClassifyAvx2<true>, TailByBlock<ClassifyAvx2<true>>, PrefixXorClmul>(
        span, readable_before, result);
  }
  return ScanWholeImpl<ClassifyAvx2<true>, TailShortAvx2, PrefixXorClmul, kScan == Scan::kShort>(
      span, readable_before, result);
}
__attribute__((target("avx2,pclmul"), flatten)) uint64_t CompactSizeAvx2(std::string_view json) {
  return CompactSizeImpl<ClassifyAvx2<false>, TailByBlock<ClassifyAvx2<false>>, PrefixXorClmul>(
      json);
}
template <Scan kScan>
size_t ScanContainerPortable(std::string_view span, size_t readable_before, ContainerScan* result) {
  if constexpr (kScan == Scan::kLeading) {
    return ScanLeadingImpl<ClassifyPortable<true>, TailByBlock<ClassifyPortable<true>>,
                           PrefixXorPortable>(span, readable_before, result);
  }
  return ScanWholeImpl<ClassifyPortable<true>, TailByBlock<ClassifyPortable<true>>,
                       PrefixXorPortable, kScan == Scan::kShort>(span, readable_before, result);
}
uint64_t CompactSizePortable(std::string_view json) {
  return CompactSizeImpl<ClassifyPortable<false>, TailByBlock<ClassifyPortable<false>>,
                         PrefixXorPortable>(json);
}

// The fastest kernel this CPU runs, found once.
ScanKernel DetectKernel() {
  __builtin_cpu_init();  // required before __builtin_cpu_supports during static initialization
  if (!__builtin_cpu_supports("pclmul")) return ScanKernel::kPortable;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    return ScanKernel::kAvx512;
  }
  return __builtin_cpu_supports("avx2") ? ScanKernel::kAvx2 : ScanKernel::kPortable;
}
const ScanKernel kBest = DetectKernel();

template <Scan kScan>
ScanFunction PickScan(ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::kAvx512:
      return ScanContainerAvx512<kScan>;
    case ScanKernel::kAvx2:
      return ScanContainerAvx2<kScan>;
    case ScanKernel::kPortable:
      break;
  }
  return ScanContainerPortable<kScan>;
}

// The whole-span scan for `size` bytes, chosen as ScanContainer() chooses (json_scan.h).
ScanFunction PickWhole(ScanKernel kernel, size_t size) {
  return size < kShortSpan ? PickScan<Scan::kShort>(kernel) : PickScan<Scan::kWhole>(kernel);
}

}  // namespace

extern const ScanFunction kScanWhole = PickScan<Scan::kWhole>(kBest);
extern const ScanFunction kScanShort = PickScan<Scan::kShort>(kBest);
extern const ScanFunction kScanLeading = PickScan<Scan::kLeading>(kBest);

template <bool Prefix>
size_t ScanBeforeInit(std::string_view span, size_t readable_before, ContainerScan* result) {
  const ScanKernel kernel = DetectKernel();
  const ScanFunction f = Prefix ? PickScan<Scan::kLeading>(kernel) : PickWhole(kernel, span.size());
  return f(span, readable_before, result);
}
template size_t ScanBeforeInit<false>(std::string_view, size_t, ContainerScan*);
template size_t ScanBeforeInit<true>(std::string_view, size_t, ContainerScan*);

bool KernelAvailable(ScanKernel kernel) {
  switch (kernel) {
    case ScanKernel::kAvx512:
      return kBest == ScanKernel::kAvx512;
    case ScanKernel::kAvx2:
      return kBest != ScanKernel::kPortable;
    case ScanKernel::kPortable:
      break;
  }
  return true;
}

bool ScanContainerWith(ScanKernel kernel, std::string_view span, ContainerScan* result,
                       size_t readable_before) {
  return PickWhole(kernel, span.size())(span, readable_before, result) != 0;
}

size_t ScanLeadingContainerWith(ScanKernel kernel, std::string_view text, ContainerScan* result,
                                size_t readable_before) {
  return PickScan<Scan::kLeading>(kernel)(text, readable_before, result);
}

uint64_t CompactSizeWith(ScanKernel kernel, std::string_view json) {
  switch (kernel) {
    case ScanKernel::kAvx512:
      return CompactSizeAvx512(json);
    case ScanKernel::kAvx2:
      return CompactSizeAvx2(json);
    case ScanKernel::kPortable:
      break;
  }
  return CompactSizePortable(json);
}

}  // namespace internal

uint64_t CompactSize(std::string_view json) {
  return internal::CompactSizeWith(internal::kBest, json);
}

}  // namespace sluice::protocol
