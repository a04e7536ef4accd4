// Secret files: written 0600 and atomically, refused when others may read them, the pepper made
// once and read back.
#include "auth/secret_file.h"

#include <sys/stat.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::auth {
namespace {

using ::testing::HasSubstr;

TEST(SecretFileTest, WrittenPrivateAndReadBackWithoutTheNewline) {
  testing::ScopedTempDir tmp;
  const auto path = tmp.path() / "admin.key";
  ASSERT_TRUE(WriteSecretFile(path, "tsk_secret\n").ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadSecretFile(path), "tsk_secret");
  ASSERT_TRUE(WriteSecretFile(path, "tsk_other\n").ok());  // replaced whole
  EXPECT_EQ(*ReadSecretFile(path), "tsk_other");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
}

TEST(SecretFileTest, AFileOthersMayReadIsRefused) {
  testing::ScopedTempDir tmp;
  const auto path = tmp.path() / "admin.key";
  ASSERT_TRUE(WriteSecretFile(path, "tsk_secret\n").ok());
  ::chmod(path.c_str(), 0644);
  auto read = ReadSecretFile(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("chmod 600"));
  EXPECT_EQ(ReadSecretFile(tmp.path() / "missing").status().code(), absl::StatusCode::kNotFound);
  {
    std::ofstream big(tmp.path() / "big");
    big << std::string(10000, 'x');
  }
  ::chmod((tmp.path() / "big").c_str(), 0600);
  EXPECT_EQ(ReadSecretFile(tmp.path() / "big").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SecretFileTest, ThePepperIsMadeOnceAndReadBack) {
  testing::ScopedTempDir tmp;
  const auto path = tmp.path() / "auth.pepper";
  auto first = LoadOrCreatePepper(path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 64u);
  EXPECT_EQ(*LoadOrCreatePepper(path), *first);
  ASSERT_TRUE(WriteSecretFile(path, "short\n").ok());
  EXPECT_EQ(LoadOrCreatePepper(path).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tessera::auth
