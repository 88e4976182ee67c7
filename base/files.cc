#include "base/files.h"

#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::base {

absl::Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const auto failed = [](const std::string& what, const std::string& file) {
    return absl::UnavailableError(
        absl::StrCat("cannot ", what, " ", file, ": ", std::strerror(errno),
                     " (check that its directory exists and is writable)"));
  };
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return failed("create", tmp);
  fchmod(fd, mode);  // a .tmp left by a crash keeps the mode it was created with
  for (size_t done = 0; done < content.size();) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status s = failed("write", tmp);  // ENOSPC: a full disk ends here
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  // On disk before it replaces the old file: a committed state must survive a machine crash.
  if (fsync(fd) != 0) {
    const absl::Status s = failed("sync", tmp);
    close(fd);
    unlink(tmp.c_str());
    return s;
  }
  if (close(fd) != 0) return failed("write", tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) return failed("rename into", path);
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& path, std::optional<mode_t> mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", path, ": ", ec.message()));
  if (mode) chmod(path.c_str(), *mode);
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string LastLines(const std::string& text, size_t lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;  // the final newline ends the last line
  for (size_t n = 0; n < lines; ++n) {
    pos = pos == 0 ? std::string::npos : text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

}  // namespace sluice::base
