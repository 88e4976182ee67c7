// Small text helpers shared by the inspector and its callers.

#ifndef SLUICE_PROTOCOL_TEXT_H_
#define SLUICE_PROTOCOL_TEXT_H_

#include <string_view>

namespace sluice::protocol {

// The longest prefix of `s` of at most `max_bytes` that does not end inside a UTF-8 sequence
// (continuation bytes are not split from their lead). Bytes that are not UTF-8 pass as they are.
std::string_view TruncateUtf8(std::string_view s, size_t max_bytes);

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_TEXT_H_
