// Writes seed inputs for inspector_fuzzer into the directory named by argv[1]: generated
// message streams, each behind the fuzzer's 9-byte header. Besides lines in random shapes,
// runs of records in one shape per stream, as connectors write them: the inspector reads those
// by the prefix or the shape its slots kept (record_prefix.h, record_shape.h), and mutations of
// one line of a run are what must not fool that.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "protocol/testing/generator.h"
#include "protocol/testing/workload.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    sluice::protocol::testing::MessageGenerator gen(seed);
    std::string input(9, '\0');
    input[0] = static_cast<char>(seed);
    input[1] = static_cast<char>(seed * 31);
    for (int i = 0; i < 12; ++i) gen.AppendLine(&input);
    std::ofstream(std::string(argv[1]) + "/seed-" + std::to_string(seed), std::ios::binary)
        << input;
  }
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    sluice::protocol::testing::Workload w({.record_bytes = 60 + 20 * seed,
                                           .streams = 1 + seed % 3,
                                           .state_every = 4,
                                           .spaced = seed % 4 == 1,
                                           .sorted_keys = seed % 2 == 0,
                                           .ns = seed % 3 == 0 ? "" : "public"});
    std::string input(9, '\0');
    input[0] = static_cast<char>(seed * 7);
    input[1] = static_cast<char>(seed * 13);
    for (int i = 0; i < 10; ++i) w.AppendLine(&input);
    std::ofstream(std::string(argv[1]) + "/runs-" + std::to_string(seed), std::ios::binary)
        << input;
  }
  return 0;
}
