#include "control/process_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace tessera::control {
namespace {

constexpr size_t kMaxLineBytes = 4096;

std::string ErrnoText(int err) { return std::string(std::strerror(err)); }

void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

// The child side of Launch, between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const char* binary, char* const argv[], int devnull, int out_w,
                            int err_w, pid_t parent, int open_max) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
  // The server may block or ignore signals (sigwait-based shutdown, SIGPIPE): a replica starts
  // with the defaults.
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT}) ::signal(sig, SIG_DFL);
  ::dup2(devnull, 0);
  ::dup2(out_w, 1);
  ::dup2(out_w, 2);
  int err_fd = err_w;
  if (err_w != 3) {
    err_fd = ::dup3(err_w, 3, O_CLOEXEC) >= 0 ? 3 : err_w;
  }
  // Close everything else (sockets of the server, pipes of other children).
  const int first = err_fd == 3 ? 4 : 3;
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) != 0) {
    // No close_range (kernels before 5.9): every descriptor the limit allows.
    for (int fd = first; fd < open_max; ++fd) {
      if (fd != err_fd) ::close(fd);
    }
  }
  ::execv(binary, argv);
  const int err = errno;
  ssize_t ignored = ::write(err_fd, &err, sizeof(err));
  (void)ignored;
  ::_exit(127);
}

}  // namespace

std::string ExitInfo::ToString() const {
  if (signaled) {
    const char* name = ::strsignal(signal);
    return fmt::format("killed by signal {} ({})", signal, name != nullptr ? name : "?");
  }
  return fmt::format("exit code {}", code);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Launch(const LaunchOptions& options) {
  if (options.binary.empty()) return absl::InvalidArgumentError("no binary to launch");
  // Everything the child needs is prepared before fork: no allocation after it.
  std::vector<std::string> args;
  args.push_back(options.binary);
  args.insert(args.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) CloseFd(fd);
    return absl::InternalError(fmt::format("pipe: {}", ErrnoText(err)));
  }
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  // Read before the fork (sysconf is not async-signal-safe); serve raises the limit at start.
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  const int close_below = open_max > 0 && open_max < (1 << 30) ? static_cast<int>(open_max) : 65536;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ExecChild(args[0].c_str(), argv.data(), devnull, out_pipe[1], err_pipe[1], parent, close_below);
  }
  const int fork_errno = errno;
  CloseFd(devnull);
  CloseFd(out_pipe[1]);
  CloseFd(err_pipe[1]);
  if (pid < 0) {
    CloseFd(out_pipe[0]);
    CloseFd(err_pipe[0]);
    return absl::InternalError(fmt::format("fork: {}", ErrnoText(fork_errno)));
  }
  // exec succeeded when the close-on-exec pipe closes without data.
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  CloseFd(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    CloseFd(out_pipe[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string message =
        fmt::format("cannot execute {}: {}", options.binary, ErrnoText(exec_errno));
    if (exec_errno == ENOENT) return absl::NotFoundError(message);
    return absl::FailedPreconditionError(message);
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess(options, pid, out_pipe[0]));
  child->reaper_ = std::thread([raw = child.get()] { raw->ReaperMain(); });
  return child;
}

ChildProcess::ChildProcess(const LaunchOptions& options, pid_t pid, int output_fd)
    : options_(options), pid_(pid), output_fd_(output_fd) {}

ChildProcess::~ChildProcess() {
  Signal(SIGKILL);
  if (reaper_.joinable()) reaper_.join();
}

ChildProcess::State ChildProcess::state() const {
  absl::MutexLock lock(&mu_);
  return reaped_ ? State::kExited : State::kRunning;
}

std::optional<ExitInfo> ChildProcess::exit_info() const {
  absl::MutexLock lock(&mu_);
  return exit_info_;
}

bool ChildProcess::Signal(int signal) {
  absl::MutexLock lock(&mu_);
  if (exited_) return false;
  // Not yet waited for: the pid is still ours (alive or a zombie).
  return ::kill(pid_, signal) == 0;
}

bool ChildProcess::WaitForExit(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&reaped_), timeout);
  return reaped_;
}

