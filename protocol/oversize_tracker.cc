#include "protocol/oversize_tracker.h"

#include <cstring>

namespace sluice::protocol {
namespace {

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsAtomChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '+' || c == '-';
}

// Where a run of bytes ending at `end` stops being whole UTF-8 sequences: a sequence cut by
// `end` is left for the byte-by-byte path.
const char* LastSequenceBoundary(const char* begin, const char* end) {
  for (const char* p = end; p > begin && end - p < 4;) {
    --p;
    const auto b = static_cast<uint8_t>(*p);
    if (b < 0x80) return end;
    if (b >= 0xC0) {
      const int length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
      return end - p < length ? p : end;
    }
  }
  return end;
}

}  // namespace

void OversizeTracker::Reset() {
  failed_ = false;
  expect_ = Expect::kValue;
  depth_ = 0;
  is_object_.reset();
  in_string_ = escape_ = string_is_key_ = false;
  string_role_ = Role::kNone;
  capture_.clear();
  capture_overflow_ = false;
  for (auto& k : key_) k.clear();
  top_ = Top::kOther;
  atom_role_ = Role::kNone;
  in_atom_ = false;
  data_active_ = false;
  data_bytes_ = 0;
  utf8_need_ = 0;
  utf8_lo_ = 0x80;
  utf8_hi_ = 0xBF;
  seen_type_ = type_is_string_ = seen_record_ = record_is_object_ = false;
  seen_state_ = state_is_object_ = seen_trace_ = trace_is_object_ = false;
  seen_stream_ = stream_is_string_ = seen_namespace_ = false;
  namespace_ok_ = true;
  seen_data_ = seen_state_type_ = state_type_is_string_ = false;
  has_namespace_ = false;
  type_.clear();
  stream_.clear();
  namespace_.clear();
  state_type_.clear();
}

bool OversizeTracker::Utf8Step(uint8_t b) {
  if (utf8_need_ == 0) {
    if (b < 0x80) return true;
    utf8_lo_ = 0x80;
    utf8_hi_ = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      utf8_need_ = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      utf8_need_ = 2;
      if (b == 0xE0) utf8_lo_ = 0xA0;
      if (b == 0xED) utf8_hi_ = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      utf8_need_ = 3;
      if (b == 0xF0) utf8_lo_ = 0x90;
      if (b == 0xF4) utf8_hi_ = 0x8F;
    } else {
      return false;
    }
    return true;
  }
  if (b < utf8_lo_ || b > utf8_hi_) return false;
  utf8_lo_ = 0x80;
  utf8_hi_ = 0xBF;
  --utf8_need_;
  return true;
}

void OversizeTracker::Capture(char c) {
  if (capture_.size() >= kMaxCapturedBytes) {
    capture_overflow_ = true;
  } else {
    capture_.push_back(c);
  }
}

