// The relay's engines: interchangeable ways to move bytes from one fd to another, chosen at
// start-up, with the reason logged and exported.
//
//   uring   io_uring: readiness from IORING_OP_POLL_ADD completions, bytes moved by splice(2)
//           and tee(2) from the ring's thread (see bench/RESULTS.md for why not
//           IORING_OP_SPLICE).
//   splice  epoll readiness, splice(2)/tee(2). Chosen to send, and to receive when io_uring is
//           blocked (EPERM, ENOSYS, EINVAL from io_uring_setup: container seccomp profiles,
//           gVisor, kernel.io_uring_disabled).
//   copy    epoll readiness, read(2)/write(2) through a 1 MiB buffer: where neither end is a
//           pipe.
//
// Zero copy with inspection, in the splice engines: the socket path never enters user space.
// The inspector reads a copy taken with tee(2) into a side pipe (from a FIFO), or teed from the
// intermediate pipe that socket bytes are spliced into (from a socket), 64 KiB at a time. The
// copy engine hands the inspector the buffer the bytes pass through. Memory is bounded by the
// pipes (1 MiB each) and one buffer (64 KiB; 1 MiB for copy), whatever the speeds of the two
// ends.
//
//   std::string reason;
//   auto engine = CreateEngine(EngineKind::kAuto, Route::kSocketToPipe, {}, &reason);
//   absl::Status s = (*engine)->Pump(in, out, &tap, stats, stop_fd);

#ifndef SLUICE_DATAPLANE_ENGINE_H_
#define SLUICE_DATAPLANE_ENGINE_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::dataplane {

struct Endpoint {
  int fd = -1;
  bool is_pipe = false;  // a FIFO or pipe: can be a splice/tee end
  bool is_socket = false;
  std::string_view name;  // for messages: "the FIFO /pipes/stdout", "the peer 10.0.0.2:9001"
};

// Receives a copy of every byte, in order. Called on the pump's thread.
using Tap = std::function<void(std::string_view)>;

// Updated by the pump as it runs; readable from any thread.
struct PumpStats {
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> input_wait_ns{0};   // blocked waiting for the input to have bytes
  std::atomic<uint64_t> output_wait_ns{0};  // blocked waiting for the output to take bytes
  std::atomic<uint64_t> transfers{0};       // splice/write calls that moved bytes
};

struct PumpOptions {
  size_t pipe_bytes = 1 << 20;  // F_SETPIPE_SZ for every pipe we own or read
  absl::Duration drain_timeout =
      absl::Seconds(10);  // after stop: how long to flush in-flight bytes
};

// Bytes at the very end of the input that are not payload (the sender's end marker): the pump
// keeps the last `bytes` of the input back from the output and the tap, and hands them over at
// EOF. Only for inputs that are not pipes.
struct Holdback {
  size_t bytes = 0;
  std::string held;  // at EOF: the last min(bytes, input size) bytes of the input
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;

  // Moves every byte from `in` to `out` until EOF on `in`; `tap` (may be null) sees them all.
  // On `stop_fd` becoming readable, bytes already taken from `in` are delivered (within
  // drain_timeout) and kExitTerminated is returned. Not thread-safe: one pump at a time.
  // `holdback` may be null.
  virtual absl::Status Pump(const Endpoint& in, const Endpoint& out, const Tap* tap,
                            PumpStats& stats, int stop_fd, Holdback* holdback = nullptr) = 0;
};

// What a pump connects: "auto" chooses by it.
enum class Route {
  kPipeToSocket,  // send: FIFO -> TCP
  kSocketToPipe,  // recv: TCP -> FIFO
  kNoPipe,        // neither end is a pipe: nothing can be spliced
};

// The engines by name. Parsed and named here only: flags and specs call these.
enum class EngineKind { kAuto, kUring, kSplice, kCopy, kUringOps };
// "auto", "uring", "splice", "copy" or "uring-ops"; nothing for any other text.
std::optional<EngineKind> ParseEngineKind(std::string_view text);
std::string_view EngineKindName(EngineKind kind);
// What a user may choose, for messages: "auto, uring, splice or copy" (uring-ops is there for
// measurement, not advertised).
inline constexpr std::string_view kEngineChoices = "auto, uring, splice or copy";

// Creates the engine `requested`. `reason` says why this engine was chosen (or why the
// requested one is unavailable).
//
// "auto" picks by measurement (bench/RESULTS.md), not by principle:
//   kSocketToPipe  uring, else splice: splicing socket -> pipe beats read/write by 1.7x.
//   kPipeToSocket  splice, tee for the inspector: on loopback it spends 0.6x the CPU per GB of
//                  read/write into the socket and moves 1.2x the bytes, across a veth pair 0.7x
//                  for the same throughput. (Until the inspector's reads of the teed bytes were
//                  cut to 64 KiB, read/write won on loopback.)
//   kNoPipe        copy.
absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(EngineKind requested, Route route,
                                                     PumpOptions options, std::string* reason);

// Whether io_uring can be set up here; on false, `why` holds the errno text.
bool IoUringAvailable(std::string* why);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_ENGINE_H_
