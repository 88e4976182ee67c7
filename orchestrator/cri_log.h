// Container logs in the CRI format that podman's k8s-file driver (and the kubelet) write: one
// line per piece of output, "TIME STREAM TAG TEXT", where STREAM is stdout or stderr and TAG is
// F for the end of a line or P for a piece of a longer one.
//
//   2026-11-26T18:40:09.143167256+00:00 stderr P a line longer than the runtime's buffer is
//   2026-11-26T18:40:09.143167300+00:00 stderr F  written in pieces
//
//   std::optional<std::string> text = CriLogText(base::ReadFile(path));
//   // "a line longer than the runtime's buffer is written in pieces\n"

#ifndef SLUICE_ORCHESTRATOR_CRI_LOG_H_
#define SLUICE_ORCHESTRATOR_CRI_LOG_H_

#include <optional>
#include <string>
#include <string_view>

namespace sluice::orchestrator {

// What the container wrote, both streams in the order written, as `podman logs` prints it.
// nullopt when a line of `log` is not in the format (the caller then asks podman instead).
std::optional<std::string> CriLogText(std::string_view log);

}  // namespace sluice::orchestrator

#endif  // SLUICE_ORCHESTRATOR_CRI_LOG_H_
