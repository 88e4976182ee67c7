#include "dataplane/relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "base/files.h"
#include "dataplane/accept.h"
#include "dataplane/auth.h"
#include "dataplane/end_marker.h"
#include "dataplane/engine.h"
#include "dataplane/heartbeat.h"
#include "dataplane/metrics_server.h"
#include "dataplane/net.h"
#include "dataplane/relay_error.h"
#include "dataplane/relay_summary.h"
#include "dataplane/report_channel.h"
#include "dataplane/unique_fd.h"
#include "protocol/report.h"

namespace sluice::dataplane {
namespace {

void Log(const std::string& name, const std::string& message) {
  std::fprintf(stderr, "sluice-relay[%s] %s\n", name.c_str(), message.c_str());
}

bool Stopped(int stop_fd) {
  pollfd p{stop_fd, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

// OK when `path` exists and is a FIFO; else the kExitFifo error that says which.
absl::Status CheckFifo(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return ErrnoError(kExitFifo, "FIFO " + path, errno);
  if (!S_ISFIFO(st.st_mode)) {
    return RelayError(kExitFifo, path + " is not a FIFO (create it with `sluice-relay init`)");
  }
  return absl::OkStatus();
}

// Checks that `path` is a FIFO, then opens it without blocking. A reader end opens at once
// (poll reports the writer's arrival and departure); a writer end waits for a reader.
absl::StatusOr<UniqueFd> OpenFifo(const std::string& path, bool for_write, absl::Time deadline,
                                  int stop_fd) {
  if (auto s = CheckFifo(path); !s.ok()) return s;
  for (;;) {
    UniqueFd fd(open(path.c_str(), (for_write ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC));
    if (fd.valid()) return fd;
    if (errno != ENXIO) return ErrnoError(kExitFifo, "open FIFO " + path, errno);
    // ENXIO: no reader yet.
    if (absl::Now() >= deadline) {
      return RelayError(kExitFifo,
                        "no reader opened " + path + " in time (is the connector running?)");
    }
    if (WaitFor(stop_fd, POLLIN, absl::Now() + absl::Milliseconds(20), -1)) {
      return RelayError(kExitTerminated,
                        "terminated while waiting for the connector to open " + path);
    }
  }
}

// What the transfer learns as it goes (the engine, the peer): written by the transfer while
// the metrics thread may be rendering it.
struct TransferInfo {
  std::string engine = "none";
  std::string engine_reason;
  std::string peer;
};

// Everything the metrics endpoint and the summary read while the transfer runs.
struct Progress {
  const RelayConfig* config = nullptr;
  std::unique_ptr<ReportChannel> channel;  // before the inspector, which reports into it
  std::unique_ptr<protocol::Inspector> inspector;
  // Of every payload byte, when the relay taps them (send: inspecting; recv: inspecting or
  // verifying). Used on the data path's thread only, and read once the transfer is over.
  std::unique_ptr<PayloadChecksum> checksum;
  PumpStats pump;
  absl::Time start = absl::Now();
  std::atomic<int> phase{0};  // 0 connecting, 1 transferring, 2 done
  // recv: bytes written into the FIFO that its reader never read (it closed its end first).
  std::atomic<uint64_t> unread_bytes{0};
  // The pump read its input to the end (send: the connector's EOF; recv: the sender's end):
  // the inspector's counts cover all of it, whatever failed after.
  std::atomic<bool> input_complete{false};

  TransferInfo info() const {
    std::lock_guard<std::mutex> lock(mu);
    return info_;
  }
  void Update(const std::function<void(TransferInfo&)>& change) {
    std::lock_guard<std::mutex> lock(mu);
    change(info_);
  }

 private:
  mutable std::mutex mu;
  TransferInfo info_;  // guarded by mu
};

std::string Bottleneck(uint64_t bytes, double input_wait, double output_wait, double wall) {
  if (bytes == 0 || wall <= 0) return "none";
  if (input_wait + output_wait < 0.1 * wall) return "relay";
  return input_wait >= output_wait ? "input" : "output";
}

std::string RenderMetrics(const Progress& p) {
  const RelayConfig& c = *p.config;
  const std::string base =
      "connector=\"" + PromLabel(c.name) + "\",direction=\"" + ModeName(c.mode) + "\"";
  std::string out;
  const auto metric = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  const TransferInfo info = p.info();
  metric("sluice_relay_info", "gauge", "The engine and why it was chosen.");
  out += "sluice_relay_info{" + base + ",engine=\"" + info.engine + "\",reason=\"" +
         PromLabel(info.engine_reason) + "\"} 1\n";
  metric("sluice_relay_phase", "gauge", "0 connecting, 1 transferring, 2 done.");
  out += "sluice_relay_phase{" + base + "} " + std::to_string(p.phase.load()) + "\n";
  metric("sluice_bytes_total", "counter", "Bytes moved from input to output.");
  out += "sluice_bytes_total{" + base + "} " + std::to_string(p.pump.bytes.load()) + "\n";
  metric(
      "sluice_wait_seconds_total", "counter",
      "Time blocked waiting for the input to have bytes (side=input) or the output to take them.");
  out += "sluice_wait_seconds_total{" + base + ",side=\"input\"} " +
         std::to_string(static_cast<double>(p.pump.input_wait_ns.load()) / 1e9) + "\n";
  out += "sluice_wait_seconds_total{" + base + ",side=\"output\"} " +
         std::to_string(static_cast<double>(p.pump.output_wait_ns.load()) / 1e9) + "\n";
  if (!p.inspector) return out;
  const protocol::InspectorStats s = p.inspector->Snapshot(/*state_text=*/false);
  metric("sluice_messages_total", "counter", "Airbyte messages by type.");
  for (size_t t = 0; t < protocol::kMessageTypeCount; ++t) {
    out += "sluice_messages_total{" + base + ",type=\"" +
           std::string(protocol::MessageTypeName(static_cast<protocol::MessageType>(t))) + "\"} " +
           std::to_string(s.types[t].count) + "\n";
  }
  metric("sluice_non_protocol_lines_total", "counter", "Lines that were not Airbyte messages.");
  out += "sluice_non_protocol_lines_total{" + base + "} " + std::to_string(s.non_protocol.count) +
         "\n";
  metric("sluice_oversize_lines_total", "counter", "Lines longer than --max-line-bytes.");
  out += "sluice_oversize_lines_total{" + base + "} " + std::to_string(s.oversize_lines) + "\n";
  metric("sluice_trace_errors_total", "counter", "TRACE ERROR messages.");
  out += "sluice_trace_errors_total{" + base + "} " + std::to_string(s.trace_errors) + "\n";
  metric("sluice_tracked_streams", "gauge", "Streams counted one by one (at most --max-streams).");
  out += "sluice_tracked_streams{" + base + "} " + std::to_string(s.streams.size()) + "\n";
  metric("sluice_untracked_records_total", "counter",
         "RECORD messages of streams beyond --max-streams, counted together.");
  out +=
      "sluice_untracked_records_total{" + base + "} " + std::to_string(s.untracked.records) + "\n";
  metric("sluice_records_total", "counter", "RECORD messages per stream.");
  std::string record_bytes, data_bytes, states;
  for (const auto& [id, st] : s.streams) {
    const std::string labels = base + ",namespace=\"" + PromLabel(id.ns.value_or("")) +
                               "\",stream=\"" + PromLabel(id.name) + "\"";
    out += "sluice_records_total{" + labels + "} " + std::to_string(st.records) + "\n";
    record_bytes +=
        "sluice_record_bytes_total{" + labels + "} " + std::to_string(st.record_bytes) + "\n";
    data_bytes +=
        "sluice_record_data_bytes_total{" + labels + "} " + std::to_string(st.data_bytes) + "\n";
    states += "sluice_state_messages_total{" + labels + "} " + std::to_string(st.states) + "\n";
  }
  metric("sluice_record_bytes_total", "counter", "RECORD line bytes per stream.");
  out += record_bytes;
  metric("sluice_record_data_bytes_total", "counter", "Compact size of record.data per stream.");
  out += data_bytes;
  metric("sluice_state_messages_total", "counter", "STATE messages naming each stream.");
  out += states;
  return out;
}

std::string SummaryJson(const Progress& p, int exit_code, const absl::Status& status) {
  RelaySummary s;
  const TransferInfo info = p.info();
  s.mode = ModeName(p.config->mode);
  s.connector = p.config->name;
  s.engine = info.engine;
  s.engine_reason = info.engine_reason;
  s.peer = info.peer;
  s.bytes = p.pump.bytes.load();
  s.unread_bytes = p.unread_bytes.load();
  s.seconds = absl::ToDoubleSeconds(absl::Now() - p.start);
  s.input_wait_seconds = static_cast<double>(p.pump.input_wait_ns.load()) / 1e9;
  s.output_wait_seconds = static_cast<double>(p.pump.output_wait_ns.load()) / 1e9;
  s.exit_code = exit_code;
  s.input_complete = p.input_complete;
  s.exit_reason = ExitCodeName(exit_code);
  if (!status.ok()) s.error = std::string(status.message());
  s.bottleneck = Bottleneck(s.bytes, s.input_wait_seconds, s.output_wait_seconds, s.seconds);
  if (p.inspector) s.inspector = p.inspector->Snapshot();
  if (p.checksum) s.checksum = ChecksumHex(p.checksum->Digest());
  return FormatRelaySummary(s);
}

// The report channel's counters: totals, wait times, and the streams whose counts changed
// since `last` (updated).
std::string CountersJson(const Progress& p, std::map<std::string, uint64_t>& last) {
  std::string out =
      "{\"bytes\":" + std::to_string(p.pump.bytes.load()) + ",\"input_wait_seconds\":" +
      std::to_string(static_cast<double>(p.pump.input_wait_ns.load()) / 1e9) +
      ",\"output_wait_seconds\":" +
      std::to_string(static_cast<double>(p.pump.output_wait_ns.load()) / 1e9) + ",\"streams\":{";
  if (p.inspector) {
    const protocol::InspectorStats s = p.inspector->Snapshot(/*state_text=*/false);
    bool first = true;
    for (const auto& [id, st] : s.streams) {
      const auto [it, added] = last.try_emplace(id.ToString(), st.records);
      if (!added && it->second == st.records) continue;
      it->second = st.records;
      const std::string& key = it->first;
      out += (first ? "" : ",") + protocol::JsonString(key) +
             ":{\"records\":" + std::to_string(st.records) +
             ",\"bytes\":" + std::to_string(st.record_bytes) + "}";
      first = false;
    }
  }
  return out + "}}";
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  if (auto s = base::WriteFileAtomically(path, content); !s.ok()) {
    return RelayError(kExitIo, std::string(s.message()));
  }
  return absl::OkStatus();
}

// Connects or accepts, then authenticates. A listener refuses peers that fail the handshake
// and keeps waiting for the right one until its deadline.
absl::StatusOr<UniqueFd> Establish(const RelayConfig& c, const Secret* secret, int stop_fd,
                                   std::string* peer, ReportChannel* channel) {
  if (!c.connect.empty() || c.connect_reported) {
    const absl::Time deadline = absl::Now() + c.connect_timeout;
    std::string where = c.connect;
    if (c.connect_reported) {
      Log(c.name, ModeName(c.mode) + ": waiting for the orchestrator to name the peer");
      auto named = channel->AwaitPeer(deadline, stop_fd);
      if (!named.ok()) return named.status();
      where = *std::move(named);
    }
    auto address = ParseAddress(where);
    if (!address.ok()) return address.status();
    auto fd = Connect(*address, deadline, stop_fd);
    if (!fd.ok()) return fd.status();
    *peer = address->ToString();
    if (secret != nullptr) {
      if (auto s = ClientHandshake(fd->get(), *secret, absl::Now() + c.handshake_timeout, stop_fd);
          !s.ok()) {
        return s;
      }
    }
    return fd;
  }
  absl::StatusOr<UniqueFd> listener;
  std::string host;  // as given, or as bound by whoever passed the socket
  if (c.listen_fd >= 0) {
    listener = AdoptListener(c.listen_fd);
    if (listener.ok()) host = LocalAddress(listener->get()).host;
  } else {
    auto address = ParseAddress(c.listen);
    if (!address.ok()) return address.status();
    host = address->host;
    listener = Listen(*address);
  }
  if (!listener.ok()) return listener.status();
  const uint16_t port = LocalPort(listener->get());
  Log(c.name, ModeName(c.mode) + ": listening on " + Address{host, port}.ToString() +
                  (c.listen_fd >= 0 ? " (file descriptor " + std::to_string(c.listen_fd) +
                                          ", bound by the process that started the relay)"
                                    : ""));
  // For whoever must tell the peer where to connect: the orchestrator, on the channel (or a
  // file, for a relay run by hand).
  if (channel != nullptr) channel->Listening(port);
  if (!c.port_file.empty()) {
    if (auto s = WriteFileAtomically(c.port_file, std::to_string(port) + "\n"); !s.ok()) return s;
  }
  const absl::Time deadline = absl::Now() + c.accept_timeout;
  if (secret == nullptr) return AcceptOne(listener->get(), deadline, stop_fd, peer);
  return AcceptAuthenticated(listener->get(), *secret,
                             {.deadline = deadline, .handshake_timeout = c.handshake_timeout},
                             stop_fd, peer, [&c](const std::string& line) { Log(c.name, line); });
}

// Sends the end marker. The peer may still be delivering megabytes to a slow destination, so
// the socket can stay full for long: give up only when it showed no progress for `timeout`.
absl::Status SendEndMarker(int fd, const EndMarker& end, absl::Duration timeout, int stop_fd,
                           const PeerProgress& progress) {
  const std::string marker = EncodeEndMarker(end);
  std::string_view rest = marker;
  const absl::Time start = absl::Now();
  while (!rest.empty()) {
    const absl::Time deadline = progress.LastProgress(start) + timeout;
    if (absl::Now() >= deadline) {
      return RelayError(kExitPeerLost, "the peer stopped reading before the end of the stream");
    }
    const int err = SendAllBefore(fd, rest.substr(0, 1),
                                  std::min(deadline, absl::Now() + absl::Seconds(1)), stop_fd);
    if (err == ETIMEDOUT) {
      if (Stopped(stop_fd)) return RelayError(kExitTerminated, "terminated sending the end marker");
      continue;
    }
    if (err != 0) return ErrnoError(kExitPeerLost, "sending the end of the stream", err);
    rest.remove_prefix(1);
  }
  return absl::OkStatus();
}

// recv: what the held-back tail of the stream says. Bytes that turn out to be payload (the
// sender died before its marker) are still delivered to the FIFO before the error.
// Those bytes are counted and tapped like every other payload byte, so the connector never
// gets a record the counts do not have. `checksum`: of the payload delivered, when tapped.
absl::Status CheckEndMarker(const std::string& held, int fifo_fd, const Tap* tap,
                            const PayloadChecksum* checksum, PumpStats& stats) {
  const uint64_t payload_bytes = stats.bytes.load();
  if (const std::optional<EndMarker> end = DecodeEndMarker(held)) {
    if (end->payload_bytes != payload_bytes) {
      return RelayError(kExitPeerLost, "the sender sent " + std::to_string(end->payload_bytes) +
                                           " bytes but " + std::to_string(payload_bytes) +
                                           " arrived: bytes were lost on the way");
    }
    if (end->checksum && checksum != nullptr && *end->checksum != checksum->Digest()) {
      return RelayError(
          kExitCorrupt,
          "the " + std::to_string(payload_bytes) +
              " bytes that arrived are not the bytes sent: their checksum is " +
              ChecksumHex(checksum->Digest()) + ", the sender's " + ChecksumHex(*end->checksum) +
              " (they were delivered to the connector: its output cannot be trusted)");
    }
    return absl::OkStatus();
  }
  for (size_t done = 0; done < held.size();) {
    if (!WaitFor(fifo_fd, POLLOUT, absl::Now() + absl::Seconds(10), -1)) break;
    const ssize_t n = write(fifo_fd, held.data() + done, held.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    if (tap != nullptr) (*tap)(std::string_view(held.data() + done, static_cast<size_t>(n)));
    stats.bytes += static_cast<uint64_t>(n);
    done += static_cast<size_t>(n);
  }
  return RelayError(kExitPeerLost, "the connection closed without the sender's end marker after " +
                                       std::to_string(payload_bytes + held.size()) +
                                       " bytes: the sender died or was killed mid-stream");
}

// send, to a plain peer (--insecure-no-auth, no heartbeats): after EOF and every byte out,
// half-close and wait for the peer to close, at most `timeout`.
absl::Status Linger(int fd, absl::Duration timeout, int stop_fd) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  for (;;) {
    if (!WaitFor(fd, POLLIN, deadline, stop_fd)) {
      if (Stopped(stop_fd))
        return RelayError(kExitTerminated, "terminated while waiting for the peer to close");
      return RelayError(kExitLingerTimeout,
                        "every byte was sent but the peer did not close the connection within " +
                            absl::FormatDuration(timeout));
    }
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return absl::OkStatus();
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoError(kExitPeerLost, "waiting for the peer to close", errno);
  }
}

// recv: every byte is in the FIFO; "delivered" means read by the connector, so wait until the
// pipe is empty. A connector that closes its stdin first left bytes it never read: that is a
// failure, with the count. No deadline: a reader that keeps reading, however slowly, is never
// cut off (the orchestrator watches the connector itself).
absl::Status WaitUntilRead(int fifo_fd, const std::string& fifo, int stop_fd) {
  // The writer's end of a pipe reports POLLERR once no reader is left; nothing else wakes it
  // as the pipe drains, so look again, first after 100 us and then twice as long each time, up
  // to 20 ms. A connector reading its last MiB at speed is seen done within a fraction of a
  // millisecond (the sync's end waits on this: the connector's EOF, then the sender's), and a
  // slow one costs 50 looks a second.
  absl::Duration wait = absl::Microseconds(100);
  for (;;) {
    const uint64_t unread = PipeUnread(fifo_fd);
    if (unread == 0) return absl::OkStatus();
    pollfd fds[2] = {{fifo_fd, 0, 0}, {stop_fd, POLLIN, 0}};
    const timespec timeout = absl::ToTimespec(wait);
    wait = std::min(wait * 2, absl::Milliseconds(20));
    const int n = ppoll(fds, stop_fd >= 0 ? 2 : 1, &timeout, nullptr);
    if (n < 0 && errno != EINTR) return ErrnoError(kExitIo, "poll on the FIFO " + fifo, errno);
    if (n > 0 && (fds[0].revents & (POLLERR | POLLHUP))) {
      const uint64_t left = PipeUnread(fifo_fd);
      if (left == 0) return absl::OkStatus();  // read to the end, then closed
      return RelayError(kExitReaderGone, "the connector closed its input (" + fifo + ") with " +
                                             std::to_string(left) +
                                             " bytes it never read: they were not delivered");
    }
    if (n > 0 && stop_fd >= 0 && (fds[1].revents & POLLIN)) {
      return RelayError(kExitTerminated, "terminated while the connector was reading its last " +
                                             std::to_string(unread) + " bytes");
    }
  }
}

absl::Status Transfer(const RelayConfig& c, Progress& p, int stop_fd) {
  const int ways = int{!c.listen.empty()} + int{c.listen_fd >= 0} + int{!c.connect.empty()} +
                   int{c.connect_reported};
  if (ways != 1) {
    return RelayError(
        kExitUsage, "give exactly one of --listen, --listen-fd, --connect and --connect-reported");
  }
  if (c.connect_reported && !p.channel) {
    return RelayError(kExitUsage,
                      "--connect-reported takes the peer's address from the report channel: give "
                      "--report-to=ADDR (the orchestrator's), or --connect=ADDR instead");
  }
  if (c.fifo.empty()) return RelayError(kExitUsage, "--fifo is required");
  // Fail fast on a missing FIFO, before the peer is kept waiting.
  if (auto s = CheckFifo(c.fifo); !s.ok()) return s;
  std::unique_ptr<Secret> secret;
  if (!c.insecure_no_auth) {
    auto loaded = LoadSecret(c.secret_file, c.secret_env);
    if (!loaded.ok()) return loaded.status();
    secret = std::move(*loaded);
    if (p.channel) {
      if (c.connect_reported) p.channel->ExpectPeer();
      p.channel->Start(secret->bytes());
    }
  } else {
    Log(c.name, "WARNING: --insecure-no-auth: any peer that reaches the port is accepted");
  }
  std::string reason;
  const Route route = c.mode == Mode::kSend ? Route::kPipeToSocket : Route::kSocketToPipe;
  const PumpOptions pump_options{.pipe_bytes = c.pipe_bytes, .drain_timeout = c.drain_timeout};
  const bool send = c.mode == Mode::kSend;
  // Made before any connection, so that an engine that cannot run here is an error first.
  std::unique_ptr<Engine> engine;
  {
    auto made = CreateEngine(c.engine, route, pump_options, &reason);
    if (!made.ok()) return made.status();
    engine = std::move(*made);
    const std::string engine_name(engine->name());
    p.Update([&](TransferInfo& info) {
      info.engine = engine_name;
      info.engine_reason = reason;
    });
    Log(c.name, ModeName(c.mode) + ": engine " + engine_name + " (" + reason + "), inspection " +
                    (c.inspect ? "on" : "off") + ", checksum " + (p.checksum ? "on" : "off"));
  }

  std::string peer;
  auto socket = Establish(c, secret.get(), stop_fd, &peer, p.channel.get());
  if (!socket.ok()) return socket.status();
  p.Update([&](TransferInfo& info) { info.peer = peer; });
  Log(c.name, ModeName(c.mode) + ": connected to " + peer + (secret ? " (authenticated)" : ""));
  // Authenticated peers are sluice relays: the receiver sends progress heartbeats back, read
  // from now on so they never pile up.
  std::optional<PeerProgress> peer_progress;
  if (send && secret) peer_progress.emplace(socket->get(), stop_fd);
  auto fifo = OpenFifo(c.fifo, /*for_write=*/!send, absl::Now() + c.accept_timeout, stop_fd);
  if (!fifo.ok()) return fifo.status();

  const std::string fifo_name = "the FIFO " + c.fifo;
  const std::string peer_name = "the peer " + peer;
  const Endpoint fifo_end{
      .fd = fifo->get(), .is_pipe = true, .is_socket = false, .name = fifo_name};
  const Endpoint socket_end{
      .fd = socket->get(), .is_pipe = false, .is_socket = true, .name = peer_name};
  // The inspector and the checksum see the bytes the engine taps: one copy out of the kernel
  // for both.
  const Tap tap = [&p](std::string_view bytes) {
    if (p.inspector) p.inspector->Consume(bytes);
    if (p.checksum) p.checksum->Update(bytes);
  };
  const Tap* const tapped = p.inspector || p.checksum ? &tap : nullptr;
  p.phase = 1;
  if (send) {
    absl::Status status = engine->Pump(fifo_end, socket_end, tapped, p.pump, stop_fd);
    if (p.inspector) p.inspector->Finish();
    if (!status.ok()) return status;
    p.input_complete = true;
    fifo->reset();
    if (secret) {
      const EndMarker end{
          .payload_bytes = p.pump.bytes.load(),
          .checksum = p.checksum ? std::optional<uint64_t>(p.checksum->Digest()) : std::nullopt};
      if (auto s = SendEndMarker(socket->get(), end, c.linger_timeout, stop_fd, *peer_progress);
          !s.ok()) {
        return s;
      }
    }
    if (shutdown(socket->get(), SHUT_WR) != 0)
      return ErrnoError(kExitPeerLost, "half-closing the connection", errno);
    // A sluice peer's heartbeats say whether it still makes progress; a plain one is given
    // linger_timeout from now.
    return secret ? peer_progress->WaitForClose(c.linger_timeout)
                  : Linger(socket->get(), c.linger_timeout, stop_fd);
  }

  // recv. The stream ends with the sender's end marker: hold its bytes back from the FIFO.
  Holdback holdback;
  holdback.bytes = secret ? kEndMarkerBytes : 0;
  absl::Status status;
  {
    std::optional<ProgressBeacon> beacon;
    if (secret) beacon.emplace(socket->get(), fifo->get(), p.pump);
    status =
        engine->Pump(socket_end, fifo_end, tapped, p.pump, stop_fd, secret ? &holdback : nullptr);
    if (status.ok() && secret) {
      status = CheckEndMarker(holdback.held, fifo->get(), tapped, p.checksum.get(), p.pump);
    }
    if (p.inspector) p.inspector->Finish();
    if (status.ok()) p.input_complete = true;
    if (status.ok()) status = WaitUntilRead(fifo->get(), c.fifo, stop_fd);
    // Bytes the connector left in the pipe when it went (during the pump, or after) were never
    // delivered; with no reader left, the pipe holds them still.
    if (ExitCodeOf(status) == kExitReaderGone) p.unread_bytes = PipeUnread(fifo->get());
  }
  if (!status.ok()) return status;
  fifo->reset();    // the connector sees end of input ...
  socket->reset();  // ... and then the sender sees our close
  return absl::OkStatus();
}

}  // namespace

std::string ModeName(Mode mode) { return mode == Mode::kSend ? "send" : "recv"; }

int RunTransfer(const RelayConfig& config, int stop_fd) {
  Progress p;
  p.config = &config;
  protocol::InspectorOptions inspector_options = config.inspector;
  if (!config.report_to.empty()) {
    auto address = ParseAddress(config.report_to);
    if (!address.ok()) {
      Log(config.name, "error: --report-to: " + std::string(address.status().message()));
      return kExitUsage;
    }
    if (config.insecure_no_auth) {
      Log(config.name,
          "error: --report-to needs the sync's secret; it cannot go with --insecure-no-auth");
      return kExitUsage;
    }
    p.channel = std::make_unique<ReportChannel>(
        *address, config.name, ModeName(config.mode),
        [&p, last = std::map<std::string, uint64_t>()]() mutable { return CountersJson(p, last); });
    if (config.report_messages) inspector_options.observer = p.channel.get();
  }
  if (config.inspect) p.inspector = std::make_unique<protocol::Inspector>(inspector_options);
  // The sender checksums what it taps anyway; a receiver checksums when it inspects, or when
  // asked to verify without inspecting. Without the secret there is no end marker to carry it.
  if (!config.insecure_no_auth &&
      (config.inspect || (config.mode == Mode::kRecv && config.verify))) {
    p.checksum = std::make_unique<PayloadChecksum>();
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!config.metrics_addr.empty()) {
    auto address = ParseAddress(config.metrics_addr);
    absl::StatusOr<std::unique_ptr<MetricsServer>> server =
        address.ok() ? MetricsServer::Start(*address, [&p] { return RenderMetrics(p); })
                     : absl::StatusOr<std::unique_ptr<MetricsServer>>(address.status());
    if (!server.ok()) {
      Log(config.name, "error: " + std::string(server.status().message()));
      return kExitUsage;
    }
    metrics = std::move(*server);
    Log(config.name, "metrics on port " + std::to_string(metrics->port()) + " /metrics");
  }
  const absl::Status status = Transfer(config, p, stop_fd);
  p.phase = 2;
  const int code = ExitCodeOf(status);
  const std::string summary = SummaryJson(p, code, status);
  if (!config.summary_path.empty()) {
    if (auto s = WriteFileAtomically(config.summary_path, summary); !s.ok()) {
      Log(config.name, "error: " + std::string(s.message()));
    }
  }
  if (p.channel) p.channel->Finish(summary);
  const double wall = absl::ToDoubleSeconds(absl::Now() - p.start);
  const uint64_t bytes = p.pump.bytes.load();
  std::string line = ModeName(config.mode) + " " + (status.ok() ? "done" : "failed") + ": " +
                     std::to_string(bytes) + " bytes in " + std::to_string(wall).substr(0, 6) +
                     " s";
  if (p.inspector) {
    const protocol::InspectorStats s = p.inspector->Snapshot(/*state_text=*/false);
    line += ", " + std::to_string(s.type(protocol::MessageType::kRecord).count) + " records in " +
            std::to_string(s.streams.size()) + " streams, " +
            std::to_string(s.type(protocol::MessageType::kState).count) + " states";
    if (s.non_protocol.count > 0)
      line += ", " + std::to_string(s.non_protocol.count) + " non-protocol lines";
    if (s.untracked_streams) {
      Log(config.name, "WARNING: more than " + std::to_string(config.inspector.max_streams) +
                           " streams: " + std::to_string(s.untracked.records) +
                           " records of the streams beyond were counted together, not per "
                           "stream (raise --max-streams to count them one by one)");
    }
  }
  line += ", engine " + p.info().engine + ", bottleneck " +
          Bottleneck(bytes, static_cast<double>(p.pump.input_wait_ns.load()) / 1e9,
                     static_cast<double>(p.pump.output_wait_ns.load()) / 1e9, wall);
  line += "; exit " + std::to_string(code) + " (" + std::string(ExitCodeName(code)) + ")";
  if (p.unread_bytes > 0)
    line += ", " + std::to_string(p.unread_bytes.load()) + " bytes never read";
  if (!status.ok()) line += ": " + std::string(status.message());
  Log(config.name, line);
  return code;
}

int RunLogs(const std::string& fifo, const std::string& name, int stop_fd) {
  auto fd = OpenFifo(fifo, /*for_write=*/false, absl::InfiniteFuture(), stop_fd);
  if (!fd.ok()) {
    Log(name, "logs: " + std::string(fd.status().message()));
    return ExitCodeOf(fd.status());
  }
  constexpr size_t kMaxLine = 64 << 10;
  std::string line;
  char buf[1 << 16];
  const auto emit = [&](bool continued) {
    std::string out = "[" + name + "] " + line + (continued ? " [continued]\n" : "\n");
    fwrite(out.data(), 1, out.size(), stderr);
    line.clear();
  };
  for (;;) {
    // Poll before reading: a FIFO no writer has opened yet reads as EOF, but polls as nothing
    // until a writer has come (POLLIN) or come and gone (POLLHUP).
    if (!WaitFor(fd->get(), POLLIN, absl::InfiniteFuture(), stop_fd)) break;
    const ssize_t n = read(fd->get(), buf, sizeof buf);
    if (n < 0 && errno == EAGAIN) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Log(name, std::string("logs: read: ") + std::strerror(errno));
      return kExitIo;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        emit(false);
      } else {
        line.push_back(buf[i]);
        if (line.size() >= kMaxLine) emit(true);
      }
    }
  }
  if (!line.empty()) emit(false);
  return Stopped(stop_fd) ? kExitTerminated : kExitOk;
}

int RunInit(const std::vector<std::string>& paths, unsigned mode,
            const std::string& install_entrypoint) {
  if (!install_entrypoint.empty()) {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::filesystem::path from = self.parent_path() / "sluice-entrypoint";
    if (!ec) {
      std::filesystem::copy_file(from, install_entrypoint,
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
    if (!ec) {
      std::filesystem::permissions(install_entrypoint, std::filesystem::perms(0755),
                                   std::filesystem::perm_options::replace, ec);
    }
    if (ec) {
      std::fprintf(stderr, "sluice-relay init: cannot install %s as %s: %s\n", from.c_str(),
                   install_entrypoint.c_str(), ec.message().c_str());
      return kExitFifo;
    }
  }
  for (const std::string& path : paths) {
    if (mkfifo(path.c_str(), mode) == 0) {
      chmod(path.c_str(), mode);  // mkfifo applies the umask
      continue;
    }
    struct stat st {};
    if (errno == EEXIST && stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) continue;
    std::fprintf(stderr, "sluice-relay init: cannot create FIFO %s: %s\n", path.c_str(),
                 errno == EEXIST ? "exists and is not a FIFO" : std::strerror(errno));
    return kExitFifo;
  }
  return kExitOk;
}

}  // namespace sluice::dataplane
