#include "protocol/ondemand_reader.h"

#include <array>
#include <utility>

#include "protocol/json_scan.h"

namespace sluice::protocol {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

std::string_view TrimTrailingWhitespace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Iterates `object`'s fields, calling on_field(key, value) for the first occurrence of each key
// in `keys`; later duplicates and other keys are skipped. False on a JSON error.
template <size_t N, typename F>
bool ForFirstFields(od::object object, const std::array<std::string_view, N>& keys, F&& on_field) {
  std::array<bool, N> seen{};
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    for (size_t i = 0; i < N; ++i) {
      if (!seen[i] && key == keys[i]) {
        seen[i] = true;
        if (!on_field(i, field.value())) return false;
        break;
      }
    }
  }
  return true;
}

// The JSON type of `value`, or false on error.
bool TypeOf(od::value& value, od::json_type* type) {
  return value.type().get(*type) == simdjson::SUCCESS;
}

// `value` as an object when it is one (*is_object); other types are left to be skipped.
// False on a JSON error.
bool AsObject(od::value& value, od::object* object, bool* is_object) {
  od::json_type type;
  if (!TypeOf(value, &type)) return false;
  *is_object = type == od::json_type::object;
  return !*is_object || value.get_object().get(*object) == simdjson::SUCCESS;
}

// A string value into `out`. Sets *matched when the value is a string.
bool ReadString(od::value& value, std::string* out, bool* matched) {
  od::json_type type;
  if (!TypeOf(value, &type)) return false;
  *matched = type == od::json_type::string;
  if (!*matched) return true;
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) return false;
  out->assign(s);
  return true;
}

// A namespace value: a string, or null (std::nullopt). Sets *valid unless it is another type.
bool ReadNamespace(od::value& value, std::optional<std::string>* ns, bool* valid) {
  od::json_type type;
  if (!TypeOf(value, &type)) return false;
  if (type == od::json_type::null) {
    bool is_null = false;
    if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return false;
    ns->reset();
    *valid = true;
    return true;
  }
  if (type != od::json_type::string) {
    *valid = false;
    return true;
  }
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) return false;
  ns->emplace(s);
  *valid = true;
  return true;
}

// An int64 when `value` is an integer that fits; anything else is std::nullopt.
bool ReadInt64(od::value& value, std::optional<int64_t>* out) {
  od::json_type type;
  if (!TypeOf(value, &type)) return false;
  out->reset();
  if (type != od::json_type::number) return true;
  int64_t v = 0;
  if (value.get_int64().get(v) == simdjson::SUCCESS) *out = v;
  return true;
}

// A descriptor object {name, namespace}. *valid is false when it is not a well-formed one.
bool ReadDescriptor(od::value& value, StreamId* id, bool* valid) {
  *valid = false;
  od::object object;
  bool is_object = false;
  if (!AsObject(value, &object, &is_object)) return false;
  if (!is_object) return true;
  bool name_ok = false;
  bool ns_ok = true;
  id->ns.reset();
  static constexpr std::array<std::string_view, 2> kKeys = {"name", "namespace"};
  const bool ok = ForFirstFields(object, kKeys, [&](size_t key, od::value v) {
    if (key == 0) return ReadString(v, &id->name, &name_ok);
    return ReadNamespace(v, &id->ns, &ns_ok);
  });
  *valid = name_ok && ns_ok;
  return ok;
}

// The text of a value as written, from its first byte to its last.
bool RawValue(od::value& value, std::string_view* raw) {
  od::json_type type;
  if (!TypeOf(value, &type)) return false;
  if (type == od::json_type::object) {
    od::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) return false;
    if (object.raw_json().get(*raw) != simdjson::SUCCESS) return false;
  } else if (type == od::json_type::array) {
    od::array array;
    if (value.get_array().get(array) != simdjson::SUCCESS) return false;
    if (array.raw_json().get(*raw) != simdjson::SUCCESS) return false;
  } else {
    *raw = value.raw_json_token();
  }
  *raw = TrimTrailingWhitespace(*raw);
  return true;
}

}  // namespace

OnDemandReader::OnDemandReader(size_t max_line_bytes)
    : parser_(max_line_bytes), state_parser_(max_line_bytes) {}

