// Equality of short byte strings without a memcmp call, for the inspector's per-line compares
// (stream names, the kept parts of a record's line): overlapping loads, never a byte outside
// the `n` bytes of either side.
//
//   if (SameBytes(line.data(), kept.data(), kept.size())) ...

#ifndef SLUICE_PROTOCOL_SAME_BYTES_H_
#define SLUICE_PROTOCOL_SAME_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice::protocol {

// Whether the `n` bytes at `a` and at `b` are the same.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  const auto load64 = [](const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  const auto load32 = [](const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  if (n >= 8 && n <= 16) {
    return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
  }
  if (n >= 4 && n < 8) {
    return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  }
  if (n < 4) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
#if defined(__SSE2__)
  // 16-byte steps, the last one ending at the n-th byte.
  const auto same16 = [](const char* x, const char* y) {
    const __m128i d = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)),
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(y)));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(d, _mm_setzero_si128())) == 0xffff;
  };
  for (size_t i = 0; i + 16 < n; i += 16) {
    if (!same16(a + i, b + i)) return false;
  }
  return same16(a + n - 16, b + n - 16);
#else
  return std::memcmp(a, b, n) == 0;
#endif
}

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_SAME_BYTES_H_
