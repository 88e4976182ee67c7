// Progress heartbeats on the connection's back channel, so that a sender's deadlines measure
// the absence of progress, not elapsed time.
//
// When the source finishes, the sending relay has put its last bytes on the wire, yet a slow
// destination may need minutes to read the megabytes still in flight (socket buffers, the
// receiver's pipes). The sender cannot see that reading; the receiver can. So, on an
// authenticated connection, the receiving relay sends one byte (0x00) back to the sender
// every `interval` in which bytes moved: into its FIFO, or out of the FIFO to the connector.
// The sender reads that direction for the whole transfer (so the bytes never pile up) and
// gives up only when nothing moved for its whole timeout.
//
//   recv:  ProgressBeacon beacon(socket_fd, fifo_fd, pump_stats);   // until it goes out of scope
//   send:  PeerProgress progress(socket_fd, stop_fd);
//          ... pump ...
//          absl::Status s = progress.WaitForClose(linger_timeout);
//
// Both run one thread each, stopped and joined by their destructors. Their methods are
// thread-safe.

#ifndef SLUICE_DATAPLANE_HEARTBEAT_H_
#define SLUICE_DATAPLANE_HEARTBEAT_H_

#include <absl/status/status.h>
#include <absl/time/time.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "dataplane/engine.h"
#include "dataplane/unique_fd.h"

namespace sluice::dataplane {

// The bytes in a pipe not read yet (FIONREAD; either end of the pipe answers).
uint64_t PipeUnread(int pipe_fd);

// recv side: beats while the pump or the connector makes progress.
class ProgressBeacon {
 public:
  ProgressBeacon(int socket_fd, int fifo_fd, const PumpStats& stats,
                 absl::Duration interval = absl::Milliseconds(500));
  ~ProgressBeacon();
  ProgressBeacon(const ProgressBeacon&) = delete;
  ProgressBeacon& operator=(const ProgressBeacon&) = delete;

 private:
  void Run();

  const int socket_fd_;
  const int fifo_fd_;
  const PumpStats& stats_;
  const absl::Duration interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// send side: reads the receiver's heartbeats and notices its close.
class PeerProgress {
 public:
  PeerProgress(int socket_fd, int stop_fd);
  ~PeerProgress();
  PeerProgress(const PeerProgress&) = delete;
  PeerProgress& operator=(const PeerProgress&) = delete;

  // When the peer last showed progress, or `floor` if later.
  absl::Time LastProgress(absl::Time floor) const;

  // After the sender's half-close: OK once the peer closes the connection. kExitLingerTimeout
  // when no heartbeat came for `timeout`, kExitPeerLost on a reset, kExitTerminated on stop.
  absl::Status WaitForClose(absl::Duration timeout);

 private:
  void Run();

  const int socket_fd_;
  const int stop_fd_;
  UniqueFd wake_read_, wake_write_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  absl::Time last_ = absl::InfinitePast();  // guarded by mu_
  bool closed_ = false;                     // guarded by mu_
  bool stopped_ = false;                    // guarded by mu_
  int error_ = 0;                           // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_HEARTBEAT_H_
