#include "dataplane/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "dataplane/net.h"
#include "dataplane/relay_error.h"

namespace sluice::dataplane {
namespace {

constexpr std::string_view kMagic = "SLUICE/2\n";
// "SLUICE/": what every version's magic starts with, before its number.
constexpr size_t kMagicName = kMagic.find('/') + 1;
constexpr size_t kNonce = 32;
constexpr size_t kMac = 32;
using Nonce = std::array<unsigned char, kNonce>;
using Mac = std::array<unsigned char, kMac>;

Mac Proof(const Secret& secret, std::string_view role, const Nonce& a, const Nonce& b) {
  std::string message(role);
  message.append(reinterpret_cast<const char*>(a.data()), a.size());
  message.append(reinterpret_cast<const char*>(b.data()), b.size());
  Mac mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.bytes().data(), static_cast<int>(secret.bytes().size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(), &len);
  return mac;
}

absl::Status SendAll(int fd, const void* data, size_t n, absl::Time deadline, int stop_fd) {
  const int err =
      SendAllBefore(fd, std::string_view(static_cast<const char*>(data), n), deadline, stop_fd);
  if (err == ETIMEDOUT) return RelayError(kExitAuthFailed, "handshake timed out while sending");
  if (err != 0) return ErrnoError(kExitPeerLost, "handshake send", err);
  return absl::OkStatus();
}

absl::Status RecvAll(int fd, void* data, size_t n, absl::Time deadline, int stop_fd) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    if (!WaitFor(fd, POLLIN, deadline, stop_fd)) {
      return RelayError(kExitAuthFailed, "handshake timed out: the peer did not answer in time");
    }
    const ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) return ErrnoError(kExitPeerLost, "handshake receive", errno);
    if (r == 0) {
      return RelayError(kExitAuthFailed,
                        "the peer closed the connection during the handshake (wrong secret, or "
                        "a peer without authentication)");
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

absl::Status CheckMagic(const std::array<char, kMagic.size()>& got) {
  const std::string_view magic(got.data(), got.size());
  if (magic != kMagic && magic.substr(0, kMagicName) == kMagic.substr(0, kMagicName) &&
      magic.back() == '\n') {
    return RelayError(kExitAuthFailed,
                      "the peer speaks " + std::string(magic.substr(0, magic.size() - 1)) +
                          " and this side " + std::string(kMagic.substr(0, kMagic.size() - 1)) +
                          ": run the same sluice-relay version at both ends");
  }
  if (magic != kMagic) {
    return RelayError(kExitAuthFailed,
                      "the peer does not speak the sluice handshake (a plain TCP peer? use "
                      "--insecure-no-auth only for such interop)");
  }
  return absl::OkStatus();
}

}  // namespace

Secret::~Secret() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

absl::StatusOr<std::unique_ptr<Secret>> LoadSecret(const std::string& file,
                                                   const std::string& env) {
  std::string bytes;
  if (!file.empty()) {
    // As ssh does with keys: a secret others can read is no secret.
    struct stat st {};
    if (stat(file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
      return RelayError(kExitUsage, "the secret file " + file + " has mode " + mode +
                                        ": it must not be accessible to group or others "
                                        "(chmod 600 it; in a Kubernetes Secret volume, "
                                        "defaultMode: 0400)");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return RelayError(kExitUsage, "cannot read the secret file " + file);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
    while (!bytes.empty() && (bytes.back() == '\n' || bytes.back() == '\r')) bytes.pop_back();
  } else {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) {
      return RelayError(kExitUsage,
                        "the secret variable " + env +
                            " is not set (or pass --secret-file, or --insecure-no-auth)");
    }
    bytes = value;
  }
  if (bytes.size() < 16) {
    return RelayError(kExitUsage, "the secret from " + (file.empty() ? env : file) +
                                      " is shorter than 16 bytes: use a random one");
  }
  return std::make_unique<Secret>(std::move(bytes));
}

absl::Status ClientHandshake(int fd, const Secret& secret, absl::Time deadline, int stop_fd) {
  Nonce mine{}, theirs{};
  RAND_bytes(mine.data(), kNonce);
  std::string hello(kMagic);
  hello.append(reinterpret_cast<const char*>(mine.data()), kNonce);
  if (auto s = SendAll(fd, hello.data(), hello.size(), deadline, stop_fd); !s.ok()) return s;
  std::array<char, kMagic.size()> magic{};
  Mac server_proof{};
  if (auto s = RecvAll(fd, magic.data(), magic.size(), deadline, stop_fd); !s.ok()) return s;
  if (auto s = CheckMagic(magic); !s.ok()) return s;
  if (auto s = RecvAll(fd, theirs.data(), kNonce, deadline, stop_fd); !s.ok()) return s;
  if (auto s = RecvAll(fd, server_proof.data(), kMac, deadline, stop_fd); !s.ok()) return s;
  const Mac expected = Proof(secret, "server", mine, theirs);
  if (CRYPTO_memcmp(expected.data(), server_proof.data(), kMac) != 0) {
    return RelayError(kExitAuthFailed, "the server did not prove the shared secret");
  }
  const Mac proof = Proof(secret, "client", theirs, mine);
  if (auto s = SendAll(fd, proof.data(), kMac, deadline, stop_fd); !s.ok()) return s;
  unsigned char accepted = 0;
  if (auto s = RecvAll(fd, &accepted, 1, deadline, stop_fd); !s.ok()) {
    return RelayError(kExitAuthFailed, "the server refused our proof of the shared secret");
  }
  if (accepted != 1) return RelayError(kExitAuthFailed, "the server refused the handshake");
  return absl::OkStatus();
}

absl::Status ServerHandshake(int fd, const Secret& secret, absl::Time deadline, int stop_fd) {
  std::array<char, kMagic.size()> magic{};
  Nonce mine{}, theirs{};
  if (auto s = RecvAll(fd, magic.data(), magic.size(), deadline, stop_fd); !s.ok()) return s;
  if (auto s = CheckMagic(magic); !s.ok()) return s;
  if (auto s = RecvAll(fd, theirs.data(), kNonce, deadline, stop_fd); !s.ok()) return s;
  RAND_bytes(mine.data(), kNonce);
  const Mac proof = Proof(secret, "server", theirs, mine);
  std::string reply(kMagic);
  reply.append(reinterpret_cast<const char*>(mine.data()), kNonce);
  reply.append(reinterpret_cast<const char*>(proof.data()), kMac);
  if (auto s = SendAll(fd, reply.data(), reply.size(), deadline, stop_fd); !s.ok()) return s;
  Mac client_proof{};
  if (auto s = RecvAll(fd, client_proof.data(), kMac, deadline, stop_fd); !s.ok()) return s;
  const Mac expected = Proof(secret, "client", mine, theirs);
  if (CRYPTO_memcmp(expected.data(), client_proof.data(), kMac) != 0) {
    return RelayError(kExitAuthFailed, "the client did not prove the shared secret");
  }
  const unsigned char accepted = 1;
  return SendAll(fd, &accepted, 1, deadline, stop_fd);
}

}  // namespace sluice::dataplane
