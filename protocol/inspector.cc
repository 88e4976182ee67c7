#include "protocol/inspector.h"

#include <absl/base/thread_annotations.h>
#include <absl/container/node_hash_map.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "base/mutex.h"
#include "protocol/canonical_record.h"
#include "protocol/line_summary.h"
#include "protocol/ondemand_reader.h"
#include "protocol/oversize_tracker.h"
#include "protocol/record_prefix.h"
#include "protocol/record_shape.h"
#include "protocol/same_bytes.h"
#include "protocol/text.h"

namespace sluice::protocol {
namespace {

// A byte buffer that always has simdjson::SIMDJSON_PADDING readable bytes past its end.
class PaddedBuffer {
 public:
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  void Append(const char* p, size_t n) {
    const size_t needed = size_ + n + simdjson::SIMDJSON_PADDING;
    if (needed > capacity_) {
      const size_t capacity = std::max(needed, capacity_ * 2);
      auto grown = std::make_unique<char[]>(capacity);
      if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = capacity;
    }
    std::memcpy(data_.get() + size_, p, n);
    size_ += n;
    std::memset(data_.get() + size_, 0, simdjson::SIMDJSON_PADDING);
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

inline bool Same(const std::string& a, std::string_view b) {
  return a.size() == b.size() && SameBytes(a.data(), b.data(), b.size());
}

// A slot of 16 for a stream name: its length and last eight bytes, multiplied and cut. Names
// that differ only further back share a slot, which costs a lookup, never a wrong count.
inline uint8_t NameSlot(std::string_view name) {
  const char* const end = name.data() + name.size();
  uint64_t v = 0;
  if (name.size() >= 8) {
    std::memcpy(&v, end - 8, 8);
  } else if (name.size() >= 4) {
    uint32_t hi, lo;
    std::memcpy(&hi, name.data(), 4);
    std::memcpy(&lo, end - 4, 4);
    v = (uint64_t{hi} << 32) | lo;
  } else {
    for (const char c : name) v = (v << 8) | static_cast<unsigned char>(c);
  }
  return static_cast<uint8_t>(((v ^ name.size()) * 0x9E3779B97F4A7C15ULL) >> 60);
}

// The first '\n' in [p, end), or nullptr. Lines of a few hundred bytes end within the first
// steps of 128 bytes, inline; longer ones go on with memchr, faster over a long run.
inline const char* FindNewline(const char* p, const char* end) {
#if defined(__AVX2__)
  const __m256i nl = _mm256_set1_epi8('\n');
  const auto at = [&](int i) __attribute__((always_inline)) {
    return _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)), nl);
  };
  const auto mask = [](__m256i lo, __m256i hi) __attribute__((always_inline)) {
    return uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(lo))} |
           (uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(hi))} << 32);
  };
  for (int step = 0; step < 2 && end - p >= 128; ++step, p += 128) {
    const __m256i a = at(0), b = at(32), c = at(64), d = at(96);
    const __m256i any = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
    if (_mm256_testz_si256(any, any)) continue;
    if (const uint64_t m = mask(a, b); m != 0) return p + __builtin_ctzll(m);
    return p + 64 + __builtin_ctzll(mask(c, d));
  }
#endif
  return static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
}

}  // namespace

const StreamStats* InspectorStats::stream(const StreamId& id) const {
  const auto it =
      std::lower_bound(streams.begin(), streams.end(), id,
                       [](const auto& entry, const StreamId& key) { return entry.first < key; });
  return it != streams.end() && it->first == id ? &it->second : nullptr;
}

bool InspectorStats::SameResults(const InspectorStats& other) const {
  // Every field but fast_path_lines, which says which reader ran, not what it found.
  return bytes == other.bytes && lines == other.lines && empty_lines == other.empty_lines &&
         oversize_lines == other.oversize_lines && types == other.types &&
         non_protocol == other.non_protocol && non_protocol_samples == other.non_protocol_samples &&
         state_kinds == other.state_kinds && oversize_states == other.oversize_states &&
         latest_global == other.latest_global && latest_legacy == other.latest_legacy &&
         trace_kinds == other.trace_kinds && trace_errors == other.trace_errors &&
         errors == other.errors && streams == other.streams &&
         untracked_streams == other.untracked_streams && untracked == other.untracked &&
         unkept_states == other.unkept_states &&
         unterminated_final_line == other.unterminated_final_line;
}

