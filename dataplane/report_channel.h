// The relay's live channel to the orchestrator: its counters every second, the connector's
// messages as they pass, and its final summary, over one TCP connection authenticated with the
// sync's secret (the handshake of dataplane/auth.h, the relay as the client). It works wherever
// the pods run, as long as they reach the orchestrator; nothing goes through files.
//
// Wire, after the handshake: JSON lines, relay -> orchestrator, and one line the other way
// for a relay that connects to a peer whose address is not known when it starts:
//
//   orchestrator -> relay:
//   {"peer":{"address":"HOST:PORT"}}                where to connect (ExpectPeer, AwaitPeer)
//
//   relay -> orchestrator:
//   {"hello":{"relay":NAME,"mode":"send"|"recv"}}
//   {"listening":{"port":N}}                        a listening relay's bound port (on a host
//                                                   network the kernel picks it: the peer's
//                                                   address comes from here)
//   {"counters":{"bytes":N,"input_wait_seconds":S,"output_wait_seconds":S,
//                "streams":{"ns.name":{"records":N,"bytes":N},...}}}   every second; a stream
//                                                   appears when its counts changed
//   {"state":{"key":K,"kind":"STREAM","stream":"ns.name","records":N}}   what a STATE covers
//   {"state":{"key":K,"kind":"GLOBAL"|"LEGACY","records":{"ns.name":N,...},"untracked":N}}
//   {"log":{"level":"INFO","message":"..."}}         the connector's LOG messages
//   {"trace":{"message":"...","failure_type":"..."}}  its TRACE errors
//   {"dropped":N}                                   events the queue had no room for
//   {"summary":{...}}                               last: the relay's summary (as --summary)
//
// K is protocol::StateKey of the STATE's line. Never in the way of the data: the data path only
// copies a message into a bounded queue; a full queue drops it and counts it, a channel that
// cannot connect or stalls is given up (the relay's own work goes on), except by a relay that
// waits for its peer's address here (--connect-reported): without it, that relay has nowhere
// to connect, and fails. Messages are sent in batches, at most 20 ms after the first of each (a
// STATE every 1000 records is thousands a second); a port and the summary go at once.
//
//   ReportChannel channel(address, "source", "send", counters);
//   options.observer = &channel;             // the inspector hands it the messages
//   channel.Start(secret);                   // once the secret is loaded
//   ...
//   channel.Finish(summary_json);            // sends the summary, waits at most 5 s, closes
//
// Thread-safe: OnMessage on the data path, the rest from the relay's main thread.

#ifndef SLUICE_DATAPLANE_REPORT_CHANNEL_H_
#define SLUICE_DATAPLANE_REPORT_CHANNEL_H_

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "dataplane/auth.h"
#include "dataplane/net.h"
#include "protocol/inspector.h"

namespace sluice::dataplane {

class ReportChannel final : public protocol::InspectorObserver {
 public:
  // `counters` renders the "counters" object; called on the channel's thread.
  ReportChannel(Address orchestrator, std::string relay, std::string mode,
                std::function<std::string()> counters);
  ~ReportChannel() override;
  ReportChannel(const ReportChannel&) = delete;
  ReportChannel& operator=(const ReportChannel&) = delete;

  // Before Start: the orchestrator will name this relay's peer on the channel. The channel
  // then reads that line before it reports anything but its hello.
  void ExpectPeer();

  // Connects (retrying for up to 30 s) and authenticates on its own thread, then reports.
  void Start(std::string secret);

  // After ExpectPeer and Start: the peer's address as the orchestrator named it. An error when
  // the channel ended first (it says why), at `deadline`, or when `stop_fd` becomes readable.
  absl::StatusOr<std::string> AwaitPeer(absl::Time deadline, int stop_fd);

  void OnMessage(protocol::MessageType type, std::string_view line,
                 const protocol::StateEvent* state) override;

  // Reports the port a listening relay bound. Never dropped.
  void Listening(uint16_t port);

  // Sends what is queued and then `summary`, within 5 s; closes the connection.
  void Finish(const std::string& summary);

 private:
  // A message as the data path hands it over; formatted into a line on the channel's thread.
  struct Item {
    protocol::MessageType type = protocol::MessageType::kLog;
    std::string line;  // the message's line, or the summary
    std::optional<protocol::StateEvent> state;
    bool summary = false;
    std::optional<uint16_t> listening;
  };

  void Run(std::string secret);
  // Reads lines from the orchestrator until it names the peer. False when the channel ended.
  bool ReadPeer(int fd);
  void Ended(const std::string& why);
  static std::string Format(const Item& item);

  const Address orchestrator_;
  const std::string relay_, mode_;
  const std::function<std::string()> counters_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;         // guarded by mu_
  size_t queued_bytes_ = 0;        // guarded by mu_
  uint64_t dropped_ = 0;           // guarded by mu_
  bool finishing_ = false;         // guarded by mu_
  bool done_ = false;              // guarded by mu_: the thread has ended
  bool idle_ = false;              // guarded by mu_: the thread waits for a first item
  bool urgent_ = false;            // guarded by mu_: a port is queued, or the summary
  bool expect_peer_ = false;       // set before the thread starts
  std::optional<std::string> peer_;  // guarded by mu_: as the orchestrator named it
  std::string ended_why_;            // guarded by mu_: why the thread ended early, for AwaitPeer
  UniqueFd stop_read_, stop_write_;
  std::thread thread_;
};

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_REPORT_CHANNEL_H_
