// ChildProcess with real processes (/bin/sh scripts): output capture, exit codes, signals, exec
// failures, descriptor hygiene.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "control/process_launcher.h"
#include "gtest/gtest.h"

namespace tessera::control {
namespace {

LaunchOptions Sh(const std::string& script) {
  LaunchOptions options;
  options.binary = "/bin/sh";
  options.args = {"-c", script};
  options.log_prefix = "test child";
  options.log_output = false;
  return options;
}

TEST(ChildProcessTest, CapturesOutputAndExitCode) {
  auto child = ChildProcess::Launch(Sh("echo one; echo two >&2; printf 'no newline'; exit 3"));
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForExit(absl::Seconds(10)));
  EXPECT_EQ((*child)->state(), ChildProcess::State::kExited);
  auto info = (*child)->exit_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_FALSE(info->signaled);
  EXPECT_EQ(info->code, 3);
  EXPECT_EQ(info->ToString(), "exit code 3");
  std::vector<std::string> tail = (*child)->OutputTail();
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0], "one");
  EXPECT_EQ(tail[1], "two");
  EXPECT_EQ(tail[2], "no newline");
  EXPECT_EQ((*child)->LastOutputLine(), "no newline");
}

TEST(ChildProcessTest, KeepsOnlyTheLastLines) {
  LaunchOptions options =
      Sh("i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done; echo; "
         "echo '  '");
  options.keep_output_lines = 5;
  auto child = ChildProcess::Launch(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForExit(absl::Seconds(10)));
  std::vector<std::string> tail = (*child)->OutputTail();
  ASSERT_EQ(tail.size(), 5u);
  EXPECT_EQ(tail[0], "line97");
  // Blank lines are skipped when looking for the last message.
  EXPECT_EQ((*child)->LastOutputLine(), "line99");
}

TEST(ChildProcessTest, SignalKillsAndIsReportedAfterExit) {
  auto child = ChildProcess::Launch(Sh("echo started; exec sleep 30"));
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE((*child)->running());
  EXPECT_GT((*child)->pid(), 0);
  EXPECT_FALSE((*child)->WaitForExit(absl::Milliseconds(100)));
  EXPECT_TRUE((*child)->Signal(SIGKILL));
  ASSERT_TRUE((*child)->WaitForExit(absl::Seconds(10)));
  auto info = (*child)->exit_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->signaled);
  EXPECT_EQ(info->signal, SIGKILL);
  EXPECT_NE(info->ToString().find("signal 9"), std::string::npos);
  // Once reaped, the pid is never signalled again.
  EXPECT_FALSE((*child)->Signal(SIGTERM));
}

TEST(ChildProcessTest, SigtermHandlerRunsInTheChild) {
  // The child starts with default signal dispositions and an empty mask even when the parent
  // blocks SIGTERM (as a sigwait-based server does).
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto child = ChildProcess::Launch(
      Sh("trap 'echo draining; exit 0' TERM; echo ready; while true; do sleep 0.05; done"));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(child.ok()) << child.status();
  // Wait for the trap to be installed.
  for (int i = 0; i < 200 && (*child)->LastOutputLine() != "ready"; ++i) usleep(10000);
  ASSERT_EQ((*child)->LastOutputLine(), "ready");
  EXPECT_TRUE((*child)->Signal(SIGTERM));
  ASSERT_TRUE((*child)->WaitForExit(absl::Seconds(10)));
  EXPECT_EQ((*child)->exit_info()->code, 0);
  EXPECT_EQ((*child)->LastOutputLine(), "draining");
}

TEST(ChildProcessTest, ExecFailureIsReportedByLaunch) {
  LaunchOptions options;
  options.binary = "/nonexistent/tessera";
  auto child = ChildProcess::Launch(options);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(child.status().message().find("/nonexistent/tessera"), std::string::npos);

  options.binary = "/etc/hostname";  // not executable
  child = ChildProcess::Launch(options);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), absl::StatusCode::kFailedPrecondition);

  options.binary = "";
  EXPECT_EQ(ChildProcess::Launch(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChildProcessTest, DoesNotLeakDescriptorsIntoTheChild) {
  // A descriptor without close-on-exec in the parent must not reach the child.
  int fd = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  auto child = ChildProcess::Launch(Sh("ls /proc/self/fd | wc -l"));
  ::close(fd);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->WaitForExit(absl::Seconds(10)));
  // 0, 1, 2, and the descriptor ls uses to read the directory.
  EXPECT_EQ((*child)->LastOutputLine(), "4");
}

TEST(ChildProcessTest, OnExitRunsOnceAndDestructorKillsARunningChild) {
  std::atomic<int> exits{0};
  pid_t pid = 0;
  {
    LaunchOptions options = Sh("exec sleep 30");
    options.on_exit = [&exits] { exits.fetch_add(1); };
    auto child = ChildProcess::Launch(options);
    ASSERT_TRUE(child.ok()) << child.status();
    pid = (*child)->pid();
  }  // destroyed while running: SIGKILL, reaped
  EXPECT_EQ(exits.load(), 1);
  EXPECT_NE(::kill(pid, 0), 0);  // gone (and not a zombie of ours)
}

TEST(ChildProcessTest, ManyConcurrentChildren) {
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < 20; ++i) {
    auto child = ChildProcess::Launch(
        Sh("echo child " + std::to_string(i) + "; exit " + std::to_string(i % 7)));
    ASSERT_TRUE(child.ok()) << child.status();
    children.push_back(std::move(*child));
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(children[i]->WaitForExit(absl::Seconds(10)));
    EXPECT_EQ(children[i]->exit_info()->code, i % 7);
    EXPECT_EQ(children[i]->LastOutputLine(), "child " + std::to_string(i));
  }
}

}  // namespace
}  // namespace tessera::control