std::vector<std::string> ChildProcess::OutputTail() const {
  absl::MutexLock lock(&mu_);
  return {tail_.begin(), tail_.end()};
}

std::string ChildProcess::LastOutputLine() const {
  absl::MutexLock lock(&mu_);
  for (auto it = tail_.rbegin(); it != tail_.rend(); ++it) {
    if (it->find_first_not_of(" \t\r") != std::string::npos) return *it;
  }
  return "";
}

namespace {

// A child's JSON log line (common/logging.h, --log-format json) is logged again at its own level,
// its message after the prefix and its fields (the request id...) as fields of the line; any
// other line at info as it came. Returns the line's message (what error reports quote).
std::string LogChildLine(const std::string& prefix, const std::string& line, bool log) {
  if (line.empty() || line.front() != '{') {
    if (log) spdlog::info("{}: {}", prefix, line);
    return line;
  }
  const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || !record.contains("msg") || !record["msg"].is_string() ||
      !record.contains("level") || !record["level"].is_string()) {
    if (log) spdlog::info("{}: {}", prefix, line);
    return line;
  }
  const std::string message = record["msg"].get<std::string>();
  if (log) {
    std::vector<LogField> fields;
    for (const auto& [key, value] : record.items()) {
      if (key == "time" || key == "level" || key == "process" || key == "thread" || key == "msg" ||
          !value.is_string()) {
        continue;
      }
      fields.push_back({key, value.get<std::string>()});
    }
    const ScopedLogFields scope(std::move(fields));
    const spdlog::level::level_enum level =
        spdlog::level::from_str(record["level"].get<std::string>());
    spdlog::log(level == spdlog::level::off ? spdlog::level::info : level, "{}: {}", prefix,
                message);
  }
  return message;
}

}  // namespace

void ChildProcess::ReaperMain() {
  std::string partial;
  auto emit = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    line = LogChildLine(options_.log_prefix, line, options_.log_output);
    absl::MutexLock lock(&mu_);
    tail_.push_back(std::move(line));
    while (tail_.size() > options_.keep_output_lines) tail_.pop_front();
  };
  auto consume = [&](const char* data, size_t size) {
    for (size_t i = 0; i < size; ++i) {
      if (data[i] == '\n') {
        emit(std::move(partial));
        partial.clear();
      } else if (partial.size() < kMaxLineBytes) {
        partial.push_back(data[i]);
      }
    }
  };
  // Read output until EOF; check every 100 ms whether the child exited (a grandchild could hold
  // the pipe open after the child is gone).
  bool eof = false;
  bool exited = false;
  char buffer[4096];
  while (!eof) {
    pollfd pfd{.fd = output_fd_, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&pfd, 1, exited ? 0 : 100);
    if (ready < 0 && errno == EINTR) continue;
    if (ready > 0) {
      const ssize_t n = ::read(output_fd_, buffer, sizeof(buffer));
      if (n > 0) {
        consume(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      eof = true;  // EOF or an error: nothing more to read
      break;
    }
    if (exited) break;  // exited and nothing left to read right now
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid_) {
      exited = true;  // drain what is buffered, then stop
    }
  }
  if (!partial.empty()) emit(std::move(partial));
  CloseFd(output_fd_);
  // Wait without reaping, mark exited (Signal stops using the pid), then reap.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  {
    absl::MutexLock lock(&mu_);
    exited_ = true;
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  ExitInfo exit;
  if (WIFSIGNALED(status)) {
    exit.signaled = true;
    exit.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    exit.code = WEXITSTATUS(status);
  }
  {
    absl::MutexLock lock(&mu_);
    exit_info_ = exit;
    reaped_ = true;
  }
  if (options_.on_exit) options_.on_exit();
}

}  // namespace tessera::control
