#include "dataplane/report_channel.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "dataplane/relay_error.h"
#include "protocol/connector_note.h"
#include "protocol/report.h"
#include "protocol/state_key.h"
#include "protocol/text.h"

namespace sluice::dataplane {
namespace {

constexpr size_t kMaxQueued = 10000;            // events waiting for the channel
constexpr size_t kMaxQueuedBytes = 16 << 20;    // and their bytes
constexpr size_t kMaxMessageBytes = 4096;       // of a LOG or TRACE message's text
const absl::Duration kSendTimeout = absl::Seconds(5);
// How long the first message of a batch waits for others. Each send wakes this thread, the
// orchestrator's reader and the loopback stack: at 1 GB/s of 200 B records with a STATE every
// 1000, one send per STATE was 5000 wakeups a second on each side, and batches of 2 ms still
// 500, which cost a whole sync about 5% of its CPU on two cores (bench/RESULTS.md). Nothing
// waits on these lines sooner: counters go every second, and a port and the summary at once.
constexpr auto kGather = std::chrono::milliseconds(20);

void Warn(const std::string& relay, const std::string& message) {
  std::fprintf(stderr, "sluice-relay[%s] report channel: %s\n", relay.c_str(), message.c_str());
}

}  // namespace

ReportChannel::ReportChannel(Address orchestrator, std::string relay, std::string mode,
                             std::function<std::string()> counters)
    : orchestrator_(std::move(orchestrator)),
      relay_(std::move(relay)),
      mode_(std::move(mode)),
      counters_(std::move(counters)) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    stop_read_.reset(fds[0]);
    stop_write_.reset(fds[1]);
  }
}

ReportChannel::~ReportChannel() {
  const char c = 1;
  [[maybe_unused]] const ssize_t n = write(stop_write_.get(), &c, 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ReportChannel::Start(std::string secret) {
  thread_ = std::thread([this, s = std::move(secret)]() mutable { Run(std::move(s)); });
}

void ReportChannel::OnMessage(protocol::MessageType type, std::string_view line,
                              const protocol::StateEvent* state) {
  using protocol::MessageType;
  if (type != MessageType::kState && type != MessageType::kLog && type != MessageType::kTrace) {
    return;
  }
  if (type != MessageType::kState && line.size() > 4 * kMaxMessageBytes) {
    line = line.substr(0, 4 * kMaxMessageBytes);  // cut: its text is read as far as it parses
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (finishing_ || queue_.size() >= kMaxQueued || queued_bytes_ + line.size() > kMaxQueuedBytes) {
    ++dropped_;
    return;
  }
  Item& item = queue_.emplace_back();
  item.type = type;
  item.line.assign(line);
  if (state != nullptr) item.state = *state;
  queued_bytes_ += line.size();
  // The thread gathering a batch is not woken for each message, only to send before the queue
  // fills up.
  if (idle_ || queue_.size() == kMaxQueued / 2) cv_.notify_all();
}

void ReportChannel::Listening(uint16_t port) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finishing_) return;
  queue_.emplace_back().listening = port;
  urgent_ = true;
  cv_.notify_all();
}

void ReportChannel::Finish(const std::string& summary) {
  if (!thread_.joinable()) return;
  std::unique_lock<std::mutex> lock(mu_);
  Item& item = queue_.emplace_back();
  item.line = summary;
  item.summary = true;
  finishing_ = true;
  urgent_ = true;
  cv_.notify_all();
  if (!cv_.wait_for(lock, std::chrono::seconds(5), [this] { return done_; })) {
    Warn(relay_, "the orchestrator did not take the summary within 5 s");
  }
  lock.unlock();
  const char c = 1;
  [[maybe_unused]] const ssize_t n = write(stop_write_.get(), &c, 1);
  thread_.join();
}

void ReportChannel::ExpectPeer() { expect_peer_ = true; }

absl::StatusOr<std::string> ReportChannel::AwaitPeer(absl::Time deadline, int stop_fd) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (peer_) return *peer_;
    if (done_) {
      return RelayError(kExitConnectFailed,
                        "the report channel ended before the orchestrator named the peer (" +
                            (ended_why_.empty() ? std::string("it finished") : ended_why_) +
                            "): nothing to connect to");
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return RelayError(kExitConnectFailed,
                        "the orchestrator did not name the peer in time (see --connect-timeout)");
    }
    // The relay's stop pipe cannot wake a condition variable: look at it between short waits.
    cv_.wait_for(lock, std::chrono::milliseconds(20));
    if (stop_fd >= 0) {
      lock.unlock();
      const bool stopped = WaitFor(stop_fd, POLLIN, absl::Now(), -1);
      lock.lock();
      if (stopped) {
        return RelayError(kExitTerminated,
                          "terminated while waiting for the orchestrator to name the peer");
      }
    }
  }
}

bool ReportChannel::ReadPeer(int fd) {
  std::string pending;
  char buf[4096];
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finishing_) return true;  // the relay gave up first: its summary still goes
    }
    if (!WaitFor(fd, POLLIN, absl::Now() + absl::Milliseconds(100), stop_read_.get())) {
      if (WaitFor(stop_read_.get(), POLLIN, absl::Now(), -1)) {
        Ended("stopped while waiting for the orchestrator to name the peer");
        return false;
      }
      continue;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      Ended("the orchestrator closed the report channel before it named the peer");
      return false;
    }
    pending.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      // {"peer":{"address":"HOST:PORT"}}; other lines are for a later version of this relay.
      simdjson::dom::parser parser;
      std::string_view address;
      if (parser.parse(pending.data(), nl).at_pointer("/peer/address").get(address) !=
          simdjson::SUCCESS) {
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      peer_ = std::string(address);
      cv_.notify_all();
      return true;
    }
    if (pending.size() > 4096) {
      Ended("the orchestrator sent a line of more than 4 KiB where it should name the peer");
      return false;
    }
  }
}