bool OversizeTracker::Unescape(const std::string& raw, std::string* out) {
  if (raw.find('\\') == std::string::npos) {
    *out = raw;
    return true;
  }
  // Built piece by piece: assign("\"").append(...) trips GCC 12's -Wrestrict false positive at -O3.
  unescape_buf_.clear();
  unescape_buf_.push_back('"');
  unescape_buf_.append(raw);
  unescape_buf_.push_back('"');
  const size_t length = unescape_buf_.size();
  unescape_buf_.resize(length + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  std::string_view s;
  if (unescaper_.iterate(unescape_buf_.data(), length, unescape_buf_.size()).get(doc) !=
          simdjson::SUCCESS ||
      doc.get_string().get(s) != simdjson::SUCCESS)
    return false;
  out->assign(s);
  return true;
}

OversizeTracker::Role OversizeTracker::BeginValue(char c) {
  if (depth_ == 1) {
    const std::string& key = key_[1];
    if (key == "type" && !seen_type_) {
      seen_type_ = true;
      type_is_string_ = c == '"';
      return Role::kType;
    }
    if (key == "record" && !seen_record_) {
      seen_record_ = true;
      record_is_object_ = c == '{';
      return Role::kRecord;
    }
    if (key == "state" && !seen_state_) {
      seen_state_ = true;
      state_is_object_ = c == '{';
      return Role::kState;
    }
    if (key == "trace" && !seen_trace_) {
      seen_trace_ = true;
      trace_is_object_ = c == '{';
    }
    return Role::kNone;
  }
  if (depth_ == 2 && top_ == Top::kRecord) {
    const std::string& key = key_[2];
    if (key == "stream" && !seen_stream_) {
      seen_stream_ = true;
      stream_is_string_ = c == '"';
      return Role::kStream;
    }
    if (key == "namespace" && !seen_namespace_) {
      seen_namespace_ = true;
      has_namespace_ = c == '"';
      namespace_ok_ = c == '"' || c == 'n';  // a null atom is confirmed when it ends
      return Role::kNamespace;
    }
    if (key == "data" && !seen_data_) {
      seen_data_ = true;
      data_active_ = true;
    }
    return Role::kNone;
  }
  if (depth_ == 2 && top_ == Top::kState && key_[2] == "type" && !seen_state_type_) {
    seen_state_type_ = true;
    state_type_is_string_ = c == '"';
    return Role::kStateType;
  }
  return Role::kNone;
}

void OversizeTracker::EndString() {
  if (string_is_key_) {
    if (depth_ <= 2) {
      if (capture_overflow_) {
        key_[depth_].clear();  // matches none of our keys
      } else if (!Unescape(capture_, &key_[depth_])) {
        Fail();
      }
    }
    expect_ = Expect::kColon;
    return;
  }
  std::string* target = nullptr;
  switch (string_role_) {
    case Role::kType:
      target = &type_;
      break;
    case Role::kStream:
      target = &stream_;
      break;
    case Role::kNamespace:
      target = &namespace_;
      break;
    case Role::kStateType:
      target = &state_type_;
      break;
    default:
      break;
  }
  if (target != nullptr) {
    if (capture_overflow_) {
      // Too long to be a type or a name we can attribute: the line will not be a message.
      if (string_role_ == Role::kStream) stream_is_string_ = false;
      if (string_role_ == Role::kNamespace) namespace_ok_ = false;
      if (string_role_ == Role::kType) type_is_string_ = false;
      if (string_role_ == Role::kStateType) state_type_is_string_ = false;
    } else if (!Unescape(capture_, target)) {
      Fail();
    }
  }
  expect_ = Expect::kCommaOrClose;
}

void OversizeTracker::EndAtom() {
  in_atom_ = false;
  if (atom_role_ == Role::kNamespace) namespace_ok_ = capture_ == "null";
}

size_t OversizeTracker::SkipPlainStringBytes(const char* p, const char* end) {
  const char* stop = end;
  if (const void* q = std::memchr(p, '"', static_cast<size_t>(end - p)))
    stop = static_cast<const char*>(q);
  if (const void* b = std::memchr(p, '\\', static_cast<size_t>(stop - p)))
    stop = static_cast<const char*>(b);
  if (stop == end) stop = LastSequenceBoundary(p, end);
  const size_t n = static_cast<size_t>(stop - p);
  if (!simdjson::validate_utf8(p, n)) Fail();
  if (data_active_) data_bytes_ += n;
  return n;
}

void OversizeTracker::Feed(std::string_view bytes) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p < end && !failed_) {
    if (in_string_) {
      const bool capturing = string_is_key_ ? depth_ <= 2 : string_role_ != Role::kNone;
      if (!escape_ && !capturing && utf8_need_ == 0) {
        p += SkipPlainStringBytes(p, end);
        if (p >= end || failed_) break;
      }
      const char c = *p++;
      if (!Utf8Step(static_cast<uint8_t>(c))) {
        Fail();
        break;
      }
      if (data_active_) ++data_bytes_;
      if (escape_) {
        escape_ = false;
        if (capturing) Capture(c);
      } else if (c == '\\') {
        escape_ = true;
        if (capturing) Capture(c);
      } else if (c == '"') {
        in_string_ = false;
        EndString();
      } else if (capturing) {
        Capture(c);
      }
      continue;
    }

    const char c = *p++;
    if (in_atom_) {
      if (IsAtomChar(c)) {
        if (atom_role_ == Role::kNamespace) Capture(c);
        if (data_active_) ++data_bytes_;
        continue;
      }
      EndAtom();
    }
    if (IsWhitespace(c)) continue;
    if (expect_ == Expect::kDone) {
      Fail();
      break;
    }
    if (data_active_ && depth_ == 2 && (c == ',' || c == '}' || c == ']')) data_active_ = false;
    switch (c) {
      case '{':
      case '[': {
        if (expect_ != Expect::kValue && expect_ != Expect::kValueOrClose) return Fail();
        if (depth_ == 0 && c != '{') return Fail();  // the root must be an object
        const Role role = BeginValue(c);
        if (depth_ == kMaxDepth) return Fail();
        ++depth_;
        is_object_[depth_] = c == '{';
        if (depth_ == 2) {
          top_ = role == Role::kRecord && c == '{'  ? Top::kRecord
                 : role == Role::kState && c == '{' ? Top::kState
                                                    : Top::kOther;
        }
        expect_ = c == '{' ? Expect::kKeyOrClose : Expect::kValueOrClose;
        break;
      }
      case '}':
      case ']': {
        const bool object = c == '}';
        if (depth_ == 0 || is_object_[depth_] != object) return Fail();
        if (object ? (expect_ != Expect::kKeyOrClose && expect_ != Expect::kCommaOrClose)
                   : (expect_ != Expect::kValueOrClose && expect_ != Expect::kCommaOrClose))
          return Fail();
        --depth_;
        if (depth_ == 1) top_ = Top::kOther;
        expect_ = depth_ == 0 ? Expect::kDone : Expect::kCommaOrClose;
        break;
      }
      case ':':
        if (expect_ != Expect::kColon) return Fail();
        expect_ = Expect::kValue;
        break;
      case ',':
        if (expect_ != Expect::kCommaOrClose) return Fail();
        expect_ = is_object_[depth_] ? Expect::kKey : Expect::kValue;
        break;
      case '"':
        capture_.clear();
        capture_overflow_ = false;
        if (expect_ == Expect::kKey || expect_ == Expect::kKeyOrClose) {
          string_is_key_ = true;
          string_role_ = Role::kNone;
        } else if (expect_ == Expect::kValue || expect_ == Expect::kValueOrClose) {
          if (depth_ == 0) return Fail();
          string_is_key_ = false;
          string_role_ = BeginValue(c);
        } else {
          return Fail();
        }
        in_string_ = true;
        break;
      default:
        if ((expect_ != Expect::kValue && expect_ != Expect::kValueOrClose) || depth_ == 0 ||
            !IsAtomChar(c))
          return Fail();
        capture_.clear();
        capture_overflow_ = false;
        atom_role_ = BeginValue(c);
        if (atom_role_ == Role::kNamespace) Capture(c);
        in_atom_ = true;
        expect_ = Expect::kCommaOrClose;
        break;
    }
    if (data_active_) ++data_bytes_;
  }
}