// A payload (`record`, `state`, `trace`) must be an object: kOk when it is, kInvalid when it is
// another type; a JSON error also sets *json_error.
OnDemandReader::Payload OnDemandReader::IsObject(od::value& value, bool* json_error) {
  od::json_type type;
  if (!TypeOf(value, &type)) return *json_error = true, Payload::kInvalid;
  return type == od::json_type::object ? Payload::kOk : Payload::kInvalid;
}

OnDemandReader::Payload OnDemandReader::OpenObject(od::value& value, od::object* object,
                                                   bool* json_error) {
  if (const Payload p = IsObject(value, json_error); p != Payload::kOk) return p;
  if (value.get_object().get(*object) != simdjson::SUCCESS) {
    return *json_error = true, Payload::kInvalid;
  }
  return Payload::kOk;
}

OnDemandReader::Payload OnDemandReader::ReadRecord(od::value value, LineSummary* out,
                                                   bool* json_error) {
  od::object object;
  if (const Payload p = OpenObject(value, &object, json_error); p != Payload::kOk) return p;
  bool stream_ok = false;
  bool ns_ok = true;
  record_stream_.ns.reset();
  out->data_bytes = 0;
  static constexpr std::array<std::string_view, 3> kKeys = {"stream", "namespace", "data"};
  const bool ok = ForFirstFields(object, kKeys, [&](size_t key, od::value v) {
    switch (key) {
      case 0:
        return ReadString(v, &record_stream_.name, &stream_ok);
      case 1:
        return ReadNamespace(v, &record_stream_.ns, &ns_ok);
      default: {
        std::string_view raw;
        if (!RawValue(v, &raw)) return false;
        out->data_bytes = CompactSize(raw);
        return true;
      }
    }
  });
  if (!ok) return *json_error = true, Payload::kInvalid;
  return stream_ok && ns_ok ? Payload::kOk : Payload::kInvalid;
}

OnDemandReader::Payload OnDemandReader::ReadState(od::value value, LineSummary* out,
                                                  bool* json_error) {
  if (const Payload p = IsObject(value, json_error); p != Payload::kOk) return p;
  // The raw text is what a checkpoint keeps, the fields are what the counters need, and
  // On-Demand gives one or the other from a single pass. The text comes from the structural scan
  // of the line from the object's '{' (the bracket that closes it, as simdjson's depth counts
  // find it); the fields from this parse. A value the scan refuses (a control byte, say) is
  // re-read on its own.
  const std::string_view token = value.raw_json_token();
  const auto before = static_cast<size_t>(token.data() - line_.data());
  ContainerScan scan;
  const size_t size = ScanLeadingContainer(line_.substr(before), &scan, before);
  if (size == 0) return ReadStateCopy(value, out, json_error);
  out->raw_state = std::string_view(token.data(), size);
  od::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return *json_error = true, Payload::kInvalid;
  }
  return ReadStateFields(object, out, json_error);
}

