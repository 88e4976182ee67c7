#include "orchestrator/cri_log.h"

namespace sluice::orchestrator {

std::optional<std::string> CriLogText(std::string_view log) {
  std::string text;
  text.reserve(log.size());
  while (!log.empty()) {
    const size_t nl = log.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // a runtime writes whole lines
    std::string_view line = log.substr(0, nl);
    log.remove_prefix(nl + 1);
    // TIME, then STREAM: neither is empty, and TIME has no space.
    const size_t time_end = line.find(' ');
    if (time_end == 0 || time_end == std::string_view::npos) return std::nullopt;
    line.remove_prefix(time_end + 1);
    if (line.starts_with("stdout ")) {
      line.remove_prefix(7);
    } else if (line.starts_with("stderr ")) {
      line.remove_prefix(7);
    } else {
      return std::nullopt;
    }
    // TAG, then one space and the text (the space is there even when the text is empty).
    if (line.size() < 2 || (line[0] != 'F' && line[0] != 'P') || line[1] != ' ') {
      if (line != "F" && line != "P") return std::nullopt;
    }
    const bool full = line[0] == 'F';
    text.append(line.size() > 2 ? line.substr(2) : std::string_view());
    if (full) text.push_back('\n');
  }
  return text;
}

}  // namespace sluice::orchestrator
