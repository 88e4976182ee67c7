// The bytes of a RECORD line in another key order around its `data` and `emitted_at` values,
// kept to recognise the next line of the same stream by compares instead of a parse.
//
// Connectors built on other CDKs write the same keys in another order, the same way on every
// record of a stream: Go's encoding/json of a map and Python's json.dumps(sort_keys=True) write
//   {"record":{"data":{...},"emitted_at":1700000000000,"stream":"users"},"type":"RECORD"}
// Only the two values change from one record to the next. The inspector keeps, for each stream
// seen lately, the last such line less those values: a head, a middle between the values and a
// tail. A line that has the same head, middle and tail, and in the holes a `data` object and an
// integer, reads as the kept line read (ReadAnyOrderRecord() is deterministic on the kept bytes
// and reads each value by its own extent), so only `data` is left to scan.
//
//   RecordShape shape;
//   CanonicalRecord r;
//   if (ReadAnyOrderRecord(line, &r)) shape.Set(line, r);
//   uint64_t data_bytes;
//   if (shape.Read(next_line, &data_bytes)) ... a record of r's stream ...
//
// Not thread-safe; a plain value. Holds a copy: the line it was set from may go.

#ifndef SLUICE_PROTOCOL_RECORD_SHAPE_H_
#define SLUICE_PROTOCOL_RECORD_SHAPE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/canonical_record.h"

namespace sluice::protocol {

class RecordShape {
 public:
  // Over this many bytes outside the values, nothing is kept: the names are long enough that
  // a parse is not the cost.
  static constexpr size_t kMaxBytes = 192;

  // Keeps `line` less the values `record` (ReadAnyOrderRecord()'s result for `line`) locates,
  // or nothing when it read no `data` there or the rest is over kMaxBytes.
  void Set(std::string_view line, const CanonicalRecord& record);
  void Clear() { size_ = 0; }
  bool empty() const { return size_ == 0; }

  // When `line` is the kept line with another `data` object and another `emitted_at` integer,
  // each of which ReadAnyOrderRecord() would read as such: true, and `data`'s compact size in
  // *data_bytes. False otherwise (another reader may still take the line). Reads only the
  // bytes of `line`.
  [[nodiscard]] bool Read(std::string_view line, uint64_t* data_bytes) const;

 private:
  uint16_t size_ = 0;  // head_ + middle_ + tail_
  uint16_t head_ = 0;
  uint16_t middle_ = 0;  // between the two values; 0 without `emitted_at`
  uint16_t tail_ = 0;
  bool data_first_ = true;  // `data` before `emitted_at`
  bool has_at_ = false;
  char bytes_[kMaxBytes];
};

}  // namespace sluice::protocol

#endif  // SLUICE_PROTOCOL_RECORD_SHAPE_H_
