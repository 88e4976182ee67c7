// The bytes of a RECORD line before its `data`, kept to recognise the next line of the same
// stream by a compare instead of a parse.
//
// A source writes the same envelope, namespace and stream name before every record of a
// stream: `{"type":"RECORD","record":{"namespace":"public","stream":"users","data":`. The
// inspector keeps that prefix for each stream it has seen lately. When a line starts with it,
// everything up to `data` reads as it read last time (the canonical grammar is deterministic
// on those bytes), so only `data` and what follows it is left to read
// (ReadCanonicalTail(), protocol/canonical_record.h).
//
//   RecordPrefix p;
//   p.Set(line.substr(0, record.data_offset));
//   if (p.Matches(next_line)) ... next_line's first p.size() bytes are the same ...
//
// Not thread-safe; a plain value. Holds a copy: the line it was set from may go.

#ifndef SLUICE_PROTOCOL_RECORD_PREFIX_H_
#define SLUICE_PROTOCOL_RECORD_PREFIX_H_

#include <cstddef>
#include <cstring>
#include <string_view>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sluice::protocol {

class RecordPrefix {
 public:
  // Prefixes outside these bounds are not kept: under 32 bytes there is no RECORD envelope,
  // and over 128 the names are long enough that a parse is not the cost.
  static constexpr size_t kMinBytes = 32;
  static constexpr size_t kMaxBytes = 128;

  // Keeps `prefix`, or nothing when it is out of bounds, and whether its bytes are all ASCII.
  void Set(std::string_view prefix) {
    if (prefix.size() < kMinBytes || prefix.size() > kMaxBytes) {
      Clear();
      return;
    }
    size_ = prefix.size();
#if defined(__AVX2__)
    // The steps of Matches(): a miss sets a prefix, and where streams interleave with no order
    // most records miss. With a memcpy and a loop over the bytes, the inspector benchmark's mix
    // took 13% more instructions than before prefixes were kept; with these steps, 2%.
    const char* const a = prefix.data();
    __m256i any = _mm256_setzero_si256();
    const auto step = [&](size_t i) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(bytes_ + i), v);
      any = _mm256_or_si256(any, v);
    };
    for (size_t i = 0; i + 32 < size_; i += 32) step(i);
    step(size_ - 32);
    ascii_ = _mm256_movemask_epi8(any) == 0;
#else
    std::memcpy(bytes_, prefix.data(), prefix.size());
    ascii_ = true;
    for (const char c : prefix) ascii_ = ascii_ && static_cast<unsigned char>(c) < 0x80;
#endif
  }
  void Clear() { size_ = 0; }

  // Whether `line` starts with the kept bytes; false when nothing is kept. Reads only the first
  // size() bytes of `line`.
  bool Matches(std::string_view line) const {
    if (size_ == 0 || line.size() < size_) return false;
#if defined(__AVX2__)
    // 32 bytes a step, the last step ending at the prefix's end (overlapping the one before):
    // no byte past it is read, of the line or of the copy.
    const char* const a = line.data();
    size_t i = 0;
    for (; i + 32 < size_; i += 32) {
      if (!Same32(a + i, bytes_ + i)) return false;
    }
    return Same32(a + size_ - 32, bytes_ + size_ - 32);
#else
    return std::memcmp(line.data(), bytes_, size_) == 0;
#endif
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool ascii() const { return ascii_; }
  std::string_view bytes() const { return {bytes_, size_}; }

 private:
#if defined(__AVX2__)
  static bool Same32(const char* a, const char* b) {
    const __m256i x = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)),
                                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
    return _mm256_testz_si256(x, x) != 0;
  }
#endif

  size_t size_ = 0;
  bool ascii_ = false;
  char bytes_[kMaxBytes];
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_RECORD_PREFIX_H_
