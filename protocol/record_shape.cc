#include "protocol/record_shape.h"

#include <simdjson.h>

#include <cstring>

#include "protocol/json_scan.h"
#include "protocol/line_cursor.h"
#include "protocol/same_bytes.h"

namespace sluice::protocol {

void RecordShape::Set(std::string_view line, const CanonicalRecord& record) {
  size_ = 0;
  if (record.data_end == 0 || record.data_end > line.size()) return;
  has_at_ = record.at_end != 0;
  data_first_ = !has_at_ || record.data_begin < record.at_begin;
  // The two values in line order; without `emitted_at`, an empty one after `data`.
  size_t first_begin = record.data_begin, first_end = record.data_end;
  size_t second_begin = record.data_end, second_end = record.data_end;
  if (has_at_) {
    if (data_first_) {
      second_begin = record.at_begin;
      second_end = record.at_end;
    } else {
      first_begin = record.at_begin;
      first_end = record.at_end;
      second_begin = record.data_begin;
      second_end = record.data_end;
    }
  }
  const size_t head = first_begin;
  const size_t middle = second_begin - first_end;
  const size_t tail = line.size() - second_end;
  if (head + middle + tail > kMaxBytes) return;
  std::memcpy(bytes_, line.data(), head);
  std::memcpy(bytes_ + head, line.data() + first_end, middle);
  std::memcpy(bytes_ + head + middle, line.data() + second_end, tail);
  head_ = static_cast<uint16_t>(head);
  middle_ = static_cast<uint16_t>(middle);
  tail_ = static_cast<uint16_t>(tail);
  size_ = static_cast<uint16_t>(head + middle + tail);
}

bool RecordShape::Read(std::string_view line, uint64_t* data_bytes) const {
  // Each value takes at least one byte: an integer a digit, `data` two.
  if (size_ == 0 || line.size() < size_ + (has_at_ ? 3u : 2u)) return false;
  const char* const begin = line.data();
  const char* const end = begin + line.size();
  const char* const tail_begin = end - tail_;
  if (!SameBytes(begin, bytes_, head_) || !SameBytes(tail_begin, bytes_ + head_ + middle_, tail_))
    return false;
  const char* p = begin + head_;
  // The integer as ReadAnyOrderRecord() reads it: the kept byte after it is no digit, so where
  // the kept bytes resume is where its digits end.
  const auto integer = [&] {
    internal::Cursor c(p, end);
    if (!c.Integer() || c.pos() > tail_begin) return false;
    p = c.pos();
    return true;
  };
  const auto middle = [&] {
    if (static_cast<size_t>(tail_begin - p) < middle_ || !SameBytes(p, bytes_ + head_, middle_))
      return false;
    p += middle_;
    return true;
  };
  ContainerScan scan;
  if (data_first_ && has_at_) {
    // The integer ends where the tail begins, and the middle before it ends in ':' or
    // whitespace: read it back from the tail, and `data` ends where the middle begins. So the
    // scan of `data` is of a known span, not a search for where it closes (bench/RESULTS.md).
    const char* const at = internal::IntegerBefore(p, tail_begin);
    if (at == nullptr || static_cast<size_t>(at - p) < middle_ + 2u) return false;
    const char* const data_end = at - middle_;
    if (!SameBytes(data_end, bytes_ + head_, middle_) || *p != '{' ||
        !ScanContainer(std::string_view(p, static_cast<size_t>(data_end - p)), &scan,
                       static_cast<size_t>(p - begin)))
      return false;
  } else {
    if (has_at_ && (!integer() || !middle())) return false;
    // `data` is the last value: it must close on the byte before the tail.
    if (p >= tail_begin || *p != '{' ||
        !ScanContainer(std::string_view(p, static_cast<size_t>(tail_begin - p)), &scan,
                       static_cast<size_t>(p - begin)))
      return false;
  }
  *data_bytes = scan.compact_bytes;
  // The kept bytes came from a line that was valid UTF-8, cut next to ASCII brackets and
  // digits, so each part is whole UTF-8, and so is the integer: validate only when `data` holds
  // a byte >= 0x80.
  return scan.ascii || simdjson::validate_utf8(begin, line.size());
}

}  // namespace sluice::protocol
