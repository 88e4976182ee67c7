// Small file helpers shared by the relay and the orchestrator.
//
//   if (auto s = WriteFileAtomically("summary.json", json); !s.ok()) ...

#ifndef SLUICE_BASE_FILES_H_
#define SLUICE_BASE_FILES_H_

#include <absl/status/status.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>

namespace sluice::base {

// Writes `content` to `path` through `path`.tmp, an fsync and a rename, so a reader sees the old
// file or the whole new one, never a part, even after a crash. The file gets `mode` (0600 for
// secrets). The error names the file and the cause.
absl::Status WriteFileAtomically(const std::string& path, const std::string& content,
                                 mode_t mode = 0644);

// Creates `path` and its missing parents; then gives `path` itself `mode`, when one is given
// (otherwise it keeps what the umask left). The error names the directory.
absl::Status MakeDirectories(const std::string& path, std::optional<mode_t> mode = std::nullopt);

// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

// The last `lines` lines of `text` (all of it when it has fewer).
std::string LastLines(const std::string& text, size_t lines);

}  // namespace sluice::base

#endif  // SLUICE_BASE_FILES_H_
