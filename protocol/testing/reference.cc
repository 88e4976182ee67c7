#include "protocol/testing/reference.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <optional>

#include "protocol/text.h"

namespace sluice::protocol::testing {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  bool ParseDocument(Json* out) {
    SkipWhitespace();
    if (!ParseValue(out, 1)) return false;
    SkipWhitespace();
    return pos_ == s_.size();
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return s_[pos_]; }
  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r'))
      ++pos_;
  }
  bool Consume(char c) {
    if (AtEnd() || Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool ConsumeWord(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  bool ParseValue(Json* out, size_t depth) {
    if (AtEnd()) return false;
    const size_t start = pos_;
    bool ok = false;
    switch (Peek()) {
      case '{':
        ok = depth <= kReferenceMaxDepth && ParseObject(out, depth);
        break;
      case '[':
        ok = depth <= kReferenceMaxDepth && ParseArray(out, depth);
        break;
      case '"':
        out->kind = Json::Kind::kString;
        ok = ParseString(&out->text);
        break;
      case 't':
        out->kind = Json::Kind::kBool;
        ok = ConsumeWord("true");
        break;
      case 'f':
        out->kind = Json::Kind::kBool;
        ok = ConsumeWord("false");
        break;
      case 'n':
        out->kind = Json::Kind::kNull;
        ok = ConsumeWord("null");
        break;
      default:
        out->kind = Json::Kind::kNumber;
        ok = ParseNumber();
        if (ok) out->text.assign(s_.substr(start, pos_ - start));
        break;
    }
    out->raw = s_.substr(start, pos_ - start);
    return ok;
  }

  bool ParseObject(Json* out, size_t depth) {
    out->kind = Json::Kind::kObject;
    ++pos_;  // '{'
    SkipWhitespace();
    if (Consume('}')) return true;
    for (;;) {
      SkipWhitespace();
      JsonField field;
      const size_t key_start = pos_;
      if (AtEnd() || Peek() != '"' || !ParseString(&field.key)) return false;
      field.raw_key = s_.substr(key_start, pos_ - key_start);
      SkipWhitespace();
      if (!Consume(':')) return false;
      SkipWhitespace();
      if (!ParseValue(&field.value, depth + 1)) return false;
      out->fields.push_back(std::move(field));
      SkipWhitespace();
      if (Consume('}')) return true;
      if (!Consume(',')) return false;
    }
  }

  bool ParseArray(Json* out, size_t depth) {
    out->kind = Json::Kind::kArray;
    ++pos_;  // '['
    SkipWhitespace();
    if (Consume(']')) return true;
    for (;;) {
      SkipWhitespace();
      Json item;
      if (!ParseValue(&item, depth + 1)) return false;
      out->items.push_back(std::move(item));
      SkipWhitespace();
      if (Consume(']')) return true;
      if (!Consume(',')) return false;
    }
  }

  bool ParseNumber() {
    Consume('-');
    if (Consume('0')) {
    } else if (!AtEnd() && Peek() >= '1' && Peek() <= '9') {
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    } else {
      return false;
    }
    if (Consume('.')) {
      if (AtEnd() || Peek() < '0' || Peek() > '9') return false;
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (AtEnd() || Peek() < '0' || Peek() > '9') return false;
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    return true;
  }

  bool Hex4(uint32_t* v) {
    if (s_.size() - pos_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      *v <<= 4;
      if (c >= '0' && c <= '9') {
        *v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        *v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        *v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // One UTF-8 sequence per Unicode table 3-7.
  bool CopyUtf8Sequence(std::string* out) {
    const auto b0 = static_cast<uint8_t>(s_[pos_]);
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s_.size() - pos_ < static_cast<size_t>(need) + 1) return false;
    for (int i = 1; i <= need; ++i) {
      const auto b = static_cast<uint8_t>(s_[pos_ + static_cast<size_t>(i)]);
      if (b < lo || b > hi) return false;
      lo = 0x80;
      hi = 0xBF;
    }
    out->append(s_.substr(pos_, static_cast<size_t>(need) + 1));
    pos_ += static_cast<size_t>(need) + 1;
    return true;
  }

  bool ParseString(std::string* out) {
    out->clear();
    ++pos_;  // '"'
    for (;;) {
      if (AtEnd()) return false;
      const auto c = static_cast<uint8_t>(Peek());
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;
      if (c >= 0x80) {
        if (!CopyUtf8Sequence(out)) return false;
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      if (AtEnd()) return false;
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low surrogate
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (!ConsumeWord("\\u") || !Hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---- The rules of protocol/line_summary.h, read off the tree. ----

const Json* Field(const Json* object, std::string_view key) {
  return object != nullptr && object->kind == Json::Kind::kObject ? object->Find(key) : nullptr;
}

bool IsString(const Json* v) { return v != nullptr && v->kind == Json::Kind::kString; }

// A namespace field: absent or null -> nullopt; a string; anything else is invalid.
bool NamespaceOf(const Json* v, std::optional<std::string>* ns) {
  ns->reset();
  if (v == nullptr || v->kind == Json::Kind::kNull) return true;
  if (!IsString(v)) return false;
  *ns = v->text;
  return true;
}

std::optional<StreamId> Descriptor(const Json* d) {
  if (d == nullptr || d->kind != Json::Kind::kObject) return std::nullopt;
  StreamId id;
  const Json* name = d->Find("name");
  if (!IsString(name) || !NamespaceOf(d->Find("namespace"), &id.ns)) return std::nullopt;
  id.name = name->text;
  return id;
}

std::optional<int64_t> Int64Of(const Json* v) {
  if (v == nullptr || v->kind != Json::Kind::kNumber) return std::nullopt;
  if (v->text.find_first_of(".eE") != std::string::npos) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v->text.c_str(), &end, 10);
  if (errno == ERANGE || end != v->text.c_str() + v->text.size()) return std::nullopt;
  return static_cast<int64_t>(x);
}

class Reference {
 public:
  explicit Reference(const InspectorOptions& options) : options_(options) {}

  void Line(std::string_view content, bool terminated) {
    const uint64_t line_bytes = content.size() + (terminated ? 1 : 0);
    const bool oversize = content.size() > options_.max_line_bytes;
    ++s_.lines;
    if (oversize) ++s_.oversize_lines;
    if (terminated && !content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (content.empty() && !oversize) {
      ++s_.empty_lines;
      return;
    }
    Json root;
    if (!ParseJson(content, &root) || !Classify(root, line_bytes, oversize)) {
      ++s_.non_protocol.count;
      s_.non_protocol.bytes += line_bytes;
      if (s_.non_protocol_samples.size() < options_.max_samples) {
        s_.non_protocol_samples.push_back(
            {s_.lines, line_bytes, std::string(TruncateUtf8(content, options_.sample_bytes))});
      }
    }
  }

  InspectorStats Result() {
    for (auto& [id, st] : streams_) s_.streams.emplace_back(id, st);
    return s_;
  }

 private:
  KeptState Keep(const Json& state) const {
    KeptState k;
    k.line = s_.lines;
    k.size = state.raw.size();
    k.kept = k.size <= options_.max_state_bytes;
    if (k.kept) k.raw.assign(state.raw);
    return k;
  }

  // False when the line is not a message.
  bool Classify(const Json& root, uint64_t line_bytes, bool oversize) {
    if (root.kind != Json::Kind::kObject) return false;
    const Json* type_value = root.Find("type");
    MessageType type;
    if (!IsString(type_value) || !ParseMessageType(type_value->text, &type)) return false;

    if (type == MessageType::kRecord) {
      const Json* record = Field(&root, "record");
      if (record == nullptr || record->kind != Json::Kind::kObject) return false;
      const Json* stream = record->Find("stream");
      StreamId id;
      if (!IsString(stream) || !NamespaceOf(record->Find("namespace"), &id.ns)) return false;
      id.name = stream->text;
      const Json* data = record->Find("data");
      StreamStats& st = streams_[id];
      ++st.records;
      st.record_bytes += line_bytes;
      st.data_bytes += data != nullptr ? data->CompactSize() : 0;
    } else if (type == MessageType::kState) {
      const Json* state = Field(&root, "state");
      if (state == nullptr || state->kind != Json::Kind::kObject) return false;
      const Json* kind_value = state->Find("type");
      StateKind kind = StateKind::kLegacy;
      if (kind_value != nullptr) {
        if (!IsString(kind_value)) return false;
        if (kind_value->text == "STREAM") {
          kind = StateKind::kStream;
        } else if (kind_value->text == "GLOBAL") {
          kind = StateKind::kGlobal;
        } else if (kind_value->text != "LEGACY") {
          return false;
        }
      }
      ++s_.state_kinds[static_cast<size_t>(kind)];
      if (oversize) {
        ++s_.oversize_states;
      } else if (kind == StateKind::kStream) {
        if (auto id = Descriptor(Field(Field(state, "stream"), "stream_descriptor"))) {
          StreamStats& st = streams_[*id];
          ++st.states;
          st.records_at_latest_state = st.records;
          st.latest_state = Keep(*state);
        }
      } else if (kind == StateKind::kGlobal) {
        const Json* states = Field(Field(state, "global"), "stream_states");
        if (states != nullptr && states->kind == Json::Kind::kArray) {
          for (const Json& item : states->items) {
            if (auto id = Descriptor(Field(&item, "stream_descriptor"))) {
              StreamStats& st = streams_[*id];
              ++st.states;
              st.records_at_latest_state = st.records;
            }
          }
        }
        s_.latest_global = Keep(*state);
      } else {
        s_.latest_legacy = Keep(*state);
      }
    } else if (type == MessageType::kTrace) {
      const Json* trace = Field(&root, "trace");
      if (trace == nullptr || trace->kind != Json::Kind::kObject) return false;
      if (!oversize) Trace(*trace);
    }
    Counter& c = s_.types[static_cast<size_t>(type)];
    ++c.count;
    c.bytes += line_bytes;
    return true;
  }

  void Trace(const Json& trace) {
    const Json* kind_value = trace.Find("type");
    TraceKind kind = TraceKind::kOther;
    if (IsString(kind_value)) {
      const std::string& k = kind_value->text;
      if (k == "ERROR") kind = TraceKind::kError;
      if (k == "ESTIMATE") kind = TraceKind::kEstimate;
      if (k == "STREAM_STATUS") kind = TraceKind::kStreamStatus;
      if (k == "ANALYTICS") kind = TraceKind::kAnalytics;
    }
    ++s_.trace_kinds[static_cast<size_t>(kind)];
    if (kind == TraceKind::kError) {
      ++s_.trace_errors;
      if (s_.errors.size() < options_.max_errors) {
        const Json* error = Field(&trace, "error");
        const Json* message = Field(error, "message");
        const Json* failure = Field(error, "failure_type");
        s_.errors.push_back(
            {s_.lines,
             IsString(message) ? std::string(TruncateUtf8(message->text, options_.max_error_bytes))
                               : "",
             IsString(failure) ? failure->text : ""});
      }
    } else if (kind == TraceKind::kEstimate) {
      const Json* estimate = Field(&trace, "estimate");
      const Json* name = Field(estimate, "name");
      StreamId id;
      if (IsString(name) && NamespaceOf(Field(estimate, "namespace"), &id.ns)) {
        id.name = name->text;
        StreamStats& st = streams_[id];
        st.row_estimate = Int64Of(Field(estimate, "row_estimate"));
        st.byte_estimate = Int64Of(Field(estimate, "byte_estimate"));
      }
    } else if (kind == TraceKind::kStreamStatus) {
      const Json* status = Field(&trace, "stream_status");
      if (auto id = Descriptor(Field(status, "stream_descriptor"))) {
        const Json* value = Field(status, "status");
        streams_[*id].status = IsString(value) ? value->text : "";
      }
    }
  }

  const InspectorOptions options_;
  InspectorStats s_;
  std::map<StreamId, StreamStats> streams_;  // ordered: the snapshot's order
};

}  // namespace

const Json* Json::Find(std::string_view key) const {
  for (const JsonField& f : fields) {
    if (f.key == key) return &f.value;
  }
  return nullptr;
}

uint64_t Json::CompactSize() const {
  switch (kind) {
    case Kind::kObject: {
      uint64_t n = 2 + (fields.empty() ? 0 : fields.size() - 1);  // braces and commas
      for (const JsonField& f : fields) n += f.raw_key.size() + 1 + f.value.CompactSize();
      return n;
    }
    case Kind::kArray: {
      uint64_t n = 2 + (items.empty() ? 0 : items.size() - 1);
      for (const Json& item : items) n += item.CompactSize();
      return n;
    }
    default:
      return raw.size();  // scalars carry no insignificant whitespace
  }
}

bool ParseJson(std::string_view text, Json* out) {
  *out = Json{};
  return Parser(text).ParseDocument(out);
}

bool ReferenceValidJson(std::string_view line) {
  Json j;
  return ParseJson(line, &j);
}

InspectorStats ReferenceInspect(std::string_view input, const InspectorOptions& options,
                                bool finish) {
  Reference ref(options);
  size_t start = 0;
  while (start < input.size()) {
    const size_t newline = input.find('\n', start);
    if (newline == std::string_view::npos) {
      if (finish) ref.Line(input.substr(start), /*terminated=*/false);
      break;
    }
    ref.Line(input.substr(start, newline - start), /*terminated=*/true);
    start = newline + 1;
  }
  InspectorStats s = ref.Result();
  s.bytes = input.size();
  s.unterminated_final_line = finish && !input.empty() && input.back() != '\n';
  return s;
}

}  // namespace sluice::protocol::testing
