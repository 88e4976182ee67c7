#include "protocol/testing/workload.h"

#include <algorithm>

namespace sluice::protocol::testing {

Workload::Workload(WorkloadOptions options) : options_(std::move(options)) {
  for (size_t i = 0; i < std::max<size_t>(options_.streams, 1); ++i) {
    StreamId id;
    if (!options_.ns.empty()) id.ns = options_.ns;
    id.name = "stream_" + std::to_string(i);
    ids_.push_back(id);
  }
  // The payload string fills each line up to record_bytes (AppendRecord()).
  payload_.assign(options_.record_bytes, 'x');
  for (size_t i = 0; i < payload_.size(); i += 7) payload_[i] = static_cast<char>('a' + i % 26);
  big_payload_.assign(options_.big_record_bytes, 'y');
}

void Workload::AppendLine(std::string* out) {
  if (state_due_) {
    state_due_ = false;
    AppendState(out, ids_[truth_.states % ids_.size()]);  // checkpoints rotate over streams
  } else {
    AppendRecord(out);
    state_due_ = options_.state_every > 0 && next_record_ % options_.state_every == 0;
  }
}

void Workload::AppendRecord(std::string* out) {
  const uint64_t n = next_record_++;
  uint64_t pick = n;
  if (options_.random_streams) {
    random_ ^= random_ << 13;
    random_ ^= random_ >> 7;
    random_ ^= random_ << 17;
    pick = random_ >> 32;
  }
  const StreamId& id = ids_[pick % ids_.size()];
  const bool big = options_.big_every > 0 && n % options_.big_every == options_.big_every - 1;
  const std::string& payload = big ? big_payload_ : payload_;  // a prefix of it, unless big
  const char* colon = options_.spaced ? ": " : ":";
  const char* comma = options_.spaced ? ", " : ",";
  const size_t start = out->size();

  const auto key = [&](const char* name) {
    out->append("\"").append(name).append("\"").append(colon);
  };
  const auto stream = [&] {
    if (id.ns) {
      key("namespace");
      out->append("\"").append(*id.ns).append("\"").append(comma);
    }
    key("stream");
    out->append("\"").append(id.name).append("\"");
  };
  const std::string number = std::to_string(n);
  // `data` is {"id":N,"name":"user N","active":B,"payload":"..."}, less name and active when the
  // line would not fit record_bytes with them, and less the payload when it would not fit even
  // empty; the payload is written empty, then filled.
  size_t fields = 4;
  size_t data_start = 0;
  size_t payload_at = 0;  // where the payload's characters go
  const auto data = [&] {
    key("data");
    data_start = out->size();
    out->append("{\"id\"").append(colon).append(number);
    if (fields == 1) {
      out->append("}");
      payload_at = out->size();
      return;
    }
    out->append(comma);
    if (fields == 4) {
      out->append("\"name\"")
          .append(colon)
          .append("\"user ")
          .append(number)
          .append("\"")
          .append(comma);
      out->append("\"active\"").append(colon).append(n % 2 ? "true" : "false").append(comma);
    }
    out->append("\"payload\"").append(colon).append("\"");
    payload_at = out->size();
    out->append("\"}");
  };
  const auto emitted_at = [&] {
    key("emitted_at");
    out->append(std::to_string(1700000000000 + n));
  };
  const auto write = [&] {
    if (options_.sorted_keys) {
      out->append("{");
      key("record");
      out->append("{");
      data();
      out->append(comma);
      emitted_at();
      out->append(comma);
      stream();
      out->append("}").append(comma);
      key("type");
      out->append("\"RECORD\"}\n");
    } else {
      out->append("{");
      key("type");
      out->append("\"RECORD\"").append(comma);
      key("record");
      out->append("{");
      stream();
      out->append(comma);
      data();
      out->append(comma);
      emitted_at();
      out->append("}}\n");
    }
  };
  write();
  size_t payload_bytes = payload.size();
  if (big) {
    out->insert(payload_at, payload);
  } else {
    for (const size_t fewer : {2, 1}) {  // too long with these fields: fewer
      if (out->size() - start <= options_.record_bytes) break;
      out->resize(start);
      fields = fewer;
      write();
    }
    // The line, its terminator included, is record_bytes long, unless the fewest fields are
    // already longer.
    const size_t line = out->size() - start;
    payload_bytes = line < options_.record_bytes && fields > 1 ? options_.record_bytes - line : 0;
    out->insert(payload_at, payload, 0, payload_bytes);
  }
  // Compact size: `data` as written less the separators' spaces (a colon a field, a comma
  // between fields).
  const size_t data_end = payload_at + payload_bytes + (fields > 1 ? 2 : 0);
  const uint64_t data_bytes = data_end - data_start - (options_.spaced ? 2 * fields - 1 : 0);

  const uint64_t line_bytes = out->size() - start;
  StreamTruth& t = truth_.streams[id];
  ++t.records;
  t.record_bytes += line_bytes;
  t.data_bytes += data_bytes;
  ++truth_.records;
  ++truth_.lines;
  truth_.bytes += line_bytes;
}

void Workload::AppendState(std::string* out, const StreamId& id) {
  const size_t start = out->size();
  out->append(
      "{\"type\":\"STATE\",\"state\":{\"type\":\"STREAM\",\"stream\":{\"stream_descriptor\":{");
  if (id.ns) out->append("\"namespace\":\"").append(*id.ns).append("\",");
  out->append("\"name\":\"").append(id.name).append("\"},\"stream_state\":{\"cursor\":");
  out->append(std::to_string(next_record_)).append("}}}}\n");
  ++truth_.streams[id].states;
  ++truth_.states;
  ++truth_.lines;
  truth_.bytes += out->size() - start;
}

}  // namespace sluice::protocol::testing
