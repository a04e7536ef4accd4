#include "common/rotating_file.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class RotatingFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rotating_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string Read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  fs::path dir_;
};

TEST_F(RotatingFileTest, RotatesBeforeALineWouldNotFitAndKeepsNOldFiles) {
  const fs::path path = dir_ / "sub" / "log.jsonl";
  auto file = *RotatingFile::Open({.path = path, .max_file_bytes = 25, .max_rotated_files = 2});
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(file->Append("line-" + std::to_string(i) + "...\n").ok());
  // 10-byte lines, two per file: 6 in the three files kept, the oldest file gone.
  EXPECT_EQ(Read(path), "line-6...\n");
  EXPECT_EQ(Read(dir_ / "sub" / "log.jsonl.1"), "line-4...\nline-5...\n");
  EXPECT_EQ(Read(dir_ / "sub" / "log.jsonl.2"), "line-2...\nline-3...\n");
  EXPECT_FALSE(fs::exists(dir_ / "sub" / "log.jsonl.3"));
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(RotatingFileTest, ARotationThatFailsRefusesOrAppendsAsAsked) {
  for (const bool refuse : {true, false}) {
    const fs::path path = dir_ / (refuse ? "refuse.log" : "append.log");
    // <path>.1 is a folder with a file in it: neither removed nor replaced by a rename.
    fs::create_directories(fs::path(path.string() + ".1") / "blocker");
    auto file = *RotatingFile::Open({.path = path,
                                     .max_file_bytes = 15,
                                     .max_rotated_files = 1,
                                     .refuse_lines_when_rotation_fails = refuse});
    ASSERT_TRUE(file->Append("first-line\n").ok());
    const absl::Status second = file->Append("second-line\n");
    EXPECT_EQ(second.ok(), !refuse) << second;
    EXPECT_EQ(Read(path), refuse ? "first-line\n" : "first-line\nsecond-line\n");
  }
}

TEST_F(RotatingFileTest, RefusesASymlinkAndBadOptions) {
  fs::create_directories(dir_);
  fs::create_symlink(dir_ / "elsewhere", dir_ / "link.log");
  EXPECT_FALSE(RotatingFile::Open({.path = dir_ / "link.log"}).ok());
  EXPECT_FALSE(fs::exists(dir_ / "elsewhere"));
  EXPECT_FALSE(RotatingFile::Open({.path = ""}).ok());
  EXPECT_FALSE(RotatingFile::Open({.path = dir_ / "x", .max_file_bytes = 0}).ok());
  EXPECT_FALSE(RotatingFile::Open({.path = dir_ / "x", .max_rotated_files = -1}).ok());
}

}  // namespace
}  // namespace tessera
