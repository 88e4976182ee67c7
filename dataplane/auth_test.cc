#include "dataplane/auth.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "dataplane/relay_error.h"
#include "dataplane/unique_fd.h"

namespace sluice::dataplane {
namespace {

struct Outcome {
  absl::Status client;
  absl::Status server;
};

Outcome Handshake(const std::string& client_secret, const std::string& server_secret) {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  Secret cs(client_secret), ss(server_secret);
  Outcome o;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  std::thread server([&] {
    o.server = ServerHandshake(b.get(), ss, deadline, -1);
    if (!o.server.ok()) b.reset();  // a refusing server closes without a reply
  });
  o.client = ClientHandshake(a.get(), cs, deadline, -1);
  if (!o.client.ok()) a.reset();  // as the relay does: a failed handshake closes
  server.join();
  return o;
}

TEST(AuthTest, SameSecretOnBothSidesIsAccepted) {
  const Outcome o = Handshake("0123456789abcdef-secret", "0123456789abcdef-secret");
  EXPECT_TRUE(o.client.ok()) << o.client;
  EXPECT_TRUE(o.server.ok()) << o.server;
}

TEST(AuthTest, DifferentSecretsFailOnBothSides) {
  const Outcome o = Handshake("0123456789abcdef-secret", "0123456789abcdef-other!");
  EXPECT_EQ(ExitCodeOf(o.client), kExitAuthFailed) << o.client;
  EXPECT_EQ(ExitCodeOf(o.server), kExitAuthFailed) << o.server;
}

TEST(AuthTest, APlainPeerIsRefusedBeforeAnyPayload) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  const std::string payload = "{\"type\":\"RECORD\",\"record\":{\"stream\":\"s\",\"data\":{}}}\n";
  ASSERT_EQ(write(a.get(), payload.data(), payload.size()), static_cast<ssize_t>(payload.size()));
  Secret s("0123456789abcdef-secret");
  const absl::Status st = ServerHandshake(b.get(), s, absl::Now() + absl::Seconds(2), -1);
  EXPECT_EQ(ExitCodeOf(st), kExitAuthFailed);
  EXPECT_NE(st.message().find("handshake"), std::string::npos) << st;
}

// The end marker changed with version 2: a relay of version 1 would take its bytes for payload.
TEST(AuthTest, APeerOfAnotherVersionIsRefusedSayingSo) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  const std::string hello = "SLUICE/1\n" + std::string(32, 'n');
  ASSERT_EQ(write(a.get(), hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
  Secret s("0123456789abcdef-secret");
  const absl::Status st = ServerHandshake(b.get(), s, absl::Now() + absl::Seconds(2), -1);
  EXPECT_EQ(ExitCodeOf(st), kExitAuthFailed);
  EXPECT_NE(st.message().find("the peer speaks SLUICE/1 and this side SLUICE/2"), std::string::npos)
      << st;
}

TEST(AuthTest, SecretErrorsNeverShowTheSecret) {
  setenv("SLUICE_TEST_SHORT_SECRET", "tooshort", 1);
  auto s = LoadSecret("", "SLUICE_TEST_SHORT_SECRET");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().find("tooshort"), std::string::npos) << s.status();
  EXPECT_NE(s.status().message().find("SLUICE_TEST_SHORT_SECRET"), std::string::npos);
  EXPECT_FALSE(LoadSecret("", "SLUICE_TEST_UNSET_VARIABLE").ok());
}

}  // namespace
}  // namespace sluice::dataplane
