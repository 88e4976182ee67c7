// Structural scanning of JSON text without parsing it: where strings are, where brackets
// open and close outside them, and how many whitespace bytes lie outside them.
//
// This is what lets the inspector's fast path count `record.data` exactly without parsing it.
// The kernel classifies 64 bytes at a time into bitmasks (AVX-512BW or AVX2 when the CPU has
// them, portable code otherwise) and resolves backslash runs and quotes with carry-free bit
// arithmetic.
//
//   ContainerScan scan;
//   if (ScanContainer(R"({"a": [1, "x y"]})", &scan)) { /* scan.compact_bytes == 15 */ }

#ifndef SLUICE_PROTOCOL_JSON_SCAN_H_
#define SLUICE_PROTOCOL_JSON_SCAN_H_

#include <cstdint>
#include <string_view>

namespace sluice::protocol {

struct ContainerScan {
  uint64_t compact_bytes = 0;  // the span's size less its whitespace outside strings
  bool ascii = false;          // no byte >= 0x80: no UTF-8 left to validate
};

// True when `span` is one bracketed JSON value: it starts with '{' or '[', its strings are
// closed, its bracket depth (counted outside strings, '{' and '[' alike) stays above zero until
// its last byte closes it, and it holds no control byte (< 0x20): JSON forbids them in strings,
// and the tab or CR a value may have between tokens is left to the general reader too, which
// has such rare values. Atoms, commas and colons are not checked. As in simdjson's stage 1, a
// backslash escapes the next byte wherever it stands (the same thing in valid JSON).
// On true, fills `*result`. Reads the bytes of `span` and, when `readable_before` bytes before
// it are readable (the caller's buffer holds them), up to that many of those: never any byte
// after the span.
[[nodiscard]] inline bool ScanContainer(std::string_view span, ContainerScan* result,
                                        size_t readable_before = 0);

// The bracketed JSON value that `text` starts with, followed by anything: its size (0 when
// `text` does not start with '{' or '[', the value does not close within `text` or it holds a
// control byte), with
// `*result` filled for it as ScanContainer() would. Reads no byte after `text`, and none after
// the 64-byte block that holds the value's end.
[[nodiscard]] inline size_t ScanLeadingContainer(std::string_view text, ContainerScan* result,
                                                 size_t readable_before = 0);

// The size of `json` less its whitespace outside strings. For text already known to be JSON
// (a value simdjson has delimited); unclosed strings count as strings to the end.
uint64_t CompactSize(std::string_view json);

namespace internal {
// The kernels, exposed so tests can check the SIMD ones against the portable one. The public
// functions above run the fastest one the CPU has: AVX-512BW, else AVX2, else portable.
enum class ScanKernel { kPortable, kAvx2, kAvx512 };
bool KernelAvailable(ScanKernel kernel);
bool ScanContainerWith(ScanKernel kernel, std::string_view span, ContainerScan* result,
                       size_t readable_before = 0);
size_t ScanLeadingContainerWith(ScanKernel kernel, std::string_view text, ContainerScan* result,
                                size_t readable_before = 0);
uint64_t CompactSizeWith(ScanKernel kernel, std::string_view json);

// The kernels behind ScanContainer() and ScanLeadingContainer(), picked once at start-up and
// called through these pointers from the callers' own code: every fast-path line scans, and a
// function between them cost 12 instructions a line (bench/RESULTS.md). kScanShort is
// kScanWhole's scan for spans shorter than kShortSpan, in a function of its own: without the
// loop over blocks it needs no stack frame, which cost a short record's `data` 20 instructions.
// Null until this library's static initializers have run; a static initializer elsewhere that
// scans before then gets ScanBeforeInit(), which picks on the spot. `Prefix`:
// ScanLeadingContainer()'s.
using ScanFunction = size_t (*)(std::string_view, size_t readable_before, ContainerScan* result);
inline constexpr size_t kShortSpan = 64;
extern const ScanFunction kScanWhole;
extern const ScanFunction kScanShort;
extern const ScanFunction kScanLeading;
template <bool Prefix>
size_t ScanBeforeInit(std::string_view span, size_t readable_before, ContainerScan* result);
inline ScanFunction Picked(ScanFunction f, ScanFunction before_init) {
  return __builtin_expect(f != nullptr, 1) ? f : before_init;
}
}  // namespace internal

[[nodiscard]] inline bool ScanContainer(std::string_view span, ContainerScan* result,
                                        size_t readable_before) {
  using internal::Picked;
  // A branch, not a select of the pointer: the branch goes into the history the CPU predicts
  // the call's target from. Picked by a conditional move, the target changed with the span's
  // size unseen, and lines whose `data` sizes vary ran 0.8x as fast (bench/RESULTS.md).
  if (span.size() < internal::kShortSpan) {
    return Picked(internal::kScanShort, internal::ScanBeforeInit<false>)(span, readable_before,
                                                                         result) != 0;
  }
  return Picked(internal::kScanWhole, internal::ScanBeforeInit<false>)(span, readable_before,
                                                                       result) != 0;
}

[[nodiscard]] inline size_t ScanLeadingContainer(std::string_view text, ContainerScan* result,
                                                 size_t readable_before) {
  return internal::Picked(internal::kScanLeading, internal::ScanBeforeInit<true>)(
      text, readable_before, result);
}

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_JSON_SCAN_H_
