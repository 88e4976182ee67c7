#include "orchestrator/progress.h"

#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>
#include <simdjson.h>

#include <cstdio>

#include "protocol/connector_note.h"
#include "protocol/state_key.h"

namespace sluice::orchestrator {

SyncProgress::SyncProgress(std::string source_relay) : source_relay_(std::move(source_relay)) {}

void SyncProgress::Print(const std::string& relay, const std::string& what) const {
  std::fprintf(stderr, "sluice: [%s] %s\n", relay.c_str(), what.c_str());
}

void SyncProgress::OnReport(const std::string& relay, std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS) return;
  simdjson::dom::object o;
  if (doc.get(o) != simdjson::SUCCESS || o.size() != 1) return;
  const auto [kind, value] = *o.begin();
  if (kind == "log" || kind == "trace") {  // printed as it comes, outside the lock
    // The source's messages pass both data relays: the source's relay speaks for them.
    if (relay != source_relay_) return;
    std::string_view text, detail;
    if (value["message"].get(text) != simdjson::SUCCESS) return;
    protocol::ConnectorNote note;
    note.error = kind == "trace";
    note.message = std::string(text);
    if (note.error) {
      note.level = "ERROR";
      if (value["failure_type"].get(detail) == simdjson::SUCCESS) note.failure_type = std::string(detail);
    } else {
      note.level = value["level"].get(detail) == simdjson::SUCCESS ? std::string(detail) : "INFO";
    }
    Print("source", note.ToString());
    return;
  }
  base::MutexLock lock(&mu_);
  RelayView& r = view_.relays[relay];
  r.connected = true;
  if (kind == "counters") {
    uint64_t bytes = 0;
    if (value["bytes"].get(bytes) == simdjson::SUCCESS) {
      if (bytes != r.bytes || r.last_bytes_change == absl::InfinitePast()) {
        r.last_bytes_change = absl::Now();
      }
      r.bytes = bytes;
    }
    if (value["input_wait_seconds"].get(r.input_wait_seconds) != simdjson::SUCCESS) {
      r.input_wait_seconds = 0;
    }
    if (value["output_wait_seconds"].get(r.output_wait_seconds) != simdjson::SUCCESS) {
      r.output_wait_seconds = 0;
    }
    simdjson::dom::object streams;
    if (value["streams"].get(streams) == simdjson::SUCCESS) {
      for (const auto [name, figures] : streams) {
        StreamFigures& f = r.streams[std::string(name)];
        if (figures["records"].get(f.records) != simdjson::SUCCESS) f.records = 0;
        if (figures["bytes"].get(f.bytes) != simdjson::SUCCESS) f.bytes = 0;
      }
    }
  } else if (kind == "listening") {
    uint64_t port = 0;
    if (value["port"].get(port) == simdjson::SUCCESS && port > 0 && port < 65536) {
      r.listening_port = static_cast<int>(port);
      port_reported_.SignalAll();
    }
  } else if (kind == "summary") {
    // The first is the stream's: a relay run again under the same name (a native sidecar the
    // kubelet restarted) would report a second one, counted from zero.
    if (!r.summary) r.summary = simdjson::minify(value);
  } else if (kind == "dropped") {
    if (value.get(r.dropped_events) != simdjson::SUCCESS) r.dropped_events = 0;
    if (relay == source_relay_ && r.dropped_events > 0) view_.committed_exact = false;
  } else if (kind == "state" && relay == source_relay_) {
    Pending p;
    std::string_view state_kind;
    if (value["key"].get(p.key) != simdjson::SUCCESS ||
        value["kind"].get(state_kind) != simdjson::SUCCESS) {
      view_.committed_exact = false;  // a state without a key (oversize) cannot be matched
      return;
    }
    p.all_streams = state_kind != "STREAM";
    if (!p.all_streams) {
      std::string_view stream;
      uint64_t n = 0;
      if (value["stream"].get(stream) != simdjson::SUCCESS ||
          value["records"].get(n) != simdjson::SUCCESS) {
        return;
      }
      p.records.emplace_back(std::string(stream), n);
    } else {
      simdjson::dom::object records;
      if (value["records"].get(records) == simdjson::SUCCESS) {
        for (const auto [name, n] : records) {
          uint64_t count = 0;
          if (n.get(count) == simdjson::SUCCESS) p.records.emplace_back(std::string(name), count);
        }
      }
    }
    Ledger(std::move(p));
  }
}

