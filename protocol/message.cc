#include "protocol/message.h"

namespace sluice::protocol {
namespace {

constexpr std::array<std::string_view, kMessageTypeCount> kTypeNames = {"RECORD",
                                                                        "STATE",
                                                                        "LOG",
                                                                        "SPEC",
                                                                        "CONNECTION_STATUS",
                                                                        "CATALOG",
                                                                        "TRACE",
                                                                        "CONTROL",
                                                                        "DESTINATION_CATALOG"};

}  // namespace

std::string_view MessageTypeName(MessageType type) { return kTypeNames[static_cast<size_t>(type)]; }

bool ParseMessageType(std::string_view name, MessageType* type) {
  for (size_t i = 0; i < kTypeNames.size(); ++i) {
    if (kTypeNames[i] == name) {
      *type = static_cast<MessageType>(i);
      return true;
    }
  }
  return false;
}

std::string_view StateKindName(StateKind kind) {
  static constexpr std::array<std::string_view, kStateKindCount> kNames = {"STREAM", "GLOBAL",
                                                                           "LEGACY"};
  return kNames[static_cast<size_t>(kind)];
}

std::string_view TraceKindName(TraceKind kind) {
  static constexpr std::array<std::string_view, kTraceKindCount> kNames = {
      "ERROR", "ESTIMATE", "STREAM_STATUS", "ANALYTICS", "OTHER"};
  return kNames[static_cast<size_t>(kind)];
}

std::string StreamId::ToString() const { return ns ? *ns + "." + name : name; }

}  // namespace sluice::protocol
