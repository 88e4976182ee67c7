#include "base/flags.h"

#include <absl/flags/commandlineflag.h>
#include <absl/flags/reflection.h>
#include <absl/status/status.h>
#include <absl/strings/str_cat.h>

#include <algorithm>

namespace sluice::base {

absl::StatusOr<ParsedFlags> ParseFlags(int argc, char** argv, int first,
                                       const std::set<std::string>& allowed) {
  ParsedFlags parsed;
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      parsed.positional.push_back(arg);
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string written = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string name = written;
    std::replace(name.begin(), name.end(), '-', '_');
    absl::CommandLineFlag* flag =
        allowed.contains(name) ? absl::FindCommandLineFlag(name) : nullptr;
    if (flag == nullptr)
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", written));
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", written, " needs a value"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("--", written, "=", value, ": ", error));
    }
    parsed.set.insert(name);
  }
  return parsed;
}

}  // namespace sluice::base