OnDemandReader::Payload OnDemandReader::ReadStateCopy(od::value value, LineSummary* out,
                                                      bool* json_error) {
  std::string_view raw;
  if (!RawValue(value, &raw)) return *json_error = true, Payload::kInvalid;
  out->raw_state = raw;
  state_copy_.assign(raw);
  state_copy_.resize(raw.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  od::object object;
  if (state_parser_.iterate(state_copy_.data(), raw.size(), state_copy_.size()).get(doc) !=
          simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS)
    return *json_error = true, Payload::kInvalid;
  return ReadStateFields(object, out, json_error);
}

OnDemandReader::Payload OnDemandReader::ReadStateFields(od::object object, LineSummary* out,
                                                        bool* json_error) {
  bool kind_ok = true;
  out->state_kind = StateKind::kLegacy;
  bool stream_ok = false;
  static constexpr std::array<std::string_view, 3> kKeys = {"type", "stream", "global"};
  const bool ok = ForFirstFields(object, kKeys, [&](size_t key, od::value v) {
    if (key == 0) {
      std::string kind;
      bool is_string = false;
      if (!ReadString(v, &kind, &is_string)) return false;
      if (kind == "STREAM" && is_string) {
        out->state_kind = StateKind::kStream;
      } else if (kind == "GLOBAL" && is_string) {
        out->state_kind = StateKind::kGlobal;
      } else if (kind == "LEGACY" && is_string) {
        out->state_kind = StateKind::kLegacy;
      } else {
        kind_ok = false;
      }
      return true;
    }
    od::object inner;
    bool is_object = false;
    if (!AsObject(v, &inner, &is_object)) return false;
    if (!is_object) return true;  // not an object: nothing of ours in it
    if (key == 1) {
      static constexpr std::array<std::string_view, 1> kDescriptor = {"stream_descriptor"};
      return ForFirstFields(inner, kDescriptor, [&](size_t, od::value d) {
        return ReadDescriptor(d, &out->stream, &stream_ok);
      });
    }
    static constexpr std::array<std::string_view, 1> kStates = {"stream_states"};
    return ForFirstFields(inner, kStates, [&](size_t, od::value states) {
      od::json_type st;
      if (!TypeOf(states, &st)) return false;
      if (st != od::json_type::array) return true;
      od::array array;
      if (states.get_array().get(array) != simdjson::SUCCESS) return false;
      for (auto element_result : array) {
        od::value element;
        if (std::move(element_result).get(element) != simdjson::SUCCESS) return false;
        od::json_type et;
        if (!TypeOf(element, &et)) return false;
        if (et != od::json_type::object) continue;
        od::object element_object;
        if (element.get_object().get(element_object) != simdjson::SUCCESS) return false;
        StreamId id;
        bool id_ok = false;
        static constexpr std::array<std::string_view, 1> kDescriptor = {"stream_descriptor"};
        if (!ForFirstFields(element_object, kDescriptor,
                            [&](size_t, od::value d) { return ReadDescriptor(d, &id, &id_ok); }))
          return false;
        if (id_ok) out->global_streams.push_back(std::move(id));
      }
      return true;
    });
  });
  if (!ok) return *json_error = true, Payload::kInvalid;
  if (!kind_ok) return Payload::kInvalid;
  out->has_stream = out->state_kind == StateKind::kStream && stream_ok;
  if (out->state_kind != StateKind::kGlobal) out->global_streams.clear();
  return Payload::kOk;
}

OnDemandReader::Payload OnDemandReader::ReadTrace(od::value value, LineSummary* out,
                                                  bool* json_error) {
  od::object object;
  if (const Payload p = OpenObject(value, &object, json_error); p != Payload::kOk) return p;

  out->trace_kind = TraceKind::kOther;
  bool estimate_ok = false;
  bool status_ok = false;
  StreamId status_stream;
  static constexpr std::array<std::string_view, 4> kKeys = {"type", "error", "estimate",
                                                            "stream_status"};
  const bool ok = ForFirstFields(object, kKeys, [&](size_t key, od::value v) {
    if (key == 0) {
      std::string kind;
      bool is_string = false;
      if (!ReadString(v, &kind, &is_string)) return false;
      if (!is_string) return true;
      if (kind == "ERROR") out->trace_kind = TraceKind::kError;
      if (kind == "ESTIMATE") out->trace_kind = TraceKind::kEstimate;
      if (kind == "STREAM_STATUS") out->trace_kind = TraceKind::kStreamStatus;
      if (kind == "ANALYTICS") out->trace_kind = TraceKind::kAnalytics;
      return true;
    }
    od::object inner;
    bool is_object = false;
    if (!AsObject(v, &inner, &is_object)) return false;
    if (!is_object) return true;  // not an object: nothing of ours in it
    bool unused = false;
    if (key == 1) {
      static constexpr std::array<std::string_view, 2> kError = {"message", "failure_type"};
      return ForFirstFields(inner, kError, [&](size_t k, od::value e) {
        return ReadString(e, k == 0 ? &out->error_message : &out->failure_type, &unused);
      });
    }
    if (key == 2) {
      bool name_ok = false;
      bool ns_ok = true;
      trace_stream_.ns.reset();
      static constexpr std::array<std::string_view, 4> kEstimate = {
          "name", "namespace", "row_estimate", "byte_estimate"};
      const bool read = ForFirstFields(inner, kEstimate, [&](size_t k, od::value e) {
        switch (k) {
          case 0:
            return ReadString(e, &trace_stream_.name, &name_ok);
          case 1:
            return ReadNamespace(e, &trace_stream_.ns, &ns_ok);
          case 2:
            return ReadInt64(e, &out->row_estimate);
          default:
            return ReadInt64(e, &out->byte_estimate);
        }
      });
      estimate_ok = name_ok && ns_ok;
      return read;
    }
    static constexpr std::array<std::string_view, 2> kStatus = {"stream_descriptor", "status"};
    return ForFirstFields(inner, kStatus, [&](size_t k, od::value s) {
      if (k == 0) return ReadDescriptor(s, &status_stream, &status_ok);
      return ReadString(s, &out->status, &unused);
    });
  });
  if (!ok) return *json_error = true, Payload::kInvalid;

  // Keep only what the kind says; a payload of another kind was read and is dropped.
  if (out->trace_kind != TraceKind::kError) {
    out->error_message.clear();
    out->failure_type.clear();
  }
  if (out->trace_kind != TraceKind::kEstimate) {
    out->row_estimate.reset();
    out->byte_estimate.reset();
  }
  if (out->trace_kind != TraceKind::kStreamStatus) out->status.clear();
  if (out->trace_kind == TraceKind::kEstimate && estimate_ok) {
    std::swap(out->stream, trace_stream_);
    out->has_stream = true;
  } else if (out->trace_kind == TraceKind::kStreamStatus && status_ok) {
    std::swap(out->stream, status_stream);
    out->has_stream = true;
  }
  return Payload::kOk;
}

bool OnDemandReader::Read(std::string_view line, LineSummary* out) {
  out->Clear();
  line_ = line;
  od::document doc;
  od::object root;
  if (parser_.iterate(line.data(), line.size(), line.size() + simdjson::SIMDJSON_PADDING)
              .get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(root) != simdjson::SUCCESS)
    return false;

  std::string type_name;
  bool type_is_string = false;
  bool json_error = false;
  Payload record = Payload::kAbsent;
  Payload state = Payload::kAbsent;
  Payload trace = Payload::kAbsent;
  // Payloads are read as they come: `type` may follow them. Their results meet below.
  LineSummary state_part;
  static constexpr std::array<std::string_view, 4> kKeys = {"type", "record", "state", "trace"};
  const bool ok = ForFirstFields(root, kKeys, [&](size_t key, od::value v) {
    switch (key) {
      case 0:
        return ReadString(v, &type_name, &type_is_string);
      case 1:
        record = ReadRecord(v, out, &json_error);
        break;
      case 2:
        state = ReadState(v, &state_part, &json_error);
        break;
      default:
        trace = ReadTrace(v, out, &json_error);
        break;
    }
    return !json_error;
  });
  if (!ok || json_error) return false;
  // Nothing may follow the root object.
  const char* location = nullptr;
  if (doc.current_location().get(location) != simdjson::OUT_OF_BOUNDS) return false;

  MessageType type;
  if (!type_is_string || !ParseMessageType(type_name, &type)) return false;
  switch (type) {
    case MessageType::kRecord:
      if (record != Payload::kOk) return false;
      std::swap(out->stream, record_stream_);
      out->has_stream = true;
      break;
    case MessageType::kState:
      if (state != Payload::kOk) return false;
      out->state_kind = state_part.state_kind;
      out->raw_state = state_part.raw_state;
      out->has_stream = state_part.has_stream;
      std::swap(out->stream, state_part.stream);
      std::swap(out->global_streams, state_part.global_streams);
      break;
    case MessageType::kTrace:
      if (trace != Payload::kOk) return false;
      break;
    default:
      break;
  }
  if (type != MessageType::kRecord) out->data_bytes = 0;
  if (type != MessageType::kTrace) {
    out->trace_kind = TraceKind::kOther;
    out->error_message.clear();
    out->failure_type.clear();
    out->status.clear();
    out->row_estimate.reset();
    out->byte_estimate.reset();
    if (type != MessageType::kRecord && type != MessageType::kState) out->has_stream = false;
  }
  out->type = type;
  out->is_message = true;
  return true;
}

}  // namespace sluice::protocol