void SyncProgress::Ledger(Pending p) {
  // An echo that came first is matched now.
  for (auto it = unmatched_.begin(); it != unmatched_.end(); ++it) {
    if (*it != p.key) continue;
    unmatched_.erase(it);
    ledger_cells_ += p.records.size();
    ledger_.push_back(std::move(p));
    Commit(ledger_.back().key);
    view_.echoes_unmatched = unmatched_.size();
    return;
  }
  ledger_cells_ += p.records.size();
  ledger_.push_back(std::move(p));
  while (ledger_.size() > kMaxLedgerStates || ledger_cells_ > kMaxLedgerCells) {
    ledger_cells_ -= ledger_.front().records.size();
    ledger_.pop_front();
    view_.committed_exact = false;
  }
}

bool SyncProgress::Commit(uint64_t key) {
  // The earliest waiting state with that key: destinations echo in order.
  size_t at = 0;
  for (; at < ledger_.size() && ledger_[at].key != key; ++at) {
  }
  if (at == ledger_.size()) return false;
  const Pending matched = ledger_[at];
  for (const auto& [stream, n] : matched.records) {
    uint64_t& c = view_.committed[stream];
    c = std::max(c, n);
  }
  // What the matched state supersedes leaves the ledger: every earlier state for a GLOBAL or
  // LEGACY one, the earlier states of its stream for a STREAM one. All of it is at or before
  // the match, so only that front is walked, once: the states kept there move up behind it.
  size_t kept = at + 1;
  for (size_t i = at + 1; i-- > 0;) {
    const bool superseded =
        i == at || matched.all_streams ||
        (!ledger_[i].all_streams && ledger_[i].records.front().first == matched.records.front().first);
    if (superseded) {
      ledger_cells_ -= ledger_[i].records.size();
    } else {
      ledger_[--kept] = std::move(ledger_[i]);
    }
  }
  ledger_.erase(ledger_.begin(), ledger_.begin() + static_cast<std::ptrdiff_t>(kept));
  return true;
}

void SyncProgress::OnEcho(std::string_view line) {
  const std::optional<uint64_t> key = protocol::StateKey(line);
  base::MutexLock lock(&mu_);
  if (!key) {
    view_.committed_exact = false;
    return;
  }
  if (Commit(*key)) return;
  unmatched_.push_back(*key);
  if (unmatched_.size() > kMaxLedgerStates) {
    unmatched_.pop_front();
    view_.committed_exact = false;
  }
  view_.echoes_unmatched = unmatched_.size();
}

void SyncProgress::OnConnectorMessage(const std::string& who, std::string_view line) const {
  if (const auto note = protocol::ReadConnectorNote(line)) Print(who, note->ToString());
}

std::optional<int> SyncProgress::ListeningPort(const std::string& relay) const {
  return AwaitListeningPort(relay, absl::InfinitePast());
}

std::optional<int> SyncProgress::AwaitListeningPort(const std::string& relay,
                                                    absl::Time until) const {
  base::MutexLock lock(&mu_);
  for (;;) {
    const auto it = view_.relays.find(relay);
    if (it != view_.relays.end() && it->second.listening_port) return it->second.listening_port;
    if (!port_reported_.WaitUntil(&mu_, until)) return std::nullopt;
  }
}

ProgressView SyncProgress::View() const {
  base::MutexLock lock(&mu_);
  return view_;
}

}  // namespace sluice::orchestrator
