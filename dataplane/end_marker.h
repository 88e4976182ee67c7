// The end of an authenticated stream, and the payload checksum it carries.
//
// After the payload the sender writes a marker, so the receiver can tell a sender that
// finished from one that died (both just close the connection), and can prove that what
// arrived is what was sent:
//
//   marker := magic length checksum        (24 bytes)
//   magic  := "SLUICE" 0x00 0x02           the checksum is the payload's
//           | "SLUICE" 0x00 0x03           the sender did not checksum (checksum is 0)
//   length, checksum := little-endian uint64; checksum is XXH3-64 (seed 0) of the payload
//
// The sender checksums the payload while it taps it for inspection; a sender that does not
// tap sends 0x03. A receiver that checksums what it delivered compares both figures; with
// them equal, the receiver's counts may be taken to be the sender's (the orchestrator's
// "count once").
//
//   PayloadChecksum sum;
//   sum.Update(chunk);                                    // every payload byte, in order
//   std::string m = EncodeEndMarker({.payload_bytes = n, .checksum = sum.Digest()});
//   std::optional<EndMarker> back = DecodeEndMarker(m);   // nullopt: not a marker
//
// Thread safety: PayloadChecksum is not thread-safe; Digest() may be called at any point.

#ifndef SLUICE_DATAPLANE_END_MARKER_H_
#define SLUICE_DATAPLANE_END_MARKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::dataplane {

inline constexpr size_t kEndMarkerBytes = 24;

struct EndMarker {
  uint64_t payload_bytes = 0;
  std::optional<uint64_t> checksum;  // none: the sender did not checksum
};

std::string EncodeEndMarker(const EndMarker& marker);

// The marker `held` is, or nullopt when it is none (wrong size or magic): the sender died
// before writing it, and `held` is payload.
[[nodiscard]] std::optional<EndMarker> DecodeEndMarker(std::string_view held);

// XXH3-64 of a byte stream fed in chunks of any size: the same digest for any chunking.
class PayloadChecksum {
 public:
  PayloadChecksum();
  ~PayloadChecksum();
  PayloadChecksum(const PayloadChecksum&) = delete;
  PayloadChecksum& operator=(const PayloadChecksum&) = delete;

  void Update(std::string_view bytes);
  uint64_t Digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// 16 lowercase hex digits, as summaries carry a checksum.
std::string ChecksumHex(uint64_t checksum);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_END_MARKER_H_
