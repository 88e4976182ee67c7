// sluice-inspect: the protocol inspector on a file or stdin. Prints the per-stream table, and
// with --json the full statistics as JSON.
//
//   my-source read --config c.json --catalog cat.json | sluice-inspect --json=stats.json

#include <absl/flags/flag.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/flags.h"
#include "protocol/inspector.h"
#include "protocol/report.h"

ABSL_FLAG(std::string, json, "", "also write the statistics as JSON to this file ('-': stdout)");
ABSL_FLAG(uint64_t, max_line_bytes, sluice::protocol::InspectorOptions{}.max_line_bytes,
          "lines longer than this are oversize (followed in constant memory)");

int main(int argc, char** argv) {
  constexpr char kUsage[] = "usage: sluice-inspect [FILE] [--json=OUT] [--max-line-bytes=N]\n";
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const auto parsed = sluice::base::ParseFlags(argc, argv, 1, {"json", "max_line_bytes"});
  if (!parsed.ok() || parsed->positional.size() > 1) {
    std::fprintf(stderr, "sluice-inspect: %s\n%s",
                 parsed.ok() ? "one input file at most (or stdin)"
                             : std::string(parsed.status().message()).c_str(),
                 kUsage);
    return 2;
  }
  int fd = STDIN_FILENO;
  if (!parsed->positional.empty()) {
    const char* file = parsed->positional[0].c_str();
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "sluice-inspect: cannot open %s: %s\n", file, std::strerror(errno));
      return 1;
    }
  }
  sluice::protocol::InspectorOptions options;
  options.max_line_bytes = absl::GetFlag(FLAGS_max_line_bytes);
  sluice::protocol::Inspector inspector(options);
  // 64 KiB reads, not 1 MiB: the kernel's copy and then the parse find their bytes in cache
  // (1 GiB of 200 B records from tmpfs: 1.2 s -> 0.5 s; bench/RESULTS.md).
  constexpr size_t kBuf = 64 << 10;
  auto buf = std::make_unique<char[]>(kBuf);
  for (;;) {
    const ssize_t n = read(fd, buf.get(), kBuf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "sluice-inspect: read: %s\n", std::strerror(errno));
      return 1;
    }
    if (n == 0) break;
    inspector.Consume(std::string_view(buf.get(), static_cast<size_t>(n)));
  }
  inspector.Finish();
  const sluice::protocol::InspectorStats stats = inspector.Snapshot();
  std::fputs(sluice::protocol::FormatTable(stats).c_str(), stdout);
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    const std::string json = sluice::protocol::FormatJson(stats) + "\n";
    if (path == "-") {
      std::fputs(json.c_str(), stdout);
    } else if (!(std::ofstream(path) << json)) {
      std::fprintf(stderr, "sluice-inspect: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