bool OversizeTracker::Finish(LineSummary* out) {
  if (in_atom_) EndAtom();
  out->Clear();
  out->state_kept = false;
  out->trace_details = false;
  if (failed_ || expect_ != Expect::kDone || in_string_ || utf8_need_ != 0) return false;
  MessageType type;
  if (!seen_type_ || !type_is_string_ || !ParseMessageType(type_, &type)) return false;
  switch (type) {
    case MessageType::kRecord:
      if (!record_is_object_ || !stream_is_string_ || !namespace_ok_) return false;
      out->has_stream = true;
      out->stream.name = stream_;
      if (has_namespace_) out->stream.ns = namespace_;
      out->data_bytes = data_bytes_;
      break;
    case MessageType::kState:
      if (!state_is_object_) return false;
      if (seen_state_type_) {
        if (!state_type_is_string_) return false;
        if (state_type_ == "STREAM") {
          out->state_kind = StateKind::kStream;
        } else if (state_type_ == "GLOBAL") {
          out->state_kind = StateKind::kGlobal;
        } else if (state_type_ != "LEGACY") {
          return false;
        }
      }
      break;
    case MessageType::kTrace:
      if (!trace_is_object_) return false;
      break;
    default:
      break;
  }
  out->type = type;
  out->is_message = true;
  return true;
}

}  // namespace sluice::protocol
