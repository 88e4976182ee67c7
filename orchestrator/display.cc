#include "orchestrator/display.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <unistd.h>

namespace sluice::orchestrator {
namespace {

const RelayView& Find(const ProgressView& v, const std::string& relay) {
  static const RelayView kNone;
  const auto it = v.relays.find(relay);
  return it == v.relays.end() ? kNone : it->second;
}

uint64_t Records(const RelayView& r) {
  uint64_t n = 0;
  for (const auto& [name, f] : r.streams) n += f.records;
  return n;
}

std::string Clock(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  return absl::StrFormat("%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace

ProgressDisplay::ProgressDisplay(std::string sync, std::string source_relay,
                                 std::string destination_relay, bool delivered_records,
                                 std::FILE* out, absl::Duration plain_every)
    : sync_(std::move(sync)),
      source_relay_(std::move(source_relay)),
      destination_relay_(std::move(destination_relay)),
      delivered_records_(delivered_records),
      out_(out),
      terminal_(isatty(fileno(out)) != 0),
      every_(terminal_ ? absl::Seconds(1) : plain_every) {}

std::string ProgressDisplay::HeldBackBy(const RelayView& source, const RelayView& destination,
                                        const RelayView& source_before,
                                        const RelayView& destination_before,
                                        absl::Duration interval) {
  const double span = absl::ToDoubleSeconds(interval);
  if (span <= 0 || source.bytes == source_before.bytes) return "";
  const double source_in = (source.input_wait_seconds - source_before.input_wait_seconds) / span;
  const double source_out = (source.output_wait_seconds - source_before.output_wait_seconds) / span;
  const double dest_in = (destination.input_wait_seconds - destination_before.input_wait_seconds) / span;
  const double dest_out =
      (destination.output_wait_seconds - destination_before.output_wait_seconds) / span;
  const double network = std::min(source_out, dest_in);
  const double worst = std::max({source_in, dest_out, network});
  if (worst < 0.2) return "relays";  // nobody waited much: the relays' own work is the limit
  if (worst == dest_out) return "destination";
  if (worst == source_in) return "source";
  return "network";
}

void ProgressDisplay::Tick(const ProgressView& view, absl::Time now) {
  if (now - last_ < every_) return;
  const RelayView& source = Find(view, source_relay_);
  const RelayView& destination = Find(view, destination_relay_);
  const absl::Duration interval = now - last_;
  const double rate = static_cast<double>(source.bytes - std::min(source.bytes, source_before_.bytes)) /
                      1e6 / std::max(absl::ToDoubleSeconds(interval), 1e-3);
  const std::string held =
      HeldBackBy(source, destination, source_before_, destination_before_, interval);
  uint64_t committed = 0;
  for (const auto& [name, n] : view.committed) committed += n;
  const std::string delivered =
      delivered_records_
          ? absl::StrFormat("%d delivered", Records(destination))
          : absl::StrFormat("%.1f MB delivered", static_cast<double>(destination.bytes) / 1e6);
  const std::string totals = absl::StrFormat(
      "%s, %d records emitted, %s, %d committed, %.1f MB (%.1f MB/s)%s", Clock(now - start_),
      Records(source), delivered, committed, static_cast<double>(source.bytes) / 1e6, rate,
      held.empty() ? "" : "; held back by: " + held);
  if (!terminal_) {
    std::fprintf(out_, "sluice: sync %s: %s\n", sync_.c_str(), totals.c_str());
  } else {
    Clear();
    std::string block = absl::StrFormat("sync %s  %s\n  %-32s %12s %12s %12s %10s %9s\n", sync_,
                                        totals, "stream", "emitted", "delivered", "committed",
                                        "MB", "MB/s");
    int lines = 2, shown = 0;
    for (const auto& [name, f] : source.streams) {
      if (++shown > 20) {
        block += absl::StrFormat("  ... and %d more streams\n", source.streams.size() - 20);
        ++lines;
        break;
      }
      const auto d = destination.streams.find(name);
      const auto c = view.committed.find(name);
      const auto b = source_before_.streams.find(name);
      const double stream_rate =
          static_cast<double>(f.bytes - (b == source_before_.streams.end() ? 0 : b->second.bytes)) /
          1e6 / std::max(absl::ToDoubleSeconds(interval), 1e-3);
      const std::string delivered_here = !delivered_records_ ? "-"
                                         : d == destination.streams.end()
                                             ? "0"
                                             : std::to_string(d->second.records);
      block += absl::StrFormat("  %-32s %12d %12s %12d %10.1f %9.1f\n", name, f.records,
                               delivered_here, c == view.committed.end() ? 0 : c->second,
                               static_cast<double>(f.bytes) / 1e6, stream_rate);
      ++lines;
    }
    std::fputs(block.c_str(), out_);
    drawn_lines_ = lines;
  }
  std::fflush(out_);
  source_before_ = source;
  destination_before_ = destination;
  last_ = now;
}

void ProgressDisplay::Clear() {
  if (!terminal_ || drawn_lines_ == 0) return;
  for (int i = 0; i < drawn_lines_; ++i) std::fputs("\x1b[1A\x1b[2K", out_);
  drawn_lines_ = 0;
  std::fflush(out_);
}

}  // namespace sluice::orchestrator
