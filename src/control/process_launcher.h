// ChildProcess: one child process started with fork/exec, its stdout and stderr captured through a
// pipe (each line forwarded to the log with a prefix, the last lines kept for error messages), and
// reaped by a dedicated thread. The supervisor runs each replica through one of these.
//
// Lifecycle (ChildProcess::State):
//   kRunning -> kExited. There is no other state: Launch() returns only once exec succeeded (an
//   exec failure is reported by Launch, through a close-on-exec pipe), and the object reaps the
//   child itself.
//
// Reaping without pid-reuse races: the reaper thread reads the output pipe to EOF, then waits with
// waitid(WNOWAIT) (the child stays a zombie, its pid reserved), marks the process exited under the
// mutex, and only then reaps it. Signal() checks "exited" under the same mutex, so it never signals
// a pid the kernel may have given to another process.
//
// In the child (between fork and exec: async-signal-safe calls only): stdout and stderr go to the
// pipe, stdin to /dev/null, every other descriptor is closed (the server's sockets must not leak
// into replicas), and PR_SET_PDEATHSIG(SIGKILL) so replicas die with the server even after a crash.
// PR_SET_PDEATHSIG fires when the *thread* that forked exits: launch from a long-lived thread.
//
// Thread-safety: every method may be called from any thread. The destructor kills (SIGKILL) a child
// that is still running and waits for the reaper.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tessera::control {

struct LaunchOptions {
  std::string binary;             // absolute path (no PATH search)
  std::vector<std::string> args;  // argv[1..]
  std::string log_prefix;         // output lines are logged as "<log_prefix>: <line>"
  size_t keep_output_lines = 20;  // last lines kept for OutputTail()
  bool log_output = true;         // forward each line to spdlog (info level)
  // Called once on the reaper thread after the child exited and was reaped. Must be quick and not
  // destroy the ChildProcess.
  std::function<void()> on_exit;
};

// How a child ended.
struct ExitInfo {
  bool signaled = false;  // killed by a signal (then `signal` is set), else exited (`code`)
  int code = 0;
  int signal = 0;
  // "exit code 1", "killed by signal 9 (Killed)".
  std::string ToString() const;
};

class ChildProcess {
 public:
  enum class State {
    kRunning,  // exec succeeded; the child has not been reaped yet
    kExited,   // reaped; exit_info() is set
  };

  // Forks and execs `options.binary`. INVALID_ARGUMENT for an empty binary; NOT_FOUND /
  // FAILED_PRECONDITION when exec fails (the errno text in the message); INTERNAL when a pipe or
  // fork fails.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Launch(const LaunchOptions& options);

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  State state() const;
  bool running() const { return state() == State::kRunning; }
  // Set once kExited.
  std::optional<ExitInfo> exit_info() const;

  // Sends `signal` unless the child has already exited. Returns false when it has.
  bool Signal(int signal);
  // Blocks until the child exited (and its output was read to the end) or `timeout` passed.
  // Returns true when it exited.
  bool WaitForExit(absl::Duration timeout);

  // The last output lines (stdout and stderr interleaved), oldest first.
  std::vector<std::string> OutputTail() const;
  // The last non-empty output line, or "" (replicas print their fatal error last).
  std::string LastOutputLine() const;

 private:
  ChildProcess(const LaunchOptions& options, pid_t pid, int output_fd);
  void ReaperMain();

  const LaunchOptions options_;
  const pid_t pid_;
  const int output_fd_;
  mutable absl::Mutex mu_;
  std::deque<std::string> tail_ ABSL_GUARDED_BY(mu_);
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<ExitInfo> exit_info_ ABSL_GUARDED_BY(mu_);
  std::thread reaper_;
};

}  // namespace tessera::control
