#include "dataplane/relay_error.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace sluice::dataplane {
namespace {

TEST(RelayErrorTest, TheExitCodeTravelsWithACanonicalCodeThatMeansTheSame) {
  const struct {
    ExitCode exit;
    absl::StatusCode canonical;
  } cases[] = {
      {kExitUsage, absl::StatusCode::kInvalidArgument},
      {kExitFifo, absl::StatusCode::kFailedPrecondition},
      {kExitConnectFailed, absl::StatusCode::kUnavailable},
      {kExitNoPeer, absl::StatusCode::kDeadlineExceeded},
      {kExitAuthFailed, absl::StatusCode::kUnauthenticated},
      {kExitPeerLost, absl::StatusCode::kUnavailable},
      {kExitReaderGone, absl::StatusCode::kFailedPrecondition},
      {kExitLingerTimeout, absl::StatusCode::kDeadlineExceeded},
      {kExitIo, absl::StatusCode::kInternal},
      {kExitTerminated, absl::StatusCode::kCancelled},
  };
  for (const auto& c : cases) {
    const absl::Status s = RelayError(c.exit, "what happened");
    EXPECT_EQ(s.code(), c.canonical) << c.exit;
    EXPECT_EQ(ExitCodeOf(s), c.exit);
    EXPECT_EQ(s.message(), "what happened");
  }
}

TEST(RelayErrorTest, ErrnoTextIsAppendedAndOtherStatusesAreIo) {
  EXPECT_EQ(ErrnoError(kExitFifo, "open /pipes/stdout", ENOENT).message(),
            "open /pipes/stdout: No such file or directory");
  EXPECT_EQ(ExitCodeOf(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeOf(absl::InternalError("not ours")), kExitIo);
}

}  // namespace
}  // namespace sluice::dataplane
