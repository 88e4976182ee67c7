// Writes seed inputs for inspector_fuzzer into the directory named by argv[1]: generated
// message streams, each behind the fuzzer's 9-byte header.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "protocol/testing/generator.h"

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
  return 0;
}
