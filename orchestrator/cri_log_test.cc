#include "orchestrator/cri_log.h"

#include <gtest/gtest.h>

namespace sluice::orchestrator {
namespace {

TEST(CriLogTest, LinesAndPiecesOfBothStreamsInTheOrderWritten) {
  EXPECT_EQ(CriLogText("2026-11-26T18:40:09.1+00:00 stdout F {\"type\":\"LOG\"}\n"
                       "2026-11-26T18:40:09.2+00:00 stderr P a long line \n"
                       "2026-11-26T18:40:09.3+00:00 stderr P in three\n"
                       "2026-11-26T18:40:09.4+00:00 stderr F  pieces\n"
                       "2026-11-26T18:40:09.5+00:00 stdout F \n"
                       "2026-11-26T18:40:09.6+00:00 stdout F F P stdout  two  spaces\n"),
            "{\"type\":\"LOG\"}\n"
            "a long line in three pieces\n"
            "\n"
            "F P stdout  two  spaces\n");
  EXPECT_EQ(CriLogText(""), "");
  // The last piece of output, not yet ended by a newline.
  EXPECT_EQ(CriLogText("2026-11-26T18:40:09.1+00:00 stdout P no end yet\n"), "no end yet");
}

TEST(CriLogTest, AnythingElseIsNotTakenForALog) {
  for (const char* log :
       {"plain text\n", "2026-11-26T18:40:09.1+00:00 stdout F cut off",
        "2026-11-26T18:40:09.1+00:00 stdin F x\n", "2026-11-26T18:40:09.1+00:00 stdout X x\n",
        "2026-11-26T18:40:09.1+00:00 stdout Fx\n", " stdout F x\n",
        "{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"...\"}\n"}) {
    EXPECT_EQ(CriLogText(log), std::nullopt) << log;
  }
}

}  // namespace
}  // namespace sluice::orchestrator
