#include "orchestrator/connector.h"

#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/files.h"
#include "protocol/connector_note.h"

namespace sluice::orchestrator {

absl::StatusOr<ConnectorCall> PlanConnectorCall(const ConnectorSpec& connector,
                                                std::string_view verb, const std::string& dir,
                                                const ConnectorInputs& inputs) {
  ConnectorCall call{.argv = connector.command, .files = {}};
  if (!connector.config_json) return call;
  call.argv.emplace_back(verb);
  if (verb == "spec") return call;
  const auto file = [&](const std::string& name, const std::string& content, const char* flag) {
    call.files.push_back({name, content});
    call.argv.insert(call.argv.end(), {flag, absl::StrCat(dir, "/", name)});
  };
  file("config.json", *connector.config_json, "--config");
  if (verb == "read" || verb == "write") {
    if (!inputs.catalog) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(verb), " needs the configured catalog"));
    }
    file("catalog.json", *inputs.catalog, "--catalog");
  }
  if (verb == "read" && inputs.state) file("state.json", *inputs.state, "--state");
  return call;
}

absl::StatusOr<std::vector<std::string>> ConnectorCommand(const ConnectorSpec& connector,
                                                          std::string_view verb,
                                                          const std::string& dir,
                                                          const ConnectorInputs& inputs) {
  auto call = PlanConnectorCall(connector, verb, dir, inputs);
  if (!call.ok()) return call.status();
  for (const ConnectorFile& f : call->files) {
    if (auto s = base::WriteFileAtomically(absl::StrCat(dir, "/", f.name), f.content, 0600);
        !s.ok()) {
      return s;
    }
  }
  return std::move(call->argv);
}

void RemoveConnectorFiles(const std::string& dir) { unlink(absl::StrCat(dir, "/config.json").c_str()); }

std::optional<std::string> StateArgument(std::string_view committed) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array states;
  if (parser.parse(committed.data(), committed.size()).get(doc) != simdjson::SUCCESS ||
      doc.get(states) != simdjson::SUCCESS || states.size() == 0) {
    return std::nullopt;
  }
  if (states.size() == 1) {
    simdjson::dom::element only = states.at(0);
    std::string_view type;
    simdjson::dom::element data;
    const bool legacy = only["type"].get(type) != simdjson::SUCCESS || type == "LEGACY";
    if (legacy && only["data"].get(data) == simdjson::SUCCESS) return simdjson::minify(data);
  }
  return std::string(committed);
}

namespace {

void Say(const std::string& line) { std::fprintf(stderr, "sluice: %s\n", line.c_str()); }

// What one line of the connector's stdout means for the verb: the answer, a message to show,
// or nothing.
struct Answer {
  bool found = false;
  std::string json;      // the payload to print
  bool failed = false;   // check: FAILED
};

void Read(std::string_view line, std::string_view verb, simdjson::dom::parser& parser, Answer* a) {
  simdjson::dom::element doc;
  std::string_view type;
  if (parser.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS ||
      doc["type"].get(type) != simdjson::SUCCESS) {
    Say(absl::StrCat("connector: ", std::string(line.substr(0, 500))));  // not protocol: shown as is
    return;
  }
  if (type == "LOG" || type == "TRACE") {
    if (const auto note = protocol::ReadConnectorNote(line)) Say("connector: " + note->ToString());
    return;
  }
  const char* want = verb == "spec" ? "SPEC" : verb == "check" ? "CONNECTION_STATUS" : "CATALOG";
  const char* field = verb == "spec" ? "spec" : verb == "check" ? "connectionStatus" : "catalog";
  simdjson::dom::element payload;
  if (type != want || doc[field].get(payload) != simdjson::SUCCESS) return;
  a->found = true;
  a->json = simdjson::minify(payload);
  std::string_view status;
  a->failed = verb == "check" && (payload["status"].get(status) != simdjson::SUCCESS ||
                                  status != "SUCCEEDED");
}

}  // namespace

int RunConnectorVerb(const ConnectorSpec& connector, std::string_view verb, absl::Duration timeout,
                     std::FILE* out) {
  std::string dir = (std::filesystem::temp_directory_path() / "sluice-connector-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    Say(absl::StrCat("cannot create a private directory for the config: ", std::strerror(errno)));
    return kVerbUsage;
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  auto argv = ConnectorCommand(connector, verb, dir, {});
  if (!argv.ok()) {
    Say(std::string(argv.status().message()));
    return kVerbUsage;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return kVerbConnectorFailed;
  std::vector<char*> args;
  for (std::string& a : *argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_text;
  for (const auto& [name, value] : connector.env) env_text.push_back(name + "=" + value);
  const pid_t pid = fork();
  if (pid < 0) return kVerbConnectorFailed;
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    for (std::string& e : env_text) putenv(e.data());
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "sluice: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  const absl::Time deadline = absl::Now() + timeout;
  simdjson::dom::parser parser;
  Answer answer;
  std::string pending;
  char buf[1 << 16];
  bool timed_out = false;
  for (;;) {
    pollfd p{pipe_fds[0], POLLIN, 0};
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    const ssize_t r = read(pipe_fds[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    pending.append(buf, static_cast<size_t>(r));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      Read(std::string_view(pending).substr(0, nl), verb, parser, &answer);
      pending.erase(0, nl + 1);
    }
  }
  if (!pending.empty()) Read(pending, verb, parser, &answer);
  close(pipe_fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (timed_out) {
    Say(absl::StrCat("the connector's ", std::string(verb), " did not finish within ",
                     absl::FormatDuration(timeout)));
    return kVerbConnectorFailed;
  }
  if (!answer.found || code != 0) {
    Say(absl::StrCat("the connector's ", std::string(verb), " exited ", code,
                     answer.found ? "" : " without its answer"));
    if (!answer.found) return kVerbConnectorFailed;
  }
  std::fprintf(out, "%s\n", answer.json.c_str());
  if (code != 0) return kVerbConnectorFailed;
  return answer.failed ? kVerbCheckFailed : kVerbOk;
}

}  // namespace sluice::orchestrator
