// Airbyte protocol vocabulary: message types, state kinds, stream identity.
//
// The inspector (protocol/inspector.h) classifies each line of a connector's stdout into one
// of these. Example:
//
//   MessageType t;
//   if (ParseMessageType("RECORD", &t)) { ... t == MessageType::kRecord ... }
//   StreamId id{.ns = "public", .name = "users"};
//   std::string label = id.ToString();  // "public.users"

#ifndef SLUICE_PROTOCOL_MESSAGE_H_
#define SLUICE_PROTOCOL_MESSAGE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::protocol {

// The nine top-level `type` values of the Airbyte protocol (v0).
enum class MessageType : uint8_t {
  kRecord,
  kState,
  kLog,
  kSpec,
  kConnectionStatus,
  kCatalog,
  kTrace,
  kControl,
  kDestinationCatalog,
};
inline constexpr size_t kMessageTypeCount = 9;

// The protocol spelling ("RECORD", ...) of `type`.
std::string_view MessageTypeName(MessageType type);
// Parses the protocol spelling; false when `name` is not one of the nine types.
[[nodiscard]] bool ParseMessageType(std::string_view name, MessageType* type);

// `state.type`; a STATE without one is LEGACY.
enum class StateKind : uint8_t { kStream, kGlobal, kLegacy };
inline constexpr size_t kStateKindCount = 3;
std::string_view StateKindName(StateKind kind);

// `trace.type`; kOther counts TRACE messages with a type this version does not know.
enum class TraceKind : uint8_t { kError, kEstimate, kStreamStatus, kAnalytics, kOther };
inline constexpr size_t kTraceKindCount = 5;
std::string_view TraceKindName(TraceKind kind);

// A stream descriptor: (namespace, name). A missing or null namespace is std::nullopt and
// differs from the empty namespace "".
struct StreamId {
  std::optional<std::string> ns;
  std::string name;

  friend bool operator==(const StreamId&, const StreamId&) = default;
  friend auto operator<=>(const StreamId&, const StreamId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const StreamId& id) {
    return H::combine(std::move(h), id.ns, id.name);
  }
  // "ns.name", or "name" without a namespace. For logs and tables, not for identity.
  std::string ToString() const;
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_MESSAGE_H_
