// What a kill -9'd server's replicas leave (unix sockets) is removed by the next server's start.
#include "control/replica_leftovers.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::control {
namespace {

namespace fs = std::filesystem;
using testing::ScopedTempDir;

// Binds a unix socket at `path` and closes it: the file stays, as after a kill -9.
void LeaveSocket(const fs::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.string().size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
  ::close(fd);
  ASSERT_TRUE(fs::exists(path));
}

// A pid that ran and is gone (reaped).
pid_t DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

TEST(ReplicaLeftoversTest, RemovesEverySocketInRunAndFallbackSocketsOfDeadServers) {
  ScopedTempDir tmp;
  const fs::path run = tmp.path() / "run";
  const fs::path fallback = tmp.path() / "fallback";
  fs::create_directories(run);
  fs::create_directories(fallback);
  LeaveSocket(run / "7-0.sock");
  LeaveSocket(run / "12-1.sock");
  const std::string dead = std::to_string(DeadPid());
  const std::string alive = std::to_string(::getpid());
  LeaveSocket(fallback / (dead + "-7-0.sock"));
  LeaveSocket(fallback / (alive + "-7-0.sock"));  // a running server's: kept
  std::ofstream(fallback / "notes.txt") << "not ours";  // not a replica socket name: kept

  EXPECT_EQ(RemoveReplicaLeftovers(run, fallback), 3);
  EXPECT_TRUE(fs::is_empty(run));
  EXPECT_FALSE(fs::exists(fallback / (dead + "-7-0.sock")));
  EXPECT_TRUE(fs::exists(fallback / (alive + "-7-0.sock")));
  EXPECT_TRUE(fs::exists(fallback / "notes.txt"));
}

TEST(ReplicaLeftoversTest, MissingFoldersAreNotAnError) {
  ScopedTempDir tmp;
  EXPECT_EQ(RemoveReplicaLeftovers(tmp.path() / "no-run", tmp.path() / "no-fallback"), 0);
}

TEST(ReplicaLeftoversTest, FallbackDirIsPerUser) {
  EXPECT_EQ(ReplicaSocketFallbackDir().filename().string(),
            "tessera-" + std::to_string(::geteuid()));
}

}  // namespace
}  // namespace tessera::control