std::string ReportChannel::Format(const Item& item) {
  using protocol::JsonString;
  if (item.listening) return "{\"listening\":{\"port\":" + std::to_string(*item.listening) + "}}\n";
  if (item.summary) {
    std::string s = item.line;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return "{\"summary\":" + s + "}\n";
  }
  if (item.type == protocol::MessageType::kState) {
    const std::optional<uint64_t> key = protocol::StateKey(item.line);
    std::string out = "{\"state\":{\"key\":" + (key ? std::to_string(*key) : "null");
    const protocol::StateEvent& e = *item.state;
    out += ",\"kind\":" + JsonString(protocol::StateKindName(e.kind));
    if (e.kind == protocol::StateKind::kStream) {
      out += ",\"stream\":" + (e.stream ? JsonString(e.stream->ToString()) : "null") +
             ",\"records\":" + std::to_string(e.stream_records);
    } else {
      out += ",\"records\":{";
      for (size_t i = 0; i < e.streams.size(); ++i) {
        out += (i > 0 ? "," : "") + JsonString(e.streams[i].first.ToString()) + ":" +
               std::to_string(e.streams[i].second);
      }
      out += "},\"untracked\":" + std::to_string(e.untracked_records);
    }
    return out + "}}\n";
  }
  const std::optional<protocol::ConnectorNote> note = protocol::ReadConnectorNote(item.line);
  if (!note) return {};
  const std::string message = JsonString(protocol::TruncateUtf8(note->message, kMaxMessageBytes));
  if (!note->error) {
    return "{\"log\":{\"level\":" + JsonString(note->level) + ",\"message\":" + message + "}}\n";
  }
  return "{\"trace\":{\"message\":" + message +
         ",\"failure_type\":" + JsonString(note->failure_type) + "}}\n";
}

void ReportChannel::Ended(const std::string& why) {
  if (!why.empty()) Warn(relay_, why);
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  ended_why_ = why;
  queue_.clear();
  cv_.notify_all();
}

void ReportChannel::Run(std::string secret) {
  auto fd = Connect(orchestrator_, absl::Now() + absl::Seconds(30), stop_read_.get());
  if (!fd.ok())
    return Ended("cannot reach the orchestrator: " + std::string(fd.status().message()));
  // Reports are small lines the orchestrator waits for (a listening port holds up the next
  // pod): Nagle's algorithm held each one until the previous was acknowledged, and delayed
  // acknowledgements made that about 40 ms a line.
  const int one = 1;
  setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  {
    const Secret key(std::move(secret));
    if (auto s = ClientHandshake(fd->get(), key, absl::Now() + absl::Seconds(10), stop_read_.get());
        !s.ok()) {
      return Ended("the orchestrator refused us: " + std::string(s.message()));
    }
  }
  const auto send = [&](const std::string& line) {
    if (line.empty()) return true;
    return SendAllBefore(fd->get(), line, absl::Now() + kSendTimeout, stop_read_.get()) == 0;
  };
  constexpr char kStopped[] =
      "the orchestrator stopped taking reports; the relay goes on without them";
  if (!send("{\"hello\":{\"relay\":" + protocol::JsonString(relay_) +
            ",\"mode\":" + protocol::JsonString(mode_) + "}}\n")) {
    return Ended(kStopped);
  }
  if (expect_peer_ && !ReadPeer(fd->get())) return;
  absl::Time next_counters = absl::Now();
  uint64_t dropped_sent = 0;
  for (;;) {
    std::deque<Item> batch;
    uint64_t dropped = 0;
    bool finishing = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const absl::Duration wait = std::max(next_counters - absl::Now(), absl::ZeroDuration());
      idle_ = true;
      cv_.wait_for(lock, std::chrono::nanoseconds(absl::ToInt64Nanoseconds(wait)),
                   [this] { return !queue_.empty() || finishing_; });
      idle_ = false;
      cv_.wait_for(lock, kGather, [this] {
        return queue_.empty() || urgent_ || finishing_ || queue_.size() >= kMaxQueued / 2;
      });
      urgent_ = false;
      batch.swap(queue_);
      queued_bytes_ = 0;
      dropped = dropped_;
      finishing = finishing_;
    }
    bool summary_sent = false;
    std::string lines;  // the batch, in one send
    // Counters first when due, and always before the summary: the last figures are then the
    // summary's.
    if (absl::Now() >= next_counters || finishing) {
      lines += "{\"counters\":" + counters_() + "}\n";
      next_counters = absl::Now() + absl::Seconds(1);
    }
    if (dropped != dropped_sent) {
      lines += "{\"dropped\":" + std::to_string(dropped) + "}\n";
      dropped_sent = dropped;
    }
    for (const Item& item : batch) {
      lines += Format(item);
      summary_sent |= item.summary;
    }
    if (!send(lines)) return Ended(kStopped);
    if (summary_sent) return Ended("");
  }
}

}  // namespace sluice::dataplane
