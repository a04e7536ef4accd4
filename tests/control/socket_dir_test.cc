// The replica socket folder: created private, an existing one checked (symlink, file, another
// owner refused by name), loose permissions of our own folder tightened.
#include "control/socket_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::control {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ScopedTempDir;

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST(SocketDirTest, CreatesThePrivateFolderAndTightensOurOwn) {
  ScopedTempDir tmp;
  const fs::path run = tmp.path() / "data" / "run";
  ASSERT_TRUE(EnsurePrivateDirectory(run).ok());
  EXPECT_EQ(ModeOf(run), 0700u);
  ASSERT_EQ(::chmod(run.c_str(), 0755), 0);
  ASSERT_TRUE(EnsurePrivateDirectory(run).ok());  // ours: made private again
  EXPECT_EQ(ModeOf(run), 0700u);
}

TEST(SocketDirTest, RefusesWhatIsNotOurDirectory) {
  ScopedTempDir tmp;
  const fs::path target = tmp.path() / "elsewhere";
  fs::create_directories(target);
  const fs::path link = tmp.path() / "link";
  fs::create_directory_symlink(target, link);
  absl::Status s = EnsurePrivateDirectory(link);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("symbolic link"));

  const fs::path file = tmp.path() / "file";
  std::ofstream(file) << "x";
  s = EnsurePrivateDirectory(file);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not a directory"));

  // Another user's folder (what a squatter leaves in /tmp): refused, never chmod-ed or used.
  fs::path foreign = tmp.path() / "foreign";
  if (::geteuid() == 0) {
    fs::create_directories(foreign);
    ASSERT_EQ(::chown(foreign.c_str(), 65534, 65534), 0);
    ASSERT_EQ(::chmod(foreign.c_str(), 0777), 0);
  } else {
    foreign = "/";  // owned by root, never by a test user
  }
  s = EnsurePrivateDirectory(foreign);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("not by this server's uid"));
  if (::geteuid() == 0) EXPECT_EQ(ModeOf(foreign), 0777u);
}

TEST(SocketDirTest, SocketPathUnderTheDataDirOrAPrivateTmpFolder) {
  ScopedTempDir tmp;
  absl::StatusOr<std::string> path = ReplicaSocketPath(tmp.path(), "7-0");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, (tmp.path() / "run" / "7-0.sock").string());
  EXPECT_EQ(ModeOf(tmp.path() / "run"), 0700u);

  // Too deep for sun_path: the per-user /tmp folder, private as well.
  const fs::path deep = tmp.path() / std::string(120, 'd');
  path = ReplicaSocketPath(deep, "7-0");
  ASSERT_TRUE(path.ok()) << path.status();
  const fs::path fallback = fs::path(*path).parent_path();
  EXPECT_EQ(fallback, fs::temp_directory_path() / ("tessera-" + std::to_string(::geteuid())));
  EXPECT_EQ(ModeOf(fallback), 0700u);
  EXPECT_LE(path->size(), 107u);
}

}  // namespace
}  // namespace tessera::control