class Inspector::Impl {
 public:
  explicit Impl(const InspectorOptions& options)
      : options_(options), reader_(std::max<size_t>(options.max_line_bytes, 1)) {}

  const InspectorOptions& options() const { return options_; }

  void Consume(std::string_view chunk) {
    base::MutexLock lock(&mu_);
    stats_.bytes += chunk.size();
    const char* p = chunk.data();
    const char* const end = p + chunk.size();
    while (p < end) {
      const char* newline = FindNewline(p, end);
      if (newline == nullptr) {
        AppendPartial(p, static_cast<size_t>(end - p));
        break;
      }
      const size_t n = static_cast<size_t>(newline - p);
      if (partial_.empty() && !oversize_) {
        // The whole line is in the chunk: read it in place when the chunk has room for
        // simdjson's padding after it.
        if (n > options_.max_line_bytes) {
          StartOversize({}, p, n);
          FinishOversize(/*terminated=*/true);
        } else {
          OnLine(std::string_view(p, n), n + 1, /*terminated=*/true,
                 static_cast<size_t>(end - newline) >= simdjson::SIMDJSON_PADDING);
        }
      } else {
        AppendPartial(p, n);
        FinishPartial(/*terminated=*/true);
      }
      p = newline + 1;
    }
  }

  void Finish() {
    base::MutexLock lock(&mu_);
    if (partial_.empty() && !oversize_) return;
    stats_.unterminated_final_line = true;
    FinishPartial(/*terminated=*/false);
  }

  InspectorStats Snapshot(bool state_text) const {
    base::MutexLock lock(&mu_);
    InspectorStats s = stats_;
    s.streams.reserve(streams_.size());
    for (const auto& [id, st] : streams_) {
      if (state_text || !st.latest_state) {
        s.streams.emplace_back(id, st);
        continue;
      }
      // Every field but the state's text, which `StreamStats copy = st` would copy to drop.
      StreamStats copy;
      copy.records = st.records;
      copy.record_bytes = st.record_bytes;
      copy.data_bytes = st.data_bytes;
      copy.states = st.states;
      copy.records_at_latest_state = st.records_at_latest_state;
      copy.latest_state =
          KeptState{st.latest_state->line, st.latest_state->size, st.latest_state->kept, {}};
      copy.status = st.status;
      copy.row_estimate = st.row_estimate;
      copy.byte_estimate = st.byte_estimate;
      s.streams.emplace_back(id, std::move(copy));
    }
    if (!state_text) {
      for (std::optional<KeptState>* k : {&s.latest_global, &s.latest_legacy}) {
        if (*k) (*k)->raw.clear();
      }
    }
    std::sort(s.streams.begin(), s.streams.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return s;
  }

 private:
  // A stream seen lately, in its slot (NameSlot).
  struct RecentStream {
    const StreamId* id = nullptr;
    StreamStats* stats = nullptr;
    RecordPrefix prefix;  // its last canonical record's bytes before `data`, if any
    RecordShape shape;    // its last record in another key order less its values, if any
    uint8_t next = 0;     // the slot of the stream whose record came after its last one
  };

  void AppendPartial(const char* p, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (oversize_) {
      FeedOversize(p, n);
    } else if (partial_.size() + n > options_.max_line_bytes) {
      StartOversize(std::string_view(partial_.data(), partial_.size()), p, n);
      partial_.clear();
    } else {
      partial_.Append(p, n);
    }
  }

  void FinishPartial(bool terminated) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (oversize_) {
      FinishOversize(terminated);
    } else {
      const std::string_view line(partial_.data(), partial_.size());
      OnLine(line, line.size() + (terminated ? 1 : 0), terminated, /*padded=*/true);
      partial_.clear();
    }
  }

  void StartOversize(std::string_view buffered, const char* p, size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    oversize_ = true;
    oversize_bytes_ = 0;
    oversize_prefix_.clear();
    tracker_.Reset();
    FeedOversize(buffered.data(), buffered.size());
    FeedOversize(p, n);
  }

