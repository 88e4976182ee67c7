#include "dataplane/end_marker.h"

#include <cstdio>
#include <cstring>

// Inlined, so XXH3 takes the widest vector unit this build targets (AVX2 on x86-64-v3), not
// the SSE2 of Debian's generic libxxhash.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::dataplane {
namespace {

constexpr char kMagicWithChecksum[8] = {'S', 'L', 'U', 'I', 'C', 'E', '\0', '\x02'};
constexpr char kMagicWithout[8] = {'S', 'L', 'U', 'I', 'C', 'E', '\0', '\x03'};

void PutLittleEndian(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t GetLittleEndian(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

std::string EncodeEndMarker(const EndMarker& marker) {
  std::string out(marker.checksum ? kMagicWithChecksum : kMagicWithout, 8);
  PutLittleEndian(out, marker.payload_bytes);
  PutLittleEndian(out, marker.checksum.value_or(0));
  return out;
}

std::optional<EndMarker> DecodeEndMarker(std::string_view held) {
  if (held.size() != kEndMarkerBytes) return std::nullopt;
  const bool with = std::memcmp(held.data(), kMagicWithChecksum, 8) == 0;
  if (!with && std::memcmp(held.data(), kMagicWithout, 8) != 0) return std::nullopt;
  EndMarker m;
  m.payload_bytes = GetLittleEndian(held.data() + 8);
  if (with) m.checksum = GetLittleEndian(held.data() + 16);
  return m;
}

struct PayloadChecksum::State {
  XXH3_state_t xxh;
};

PayloadChecksum::PayloadChecksum() : state_(std::make_unique<State>()) {
  XXH3_64bits_reset(&state_->xxh);
}

PayloadChecksum::~PayloadChecksum() = default;

void PayloadChecksum::Update(std::string_view bytes) {
  XXH3_64bits_update(&state_->xxh, bytes.data(), bytes.size());
}

uint64_t PayloadChecksum::Digest() const { return XXH3_64bits_digest(&state_->xxh); }

std::string ChecksumHex(uint64_t checksum) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(checksum));
  return out;
}

}  // namespace sluice::dataplane
