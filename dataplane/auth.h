// The handshake that proves both ends hold the sync's secret before any payload byte moves.
//
// Wire format (the connecting side is the client, whatever the direction of the data):
//   client -> server: "SLUICE/2\n" client_nonce[32]
//   server -> client: "SLUICE/2\n" server_nonce[32] HMAC-SHA256(secret, "server" client_nonce
//   server_nonce) client -> server: HMAC-SHA256(secret, "client" server_nonce client_nonce) server
//   -> client: 0x01 (accepted)
// The version is that of everything after the handshake: 2 since the end marker carries the
// payload's checksum (dataplane/end_marker.h). A peer of another version is refused with an
// error that names both. A side whose check fails closes the connection without a reply. Nonces
// come from the OpenSSL RNG; proofs are compared in constant time. The secret is never sent, logged
// or exported.
//
//   absl::Status s = ServerHandshake(fd, secret, absl::Now() + absl::Seconds(10), stop_fd);

#ifndef SLUICE_DATAPLANE_AUTH_H_
#define SLUICE_DATAPLANE_AUTH_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <string>

namespace sluice::dataplane {

// A secret held in memory and wiped on destruction.
class Secret {
 public:
  explicit Secret(std::string bytes) : bytes_(std::move(bytes)) {}
  ~Secret();
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// Reads the secret from a file (trailing newline dropped) or from an environment variable.
// Errors name the source, never the content.
absl::StatusOr<std::unique_ptr<Secret>> LoadSecret(const std::string& file, const std::string& env);

// Both return kExitAuthFailed when the peer's proof is wrong or missing, kExitPeerLost when the
// connection drops, kExitTerminated on stop. `fd` is a blocking stream socket.
absl::Status ClientHandshake(int fd, const Secret& secret, absl::Time deadline, int stop_fd);
absl::Status ServerHandshake(int fd, const Secret& secret, absl::Time deadline, int stop_fd);

}  // namespace sluice::dataplane

#endif  // SLUICE_DATAPLANE_AUTH_H_
