// Command lines parsed with absl flags, the project's one flag library, in the form Sluice's
// tools document: `--flag-name=VALUE` or `--flag-name VALUE` (dashes and underscores alike),
// booleans bare (`--no-inspect`) or `=true|false`, positional arguments anywhere. Unlike
// absl::ParseCommandLine, which exits 1, a mistake is returned: each tool exits with its own
// usage code and says what is wrong.
//
//   ABSL_FLAG(std::string, fifo, "", "the FIFO");         // --fifo=PATH
//   auto parsed = base::ParseFlags(argc, argv, 2, {"fifo", "name"});   // after the mode
//   if (!parsed.ok()) return Usage(parsed.status().message());
//   std::string fifo = absl::GetFlag(FLAGS_fifo);
//
// Not thread-safe (it sets global flags): call it once, from main.

#ifndef SLUICE_BASE_FLAGS_H_
#define SLUICE_BASE_FLAGS_H_

#include <absl/status/statusor.h>

#include <set>
#include <string>
#include <vector>

namespace sluice::base {

struct ParsedFlags {
  std::vector<std::string> positional;
  std::set<std::string> set;  // the flags given, by their absl name (underscores)
};

// Parses argv[first..argc). Only the flags named in `allowed` (absl names) are accepted: a tool
// with modes takes each mode's own.
absl::StatusOr<ParsedFlags> ParseFlags(int argc, char** argv, int first,
                                       const std::set<std::string>& allowed);

}  // namespace sluice::base

#endif  // SLUICE_BASE_FLAGS_H_
