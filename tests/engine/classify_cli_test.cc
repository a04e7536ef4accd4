// `tessera classify` end to end: the real binary on fixture checkpoints and images.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "engine/vit/vit_fixtures.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_paths.h"

namespace tessera {
namespace {

struct Result {
  int exit_status = -1;
  std::string out;  // stdout (stderr goes to the test log)
};

Result RunTessera(const std::string& args) {
  const std::string command = testing::TesseraBinary().string() + " " + args;
  Result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.out.append(buffer.data(), n);
  int status = ::pclose(pipe);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Quote(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(ClassifyCliTest, PrintsTopKPerImageAsJson) {
  auto fixture = testing::FindVitFixture("deit-teacher");
  ASSERT_TRUE(fixture.has_value());
  const auto& images = fixture->image_cases;
  ASSERT_GE(images.size(), 2u);
  Result r = RunTessera("classify --model " + Quote(fixture->dir) + " --top-k 3 --threads 1 " +
                        Quote(images[0].image) + " " + Quote(images[1].image));
  ASSERT_EQ(r.exit_status, 0) << r.out;
  auto json = nlohmann::json::parse(r.out);
  ASSERT_TRUE(json.is_array());
  ASSERT_EQ(json.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(json[i]["image"], images[i].image.string());
    ASSERT_EQ(json[i]["predictions"].size(), 3u);
    auto logits = testing::ReadFloats(images[i].logits);
    const int top1 = testing::ArgMaxRows(logits, fixture->num_labels)[0];
    EXPECT_EQ(json[i]["predictions"][0]["class_index"], top1);
    EXPECT_EQ(json[i]["predictions"][0]["label"],
              "class-" + std::to_string(top1) + "-deit-teacher");
    EXPECT_GE(json[i]["predictions"][0]["confidence"].get<double>(),
              json[i]["predictions"][1]["confidence"].get<double>());
  }
}

TEST(ClassifyCliTest, BadImagesAreReportedAndFailTheExitStatus) {
  auto fixture = testing::FindVitFixture("vit-odd-heads");
  ASSERT_TRUE(fixture.has_value());
  const auto good = fixture->image_cases[0].image;
  Result r = RunTessera("classify --model " + Quote(fixture->dir) + " " + Quote(good) +
                        " /nonexistent/image.png " + Quote(fixture->dir / "config.json"));
  EXPECT_EQ(r.exit_status, 1);
  auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json.size(), 3u);
  EXPECT_EQ(json[0]["predictions"].size(), 1u);
  EXPECT_NE(json[1]["error"].get<std::string>().find("cannot open"), std::string::npos);
  EXPECT_TRUE(json[2].contains("error"));  // a JSON file is not an image
}

TEST(ClassifyCliTest, ModelThatFailsToLoad) {
  Result r = RunTessera("classify --model " + Quote(testing::SourceDir()) + " x.png 2>/dev/null");
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_TRUE(r.out.empty());
  Result usage = RunTessera("classify --model /nonexistent x.png 2>/dev/null");
  EXPECT_NE(usage.exit_status, 0);
}

TEST(ClassifyCliTest, FashionSamples) {
  const auto data = testing::VendoredDataDir();
  Result r = RunTessera("classify --model " + Quote(data / "models" / "fashion-vit") + " " +
                        Quote(data / "images" / "fashion" / "0001-pullover.png"));
  ASSERT_EQ(r.exit_status, 0) << r.out;
  auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json[0]["predictions"][0]["label"], "Pullover");
}

}  // namespace
}  // namespace tessera
