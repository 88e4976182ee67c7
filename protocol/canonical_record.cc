#include "protocol/canonical_record.h"

#include <simdjson.h>

#include <cstring>

#include "protocol/json_scan.h"

namespace sluice::protocol {
namespace {

// A cursor over the line; every method checks bounds.
class Cursor {
 public:
  Cursor(const char* p, const char* end) : p_(p), end_(end) {}

  bool Literal(std::string_view s) {
    if (static_cast<size_t>(end_ - p_) < s.size() || std::memcmp(p_, s.data(), s.size()) != 0)
      return false;
    p_ += s.size();
    return true;
  }
  void OptionalSpace() {
    if (p_ < end_ && *p_ == ' ') ++p_;
  }
  // A string without escapes or control characters; `p_` is on its opening quote. Clears
  // *ascii when it holds bytes >= 0x80.
  bool SimpleString(std::string_view* out, bool* ascii) {
    if (p_ >= end_ || *p_ != '"') return false;
    const char* begin = p_ + 1;
    const void* quote = std::memchr(begin, '"', static_cast<size_t>(end_ - begin));
    if (quote == nullptr) return false;
    const char* close = static_cast<const char*>(quote);
    for (const char* c = begin; c < close; ++c) {
      const auto b = static_cast<unsigned char>(*c);
      if (b == '\\' || b < 0x20) return false;
      if (b >= 0x80) *ascii = false;
    }
    *out = std::string_view(begin, static_cast<size_t>(close - begin));
    p_ = close + 1;
    return true;
  }
  const char* pos() const { return p_; }

 private:
  const char* p_;
  const char* end_;
};

// Reads ',' sp '"emitted_at":' sp int '}}' backwards from the end of the line and returns
// where that suffix starts (the ',' ), or nullptr.
const char* EmittedAtSuffix(const char* begin, const char* end) {
  const char* p = end;
  if (p - begin < 2 || p[-1] != '}' || p[-2] != '}') return nullptr;
  p -= 2;
  const char* digits_end = p;
  while (p > begin && p[-1] >= '0' && p[-1] <= '9') --p;
  const size_t digits = static_cast<size_t>(digits_end - p);
  if (digits == 0 || (digits > 1 && *p == '0')) return nullptr;
  if (p > begin && p[-1] == '-') --p;
  if (p > begin && p[-1] == ' ') --p;
  constexpr std::string_view kKey = "\"emitted_at\":";
  if (static_cast<size_t>(p - begin) < kKey.size() ||
      std::memcmp(p - kKey.size(), kKey.data(), kKey.size()) != 0)
    return nullptr;
  p -= kKey.size();
  if (p > begin && p[-1] == ' ') --p;
  if (p == begin || p[-1] != ',') return nullptr;
  return p - 1;
}

}  // namespace

bool ReadCanonicalRecord(std::string_view line, CanonicalRecord* out) {
  const char* const begin = line.data();
  const char* const end = begin + line.size();
  Cursor c(begin, end);
  if (!c.Literal("{\"type\":")) return false;
  c.OptionalSpace();
  if (!c.Literal("\"RECORD\",")) return false;
  c.OptionalSpace();
  if (!c.Literal("\"record\":")) return false;
  c.OptionalSpace();
  if (!c.Literal("{")) return false;

  bool have_stream = false;
  bool have_namespace = false;
  bool names_ascii = true;
  *out = CanonicalRecord{};
  for (;;) {
    if (!have_stream && c.Literal("\"stream\":")) {
      c.OptionalSpace();
      if (!c.SimpleString(&out->stream, &names_ascii)) return false;
      have_stream = true;
    } else if (!have_namespace && c.Literal("\"namespace\":")) {
      c.OptionalSpace();
      if (!c.Literal("null")) {
        if (!c.SimpleString(&out->ns, &names_ascii)) return false;
        out->has_namespace = true;
      }
      have_namespace = true;
    } else {
      break;
    }
    if (!c.Literal(",")) return false;
    c.OptionalSpace();
  }
  if (!have_stream || !c.Literal("\"data\":")) return false;
  c.OptionalSpace();

  const char* data_begin = c.pos();
  const char* suffix = EmittedAtSuffix(data_begin, end);
  if (suffix == nullptr || suffix <= data_begin || *data_begin != '{') return false;
  const std::string_view data(data_begin, static_cast<size_t>(suffix - data_begin));
  ContainerScan scan;
  // The line's start precedes `data`: the kernel may read it instead of copying a short tail.
  if (!ScanContainer(data, &scan, static_cast<size_t>(data_begin - begin))) return false;
  out->data_bytes = scan.compact_bytes;
  // Everything outside the names and `data` is ASCII by the grammar: validate only when a byte
  // >= 0x80 was seen.
  return (names_ascii && scan.ascii) || simdjson::validate_utf8(begin, line.size());
}

}  // namespace sluice::protocol