  void FeedOversize(const char* p, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (n == 0) return;
    // One byte more than the sample: TruncateUtf8 needs it to see whether the cut splits a
    // character.
    const size_t keep = options_.sample_bytes + 1;
    if (oversize_prefix_.size() < keep) {
      oversize_prefix_.append(p, std::min(n, keep - oversize_prefix_.size()));
    }
    tracker_.Feed(std::string_view(p, n));
    oversize_bytes_ += n;
    oversize_last_byte_ = p[n - 1];
  }

  void FinishOversize(bool terminated) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    oversize_ = false;
    const uint64_t line_bytes = oversize_bytes_ + (terminated ? 1 : 0);
    ++stats_.lines;
    ++stats_.oversize_lines;
    if (tracker_.Finish(&summary_)) {
      Apply(summary_, line_bytes, {});
    } else {
      // The sample is the line's start, its terminator excluded.
      uint64_t content = oversize_bytes_;
      if (terminated && oversize_last_byte_ == '\r') --content;
      if (oversize_prefix_.size() > content) oversize_prefix_.resize(content);
      NotProtocol(oversize_prefix_, line_bytes);
    }
  }

  // One line of at most max_line_bytes, without its "\n". `padded`: SIMDJSON_PADDING bytes
  // after it are readable.
  // Inlined into Consume(), with the general reader's part out of line: a call a line cost
  // about 25 instructions (bench/RESULTS.md).
  __attribute__((always_inline)) void OnLine(std::string_view line, uint64_t line_bytes,
                                             bool terminated, bool padded)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++stats_.lines;
    if (terminated && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (options_.fast_path && !line.empty()) {
      // The stream that followed the last record's stream last time, by its prefix: a source
      // writes a stream's records in a run, or its streams in turn, and then this compare
      // replaces the parse of the envelope and the names, and the stream's lookup.
      const uint8_t guess = recent_[last_slot_].next;
      RecentStream& g = recent_[guess];
      // Connectors of other CDKs write their keys in another order, the same one every time:
      // the same compares then pass the shape around `data` and `emitted_at`.
      uint64_t data_bytes;
      if ((g.prefix.Matches(line) &&
           ReadCanonicalTail(line, g.prefix.size(), g.prefix.ascii(), &data_bytes)) ||
          (!g.shape.empty() && g.shape.Read(line, &data_bytes))) {
        ++stats_.fast_path_lines;
        CountRecord(*g.stats, line_bytes, data_bytes);
        last_slot_ = guess;
        return;
      }
      CanonicalRecord record;
      if (ReadRecordFast(line, &record)) {
        ++stats_.fast_path_lines;
        const uint8_t slot = NameSlot(record.stream);
        StreamStats& s = StatsFor(slot, record.has_namespace, record.ns, record.stream);
        CountRecord(s, line_bytes, record.data_bytes);
        Learn(slot, s, line, record);
        return;
      }
    }
    OnOtherLine(line, line_bytes, padded);
  }

  // After a record the guess missed: keeps its prefix (canonical) or its shape (another key
  // order) in its stream's slot, and that this stream followed the one before.
  __attribute__((always_inline)) void Learn(uint8_t slot, const StreamStats& s,
                                            std::string_view line, const CanonicalRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    RecentStream& r = recent_[slot];
    if (r.stats != &s) return;  // the untracked streams have no slot
    if (record.data_offset == 0) {
      r.shape.Set(line, record);  // a kept prefix stays right: it says nothing of this line
    } else if (record.data_offset != r.prefix.size() || !r.prefix.Matches(line)) {
      r.prefix.Set(line.substr(0, record.data_offset));
    }
    recent_[last_slot_].next = slot;
    last_slot_ = slot;
  }

  // A line the fast path did not take (`line` without its terminator).
  __attribute__((noinline)) void OnOtherLine(std::string_view line, uint64_t line_bytes,
                                             bool padded) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (line.empty()) {
      ++stats_.empty_lines;
      return;
    }
    if (!padded) {
      copy_.clear();
      copy_.Append(line.data(), line.size());
      line = std::string_view(copy_.data(), copy_.size());
    }
    if (reader_.Read(line, &summary_)) {
      Apply(summary_, line_bytes, line);
    } else {
      NotProtocol(line, line_bytes);
    }
  }

  void CountRecord(StreamStats& s, uint64_t line_bytes, uint64_t data_bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Counter& c = stats_.types[static_cast<size_t>(MessageType::kRecord)];
    ++c.count;
    c.bytes += line_bytes;
    ++s.records;
    s.record_bytes += line_bytes;
    s.data_bytes += data_bytes;
  }

  // Replaces the state kept in `slot` with `raw`, within the per-state and total budgets.
  void Keep(std::optional<KeptState>& slot, std::string_view raw) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const size_t old_size = slot && slot->kept ? slot->raw.size() : 0;
    KeptState k;
    k.line = stats_.lines;
    k.size = raw.size();
    k.kept = raw.size() <= options_.max_state_bytes;
    if (k.kept && kept_state_bytes_ - old_size + raw.size() > options_.max_total_state_bytes) {
      k.kept = false;
      ++stats_.unkept_states;
    }
    kept_state_bytes_ -= old_size;
    if (k.kept) {
      k.raw.assign(raw);
      kept_state_bytes_ += raw.size();
    }
    slot = std::move(k);
  }

  // Tells the observer of a message, before the message is counted: a STATE covers the
  // records counted so far.
  void Observe(const LineSummary& m, std::string_view line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (m.type != MessageType::kState) {
      options_.observer->OnMessage(m.type, line, nullptr);
      return;
    }
    StateEvent e;
    e.kind = m.state_kind;
    if (m.state_kind == StateKind::kStream) {
      if (m.has_stream) {
        e.stream = m.stream;
        const auto it = streams_.find(m.stream);
        e.stream_records = it != streams_.end() ? it->second.records : 0;
      }
    } else {
      e.streams.reserve(streams_.size());
      for (const auto& [id, st] : streams_) e.streams.emplace_back(id, st.records);
      e.untracked_records = stats_.untracked.records;
    }
    options_.observer->OnMessage(m.type, line, &e);
  }

  // `line`: the message's text, empty for an oversize line.
  void Apply(const LineSummary& m, uint64_t line_bytes, std::string_view line)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (m.type == MessageType::kRecord) {
      CountRecord(StatsFor(m.stream), line_bytes, m.data_bytes);
      return;
    }
    if (options_.observer != nullptr) Observe(m, line);
    Counter& c = stats_.types[static_cast<size_t>(m.type)];
    ++c.count;
    c.bytes += line_bytes;
    if (m.type == MessageType::kState) {
      ++stats_.state_kinds[static_cast<size_t>(m.state_kind)];
      if (!m.state_kept) {
        ++stats_.oversize_states;
        return;
      }
      const auto note = [](StreamStats& s) {
        ++s.states;
        s.records_at_latest_state = s.records;
      };
      switch (m.state_kind) {
        case StateKind::kStream:
          if (m.has_stream) {
            StreamStats& s = StatsFor(m.stream);
            note(s);
            if (&s != &stats_.untracked) Keep(s.latest_state, m.raw_state);
          }
          break;
        case StateKind::kGlobal:
          for (const StreamId& id : m.global_streams) note(StatsFor(id));
          Keep(stats_.latest_global, m.raw_state);
          break;
        case StateKind::kLegacy:
          Keep(stats_.latest_legacy, m.raw_state);
          break;
      }
      return;
    }
    if (m.type == MessageType::kTrace && m.trace_details) {
      ++stats_.trace_kinds[static_cast<size_t>(m.trace_kind)];
      switch (m.trace_kind) {
        case TraceKind::kError:
          ++stats_.trace_errors;
          if (stats_.errors.size() < options_.max_errors) {
            stats_.errors.push_back(
                {stats_.lines, std::string(TruncateUtf8(m.error_message, options_.max_error_bytes)),
                 m.failure_type});
          }
          break;
        case TraceKind::kEstimate:
          if (m.has_stream) {
            StreamStats& s = StatsFor(m.stream);
            s.row_estimate = m.row_estimate;
            s.byte_estimate = m.byte_estimate;
          }
          break;
        case TraceKind::kStreamStatus:
          if (m.has_stream) StatsFor(m.stream).status = m.status;
          break;
        default:
          break;
      }
    }
  }

  void NotProtocol(std::string_view line, uint64_t line_bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++stats_.non_protocol.count;
    stats_.non_protocol.bytes += line_bytes;
    if (stats_.non_protocol_samples.size() < options_.max_samples) {
      stats_.non_protocol_samples.push_back(
          {stats_.lines, line_bytes, std::string(TruncateUtf8(line, options_.sample_bytes))});
    }
  }

  StreamStats& StatsFor(const StreamId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return StatsFor(id.ns.has_value(), id.ns ? std::string_view(*id.ns) : std::string_view(),
                    id.name);
  }
  StreamStats& StatsFor(bool has_ns, std::string_view ns, std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return StatsFor(NameSlot(name), has_ns, ns, name);
  }

  // The hot path's lookup: a sync writes a few streams over and over, so a slot per name's
  // tail (NameSlot) answers most lookups with one comparison and no hashing. Inlined into the
  // record path, the rest out of line: a call a line cost 30 instructions (bench/RESULTS.md).
  __attribute__((always_inline)) StreamStats& StatsFor(uint8_t slot, bool has_ns,
                                                       std::string_view ns, std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    RecentStream& r = recent_[slot];
    if (r.stats != nullptr && Same(r.id->name, name) && r.id->ns.has_value() == has_ns &&
        (!has_ns || Same(*r.id->ns, ns)))
      return *r.stats;
    return LookUp(r, has_ns, ns, name);
  }

  // StatsFor() past its slot: the map, and the slot set to what it finds.
  __attribute__((noinline)) StreamStats& LookUp(RecentStream& r, bool has_ns, std::string_view ns,
                                                std::string_view name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (has_ns) {
      scratch_id_.ns.emplace(ns);
    } else {
      scratch_id_.ns.reset();
    }
    scratch_id_.name.assign(name);
    auto it = streams_.find(scratch_id_);
    if (it == streams_.end()) {
      if (streams_.size() >= options_.max_streams) {
        stats_.untracked_streams = true;
        return stats_.untracked;  // not cached in recent_: it has no single name
      }
      it = streams_.try_emplace(scratch_id_).first;
    }
    r.id = &it->first;
    r.stats = &it->second;
    r.prefix.Clear();  // another stream's
    r.shape.Clear();
    return it->second;
  }

  const InspectorOptions options_;
  // The data path's working state, touched only under mu_ (by Consume and Finish).
  OnDemandReader reader_ ABSL_GUARDED_BY(mu_);
  OversizeTracker tracker_ ABSL_GUARDED_BY(mu_);
  LineSummary summary_ ABSL_GUARDED_BY(mu_);
  PaddedBuffer partial_ ABSL_GUARDED_BY(mu_);  // the line being assembled across chunks
  PaddedBuffer copy_ ABSL_GUARDED_BY(mu_);     // a complete line copied for padding
  bool oversize_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t oversize_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  char oversize_last_byte_ ABSL_GUARDED_BY(mu_) = 0;
  std::string oversize_prefix_ ABSL_GUARDED_BY(mu_);
  StreamId scratch_id_ ABSL_GUARDED_BY(mu_);
  std::array<RecentStream, 16> recent_ ABSL_GUARDED_BY(mu_){};  // by NameSlot()
  uint8_t last_slot_ ABSL_GUARDED_BY(mu_) = 0;        // the slot of the last record read fast
  size_t kept_state_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // KeptState::raw sizes, all together

  mutable base::Mutex mu_;
  InspectorStats stats_ ABSL_GUARDED_BY(mu_);  // everything but `streams`
  absl::node_hash_map<StreamId, StreamStats> streams_ ABSL_GUARDED_BY(mu_);  // stable addresses
};

Inspector::Inspector(const InspectorOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Inspector::~Inspector() = default;
void Inspector::Consume(std::string_view chunk) { impl_->Consume(chunk); }
void Inspector::Finish() { impl_->Finish(); }
InspectorStats Inspector::Snapshot(bool state_text) const { return impl_->Snapshot(state_text); }
const InspectorOptions& Inspector::options() const { return impl_->options(); }

}  // namespace sluice::protocol
