// `tessera replica` end to end: the real binary on the vendored fashion-vit checkpoint, driven
// through the real ReplicaClient over its unix socket. Predictions equal `tessera classify`'s for
// the same images; SIGTERM drains queued requests and exits 0; a broken model folder exits 2 with
// the error as the last stderr line.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/base64.h"
#include "control/replica_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_paths.h"

namespace tessera {
namespace {

using control::ReplicaClient;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string LastLine(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  const size_t newline = trimmed.rfind('\n');
  return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

// A child process running the tessera binary, stderr to a file.
class Process {
 public:
  Process(const std::vector<std::string>& args, const std::filesystem::path& stderr_path) {
    std::vector<std::string> argv_storage = {testing::TesseraBinary().string()};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (std::string& a : argv_storage) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // The exit status, or -1 if it has not exited within `timeout` (-2: killed by a signal).
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

// stdout of `command` (run by the shell).
std::string RunAndCapture(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

class ReplicaE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/tessera-replica-e2e-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    model_dir_ = testing::VendoredDataDir() / "models" / "fashion-vit";
    socket_ = (dir_ / "r.sock").string();
    stderr_ = dir_ / "stderr.txt";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Process> StartReplica(std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "replica", "--model", model_dir_.string(), "--socket", socket_, "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(args, stderr_);
  }

  std::unique_ptr<ReplicaClient> WaitReady(Process& process) {
    auto client = ReplicaClient::Create(socket_);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      auto health = (*client)->Health(absl::Seconds(1));
      if (health.ok() && health->ready) return std::move(*client);
      if (process.Wait(absl::ZeroDuration()) != -1) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "the replica did not become ready; stderr:\n" << ReadAll(stderr_);
    return nullptr;
  }

  std::filesystem::path dir_;
  std::filesystem::path model_dir_;
  std::string socket_;
  std::filesystem::path stderr_;
};

TEST_F(ReplicaE2ETest, PredictionsEqualClassify) {
  std::vector<std::filesystem::path> images;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::VendoredDataDir() / "images" / "fashion")) {
    images.push_back(entry.path());
  }
  images.push_back(testing::VendoredDataDir() / "images" / "photos" / "coco-000000039769-cats.png");
  std::sort(images.begin(), images.end());

  // `tessera classify` on every image.
  std::string command = testing::TesseraBinary().string() + " classify --threads 1 --model '" +
                        model_dir_.string() + "'";
  for (const auto& image : images) command += " '" + image.string() + "'";
  const json classified = json::parse(RunAndCapture(command));
  ASSERT_EQ(classified.size(), images.size()) << classified.dump();

  auto process = StartReplica({"--max-batch-size", "4"});
  auto client = WaitReady(*process);
  ASSERT_NE(client, nullptr);
  // One request with every image (order kept), and each image alone.
  json instances = json::array();
  for (const auto& image : images) {
    instances.push_back({{"string_input", {{"b64", Base64Encode(ReadAll(image))}}}});
  }
  auto all = client->Predict(json({{"instances", instances}}).dump(), absl::Seconds(30));
  ASSERT_TRUE(all.ok()) << all.status();
  const json predictions = json::parse(*all)["predictions"];
  ASSERT_EQ(predictions.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    SCOPED_TRACE(images[i].filename().string());
    const json& expected = classified[i]["predictions"][0];
    EXPECT_EQ(predictions[i]["label"], expected["label"]);
    EXPECT_NEAR(predictions[i]["confidence"].get<double>(), expected["confidence"].get<double>(),
                1e-5);
    auto alone = client->Predict(json({{"instances", {instances[i]}}}).dump(), absl::Seconds(30));
    ASSERT_TRUE(alone.ok()) << alone.status();
    const json p = json::parse(*alone)["predictions"][0];
    EXPECT_EQ(p["label"], expected["label"]);
    EXPECT_NEAR(p["confidence"].get<double>(), expected["confidence"].get<double>(), 1e-5);
  }
  // A bad instance is a 400 with the replica's message; the replica keeps serving.
  auto bad = client->Predict(R"({"instances": [{"b64": "bm90IGFuIGltYWdl"}]})", absl::Seconds(10));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), StartsWith("instance 0: "));

  auto status = client->Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->pid, process->pid());
  EXPECT_GT(status->rss_bytes, 0);
  std::printf("replica RSS with fashion-vit: %.1f MiB\n", status->rss_bytes / 1048576.0);

  ASSERT_EQ(::kill(process->pid(), SIGTERM), 0);
  EXPECT_EQ(process->Wait(absl::Seconds(30)), 0) << ReadAll(stderr_);
  EXPECT_FALSE(std::filesystem::exists(socket_));
}

// Requests waiting in the batch queue when SIGTERM arrives are answered, then the process exits 0.
TEST_F(ReplicaE2ETest, SigtermDrainsQueuedRequests) {
  auto process = StartReplica({"--max-batch-size", "8", "--max-queue-delay-us", "30000000"});
  auto client = WaitReady(*process);
  ASSERT_NE(client, nullptr);
  const std::string image =
      ReadAll(testing::VendoredDataDir() / "images" / "fashion" / "0000-ankle-boot.png");
  const std::string body = json({{"instances", {{{"b64", Base64Encode(image)}}}}}).dump();
  std::vector<absl::StatusOr<std::string>> results(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] { results[i] = client->Predict(body, absl::Seconds(60)); });
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  int64_t queued = 0;
  while (absl::Now() < deadline) {
    auto status = client->Status();
    if (status.ok() && (queued = status->queue_depth) == 3) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(queued, 3);
  const absl::Time start = absl::Now();
  ASSERT_EQ(::kill(process->pid(), SIGTERM), 0);
  for (auto& t : threads) t.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));  // not the 30 s queue delay
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(json::parse(*result)["predictions"][0]["label"], "Ankle boot");
  }
  EXPECT_EQ(process->Wait(absl::Seconds(30)), 0) << ReadAll(stderr_);
  EXPECT_THAT(ReadAll(stderr_), HasSubstr("SIGTERM: draining"));
}

TEST_F(ReplicaE2ETest, BrokenModelExitsWithCode2AndTheErrorLast) {
  const std::filesystem::path broken = dir_ / "broken";
  std::filesystem::copy(model_dir_, broken);
  std::filesystem::resize_file(broken / "model.safetensors", 1000);
  model_dir_ = broken;
  auto process = StartReplica({});
  EXPECT_EQ(process->Wait(absl::Seconds(60)), 2);
  const std::string last = LastLine(ReadAll(stderr_));
  EXPECT_THAT(last, StartsWith("tessera replica: cannot load the model: "));
  EXPECT_THAT(last, HasSubstr("model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(socket_));

  // A socket path taken by a regular file: the server cannot listen there.
  model_dir_ = testing::VendoredDataDir() / "models" / "fashion-vit";
  std::ofstream(socket_) << "not a socket";
  auto taken = StartReplica({});
  EXPECT_EQ(taken->Wait(absl::Seconds(60)), 2);
  EXPECT_THAT(LastLine(ReadAll(stderr_)), StartsWith("tessera replica: "));
  EXPECT_THAT(LastLine(ReadAll(stderr_)), HasSubstr(socket_));
  std::filesystem::remove(socket_);

  model_dir_ = dir_ / "no-such-model";
  auto missing = StartReplica({});
  EXPECT_EQ(missing->Wait(absl::Seconds(60)), 2);
  EXPECT_THAT(LastLine(ReadAll(stderr_)),
              HasSubstr("cannot load the model: " + model_dir_.string() + " is not a directory"));
}

}  // namespace
}  // namespace tessera
