// The replica server in-process: a real HttpServer on a temp unix socket, the real engine on the
// vendored fashion-vit checkpoint, and the real client (control/replica_client.h). Covers the
// predict shapes, bad inputs (each a 400 while good batch-mates succeed), queue-full 429,
// batches forming under concurrent clients, and drain.
#include "runtime/replica_server.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/base64.h"
#include "common/http/google_error.h"
#include "common/http/http_client.h"
#include "control/replica_client.h"
#include "engine/image/test_images.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/test_paths.h"

namespace tessera::runtime {
namespace {

using control::ReplicaClient;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr float kConfidenceTolerance = 1e-4f;

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string ToString(const std::vector<uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// A JPEG whose SOF marker claims width x height (the pixels are a 16x16 image's).
std::string JpegClaiming(uint16_t width, uint16_t height) {
  std::vector<uint8_t> jpeg = engine::testing::EncodeJpeg(engine::testing::Pattern(16, 16, 3), 90);
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && (jpeg[i + 1] == 0xc0 || jpeg[i + 1] == 0xc2)) {
      jpeg[i + 5] = static_cast<uint8_t>(height >> 8);
      jpeg[i + 6] = static_cast<uint8_t>(height);
      jpeg[i + 7] = static_cast<uint8_t>(width >> 8);
      jpeg[i + 8] = static_cast<uint8_t>(width);
      break;
    }
  }
  return ToString(jpeg);
}

json Instances(const std::vector<std::string>& images) {
  json instances = json::array();
  for (const std::string& image : images) {
    instances.push_back({{"string_input", {{"b64", Base64Encode(image)}}}});
  }
  return instances;
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/tessera-replica-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Expected {
  std::string label;
  float confidence;
};

class ReplicaServerTest : public ::testing::TestWithParam<PreprocessPlace> {
 protected:
  void SetUp() override {
    model_dir_ = testing::VendoredDataDir() / "models" / "fashion-vit";
    for (const auto& entry :
         std::filesystem::directory_iterator(testing::VendoredDataDir() / "images" / "fashion")) {
      images_.push_back(ReadAll(entry.path()));
    }
    std::sort(images_.begin(), images_.end());
    ASSERT_GE(images_.size(), 4u);
    // What the engine alone says, one image at a time.
    auto classifier =
        engine::ImageClassifier::Load(model_dir_, {.num_threads = 1, .max_batch_size = 1});
    ASSERT_TRUE(classifier.ok()) << classifier.status();
    for (const std::string& image : images_) {
      const auto* data = reinterpret_cast<const uint8_t*>(image.data());
      auto result = (*classifier)->Classify({std::span<const uint8_t>(data, image.size())}, 1);
      ASSERT_TRUE(result[0].ok()) << result[0].status();
      expected_.push_back({(*result[0])[0].label, (*result[0])[0].confidence});
    }
  }

  ReplicaServerOptions Options() const {
    ReplicaServerOptions o;
    o.model_dir = model_dir_;
    o.unix_socket_path = (dir_.path() / "replica.sock").string();
    o.num_threads = 1;
    o.max_batch_size = 8;
    o.preprocess = GetParam();
    return o;
  }

  void Start(const ReplicaServerOptions& options) {
    auto server = ReplicaServer::Create(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto client = ReplicaClient::Create(options.unix_socket_path);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  // Checks a {"predictions": [...]} body against the engine's answers for `indices`.
  void ExpectPredictions(const std::string& body, const std::vector<size_t>& indices) {
    const json response = json::parse(body);
    ASSERT_EQ(response["predictions"].size(), indices.size()) << body;
    for (size_t i = 0; i < indices.size(); ++i) {
      const json& p = response["predictions"][i];
      EXPECT_EQ(p["label"], expected_[indices[i]].label) << body;
      EXPECT_NEAR(p["confidence"].get<float>(), expected_[indices[i]].confidence,
                  kConfidenceTolerance);
    }
  }

  TempDir dir_;
  std::filesystem::path model_dir_;
  std::vector<std::string> images_;
  std::vector<Expected> expected_;
  std::unique_ptr<ReplicaServer> server_;
  std::unique_ptr<ReplicaClient> client_;
};

TEST_P(ReplicaServerTest, HealthStatusAndPredictShapes) {
  Start(Options());
  auto health = client_->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_TRUE(health->ready);
  EXPECT_EQ(health->state, "READY");

  // Every instance shape, order kept.
  const json body = {{"instances",
                      {{{"string_input", {{"b64", Base64Encode(images_[0])}}}},
                       {{"b64", Base64Encode(images_[1])}},
                       Base64Encode(images_[2])}}};
  auto response = client_->Predict(body.dump(), absl::Seconds(10));
  ASSERT_TRUE(response.ok()) << response.status();
  ExpectPredictions(*response, {0, 1, 2});

  // top_k > 1: lists, most probable first, the first equal to top-1.
  auto top3 = client_->Predict(
      json({{"instances", Instances({images_[3]})}, {"parameters", {{"topK", 3}}}}).dump(),
      absl::Seconds(10));
  ASSERT_TRUE(top3.ok()) << top3.status();
  const json p = json::parse(*top3)["predictions"][0];
  ASSERT_EQ(p["labels"].size(), 3u) << *top3;
  EXPECT_EQ(p["labels"][0], expected_[3].label);
  EXPECT_GE(p["confidences"][0].get<float>(), p["confidences"][1].get<float>());
  EXPECT_GE(p["confidences"][1].get<float>(), p["confidences"][2].get<float>());

  // A threshold above the top-1 confidence leaves nothing.
  auto thresholded =
      client_->Predict(json({{"instances", Instances({images_[3]})},
                             {"parameters", {{"top_k", 10}, {"confidence_threshold", 1.0}}}})
                           .dump(),
                       absl::Seconds(10));
  ASSERT_TRUE(thresholded.ok()) << thresholded.status();
  EXPECT_EQ(json::parse(*thresholded)["predictions"][0]["labels"].size(),
            expected_[3].confidence >= 1.0f ? 1u : 0u);

  // Raw bytes.
  auto bytes = client_->PredictBytes(images_[1], 2, absl::Seconds(10));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(json::parse(*bytes)["predictions"][0]["labels"][0], expected_[1].label);
  auto bytes_top1 = client_->PredictBytes(images_[2], 1, absl::Seconds(10));
  ASSERT_TRUE(bytes_top1.ok()) << bytes_top1.status();
  ExpectPredictions(*bytes_top1, {2});

  auto status = client_->Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, "READY");
  EXPECT_EQ(status->architecture, "ViTForImageClassification");
  EXPECT_EQ(status->num_labels, 10);
  EXPECT_EQ(status->image_height, 32);
  EXPECT_EQ(status->image_width, 32);
  EXPECT_EQ(status->requests, 5);
  EXPECT_EQ(status->in_flight, 0);
  EXPECT_GT(status->rss_bytes, 1 << 20);
  EXPECT_EQ(status->pid, ::getpid());
  int64_t instances = 0;
  for (const auto& [size, count] : status->batch_size_histogram) instances += size * count;
  EXPECT_EQ(instances, 7);
}

// Each bad request is a 400 whose message names the problem, while good requests sent at the
// same time (batch-mates) all succeed with the right answer.
TEST_P(ReplicaServerTest, BadInputsAre400WhileBatchMatesSucceed) {
  ReplicaServerOptions options = Options();
  options.max_queue_delay_us = 2000;  // let batches form from concurrent requests
  Start(options);
  const std::string good = Base64Encode(images_[0]);
  std::string truncated_jpeg =
      ToString(engine::testing::EncodeJpeg(engine::testing::Pattern(64, 64, 7), 90));
  truncated_jpeg.resize(truncated_jpeg.size() / 2);
  json too_many = json::array();
  for (int i = 0; i < 65; ++i) too_many.push_back({{"b64", good}});
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"instances", {{{"b64", good}}, {{"b64", "not base64!"}}}}},
       "instance 1: \"b64\" is not valid base64"},
      {{{"instances", Instances({images_[1], "this is not an image"})}}, "instance 1: "},
      {{{"instances", Instances({truncated_jpeg})}}, "instance 0: "},
      {{{"instances", Instances({images_[2], JpegClaiming(60000, 60000)})}},
       "instance 1: JPEG image is 60000x60000"},
      {{{"instances", json::array()}}, "\"instances\" is empty"},
      {{{"instances", {{{"image_bytes", {{"b64", good}}}}}}},
       "instance 0: expected {\"string_input\""},
      {{{"instances", too_many}}, "the request has 65 instances; at most 64"},
      {{{"instances", {{{"b64", good}}}}, {"parameters", {{"top_k", 0}}}}, "top_k"},
  };
  std::atomic<bool> stop{false};
  std::atomic<int> good_ok{0}, good_failed{0};
  std::vector<std::thread> good_clients;
  for (int t = 0; t < 3; ++t) {
    good_clients.emplace_back([&, t] {
      size_t i = t;
      while (!stop.load()) {
        const size_t image = i++ % images_.size();
        auto response = client_->Predict(json({{"instances", Instances({images_[image]})}}).dump(),
                                         absl::Seconds(30));
        if (!response.ok()) {
          ADD_FAILURE() << response.status();
          ++good_failed;
          continue;
        }
        const json p = json::parse(*response)["predictions"][0];
        if (p["label"] == expected_[image].label) {
          ++good_ok;
        } else {
          ++good_failed;
        }
      }
    });
  }
  for (int round = 0; round < 3; ++round) {
    for (const auto& [body, message] : bad) {
      SCOPED_TRACE(message);
      auto response = client_->Predict(body.dump(), absl::Seconds(30));
      ASSERT_FALSE(response.ok());
      EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(response.status().message()), HasSubstr(message));
    }
    // Not JSON at all, and raw bytes that are not an image.
    auto not_json = client_->Predict("{\"instances\": [", absl::Seconds(30));
    EXPECT_EQ(not_json.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(not_json.status().message()), HasSubstr("not valid JSON"));
    auto not_image = client_->PredictBytes("GIF89a...", 1, absl::Seconds(30));
    EXPECT_EQ(not_image.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(not_image.status().message()), HasSubstr("instance 0: "));
  }
  // Good requests kept flowing.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (good_ok.load() < 20 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  stop = true;
  for (auto& t : good_clients) t.join();
  EXPECT_GE(good_ok.load(), 20);
  EXPECT_EQ(good_failed.load(), 0);
  auto health = client_->Health();
  ASSERT_TRUE(health.ok());
  EXPECT_TRUE(health->ready);
  const ReplicaStats stats = server_->stats();
  // Preprocessed on the io threads, a bad image never enters a batch; preprocessed on the batch
  // thread, each undecodable one (not an image, truncated, 60000x60000, GIF: 4 a round) fails
  // alone in its batch.
  EXPECT_EQ(stats.batcher.failed_instances, GetParam() == PreprocessPlace::kIoThreads ? 0 : 3 * 4);
  EXPECT_EQ(stats.failed_requests, 3 * (static_cast<int64_t>(bad.size()) + 2));
}

TEST_P(ReplicaServerTest, ImagesOverTheConfiguredPixelLimitAreRefused) {
  ReplicaServerOptions options = Options();
  options.max_image_pixels = 100 * 100;
  Start(options);
  const std::string big =
      ToString(engine::testing::EncodePngRgb(engine::testing::Pattern(200, 100, 1)));
  auto response = client_->Predict(json({{"instances", Instances({images_[0], big})}}).dump(),
                                   absl::Seconds(10));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("instance 1: PNG image is"));
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("10000"));
}

// max_batch_size 2, queue 2, a long delay: a lone instance waits for a batch-mate, so a request of
// 2 more instances overflows the queue (429); a third single instance completes the batch.
TEST_P(ReplicaServerTest, FullQueueIsResourceExhausted) {
  ReplicaServerOptions options = Options();
  options.max_batch_size = 2;
  options.max_queue_size = 2;
  options.max_queue_delay_us = 60'000'000;
  options.codec.max_instances = 2;
  Start(options);
  absl::StatusOr<std::string> first;
  std::thread waiting([&] {
    first =
        client_->Predict(json({{"instances", Instances({images_[0]})}}).dump(), absl::Seconds(30));
  });
  ASSERT_TRUE([&] {
    for (int i = 0; i < 2500; ++i) {
      if (server_->stats().batcher.queued_instances == 1) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }());
  auto overflow = client_->Predict(
      json({{"instances", Instances({images_[1], images_[2]})}}).dump(), absl::Seconds(10));
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(overflow.status().message()), HasSubstr("queue is full"));
  auto second =
      client_->Predict(json({{"instances", Instances({images_[3]})}}).dump(), absl::Seconds(10));
  ASSERT_TRUE(second.ok()) << second.status();
  ExpectPredictions(*second, {3});
  waiting.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ExpectPredictions(*first, {0});
  EXPECT_EQ(server_->stats().batcher.batch_sizes.at(2), 1);
}

// Concurrent clients (several thread counts): batches of more than one instance form, and every
// answer equals the engine's.
TEST_P(ReplicaServerTest, BatchesFormUnderConcurrentClients) {
  for (int clients : {2, 8}) {
    SCOPED_TRACE(clients);
    ReplicaServerOptions options = Options();
    options.max_queue_delay_us = 5000;
    options.io_threads = 4;
    Start(options);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 12; ++i) {
          const size_t image = (t + i) % images_.size();
          auto response = client_->Predict(
              json({{"instances", Instances({images_[image]})}}).dump(), absl::Seconds(30));
          if (!response.ok()) {
            ADD_FAILURE() << response.status();
            ++wrong;
            continue;
          }
          const json p = json::parse(*response)["predictions"][0];
          if (p["label"] != expected_[image].label ||
              std::abs(p["confidence"].get<float>() - expected_[image].confidence) >
                  kConfidenceTolerance) {
            ++wrong;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(wrong.load(), 0);
    auto status = client_->Status();
    ASSERT_TRUE(status.ok()) << status.status();
    int64_t instances = 0, largest = 0;
    for (const auto& [size, count] : status->batch_size_histogram) {
      instances += size * count;
      if (count > 0) largest = std::max<int64_t>(largest, size);
    }
    EXPECT_EQ(instances, clients * 12);
    EXPECT_GT(largest, 1) << "no batch of more than one instance formed";
    EXPECT_LT(status->batches, clients * 12);
    server_->Drain(absl::Seconds(5));
    server_.reset();
    client_.reset();
  }
}

// Requests queued when the drain starts are answered; new ones get 503; health says DRAINING;
// then the server stops and removes its socket.
TEST_P(ReplicaServerTest, DrainFinishesInFlightRequests) {
  ReplicaServerOptions options = Options();
  options.max_queue_delay_us = 60'000'000;  // queued requests would wait a minute undrained
  Start(options);
  std::vector<absl::StatusOr<std::string>> results(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      results[i] = client_->Predict(json({{"instances", Instances({images_[i]})}}).dump(),
                                    absl::Seconds(30));
    });
  }
  ASSERT_TRUE([&] {
    for (int i = 0; i < 2500; ++i) {
      if (server_->stats().batcher.queued_instances == 3) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }());
  server_->BeginDrain();
  auto health = client_->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_FALSE(health->ready);
  EXPECT_EQ(health->state, "DRAINING");
  auto refused =
      client_->Predict(json({{"instances", Instances({images_[3]})}}).dump(), absl::Seconds(10));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("DRAINING"));
  EXPECT_EQ(server_->stats().in_flight, 3);

  const absl::Time start = absl::Now();
  server_->Drain(absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    ExpectPredictions(*results[i], {static_cast<size_t>(i)});
  }
  EXPECT_EQ(server_->state(), ReplicaState::kStopped);
  EXPECT_FALSE(std::filesystem::exists(options.unix_socket_path));
  auto gone = client_->Health(absl::Seconds(1));
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnavailable);
}

TEST_P(ReplicaServerTest, LoadFailureIsReportedAndLeavesNoSocket) {
  const std::filesystem::path broken = dir_.path() / "broken";
  std::filesystem::copy(model_dir_, broken);
  std::filesystem::remove(broken / "model.safetensors");
  ReplicaServerOptions options = Options();
  options.model_dir = broken;
  auto server = ReplicaServer::Create(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("model.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(options.unix_socket_path));

  std::ofstream(broken / "model.safetensors") << "garbage";
  server = ReplicaServer::Create(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("model.safetensors"));
}

// Deadlines (X-Server-Timeout) and cancellation (the client hung up) drop a request before
// compute: 504 / CANCELLED, counted as "expired" / "cancelled" in /status. A long queue delay and
// a batch of 3 keep requests queued until the test sends the one that completes the batch.
class ReplicaDeadlineTest : public ReplicaServerTest {
 protected:
  void StartQueueing() {
    ReplicaServerOptions options = Options();
    options.max_batch_size = 3;
    options.max_queue_delay_us = 60'000'000;
    Start(options);
    auto http = http::HttpClient::Create({.base_url = "unix:" + options.unix_socket_path});
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = std::move(*http);
  }
  // POST /predict of image `i` with X-Server-Timeout `timeout` ("" for none).
  absl::StatusOr<http::HttpResponse> PredictWithTimeout(size_t i, const std::string& timeout) {
    http::HttpRequest request;
    request.method = "POST";
    request.target = "/predict";
    if (!timeout.empty()) request.headers.Set("X-Server-Timeout", timeout);
    request.body = json({{"instances", Instances({images_[i]})}}).dump();
    return http_->Send(request, absl::Seconds(60));
  }
  bool QueuedInstances(int n) {
    for (int i = 0; i < 5000; ++i) {
      if (server_->stats().batcher.queued_instances == n) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }
  std::unique_ptr<http::HttpClient> http_;
};

TEST_P(ReplicaDeadlineTest, ExpiredOnArrivalIs504WithoutQueueing) {
  StartQueueing();
  auto response = PredictWithTimeout(0, "0");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 504) << response->body;
  EXPECT_THAT(response->body, HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_EQ(server_->stats().expired, 1);
  EXPECT_EQ(server_->stats().batcher.batches, 0);
  auto bad = PredictWithTimeout(0, "soon");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_THAT(bad->body, HasSubstr("X-Server-Timeout"));
}

TEST_P(ReplicaDeadlineTest, RequestExpiredInTheQueueIsDroppedBeforeCompute) {
  StartQueueing();
  absl::StatusOr<http::HttpResponse> first, short_lived;
  std::thread a([&] { first = PredictWithTimeout(0, ""); });
  ASSERT_TRUE(QueuedInstances(1));
  std::thread b([&] { short_lived = PredictWithTimeout(1, "0.2"); });
  ASSERT_TRUE(QueuedInstances(2));
  absl::SleepFor(absl::Milliseconds(400));   // b's deadline passes while it waits
  auto third = PredictWithTimeout(2, "30");  // fills the batch: it forms now
  a.join();
  b.join();
  ASSERT_TRUE(short_lived.ok()) << short_lived.status();
  EXPECT_EQ(short_lived->status, 504) << short_lived->body;
  ASSERT_TRUE(first.ok() && third.ok());
  ExpectPredictions(first->body, {0});
  ExpectPredictions(third->body, {2});
  const ReplicaStats stats = server_->stats();
  EXPECT_EQ(stats.expired, 1);
  EXPECT_EQ(stats.batcher.processed_instances, 2);  // the first and the third
  const json status = server_->StatusJson();
  EXPECT_EQ(status["expired"], 1);
  EXPECT_EQ(status["cancelled"], 0);
}

// The router's cancellation reaches the batcher: a cancelled ReplicaClient call closes its
// connection, the replica's HTTP server notices, and the queued request is never computed.
TEST_P(ReplicaDeadlineTest, AbandonedRequestIsCancelledBeforeCompute) {
  StartQueueing();
  absl::StatusOr<http::HttpResponse> first;
  std::thread a([&] { first = PredictWithTimeout(0, ""); });
  ASSERT_TRUE(QueuedInstances(1));
  CancellationToken cancel;
  absl::StatusOr<std::string> abandoned;
  std::thread b([&] {
    abandoned = client_->Predict(json({{"instances", Instances({images_[1]})}}).dump(),
                                 {.timeout = absl::Seconds(60), .cancel = &cancel});
  });
  ASSERT_TRUE(QueuedInstances(2));
  cancel.Cancel();
  b.join();
  EXPECT_EQ(abandoned.status().code(), absl::StatusCode::kCancelled) << abandoned.status();
  // The replica noticed before the batch formed: the test waits for that, then fills the batch.
  absl::SleepFor(absl::Milliseconds(300));
  // Three queued (b counted until dropped): the batch forms now, without b.
  auto c = PredictWithTimeout(2, "");
  a.join();
  ASSERT_TRUE(first.ok() && c.ok());
  ExpectPredictions(first->body, {0});
  ExpectPredictions(c->body, {2});
  const ReplicaStats stats = server_->stats();
  EXPECT_EQ(stats.cancelled, 1);
  EXPECT_EQ(stats.batcher.processed_instances, 2);
  EXPECT_EQ(server_->StatusJson()["cancelled"], 1);
}

// The byte budget: with a budget smaller than two images, a second queued image is 429 with a
// Retry-After hint (through the real client: the hint is on the status).
TEST_P(ReplicaDeadlineTest, QueuedBytesOverTheBudgetAre429WithRetryAfter) {
  ReplicaServerOptions options = Options();
  options.max_batch_size = 3;
  options.max_queue_delay_us = 60'000'000;
  options.max_queued_bytes = 1;  // the first request is admitted alone, whatever its size
  Start(options);
  absl::StatusOr<std::string> first;
  std::thread a([&] {
    first =
        client_->Predict(json({{"instances", Instances({images_[0]})}}).dump(), absl::Seconds(60));
  });
  ASSERT_TRUE([&] {
    for (int i = 0; i < 5000; ++i) {
      if (server_->stats().batcher.queued_instances == 1) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }());
  EXPECT_GT(server_->stats().queued_bytes, 0);
  auto refused =
      client_->Predict(json({{"instances", Instances({images_[1]})}}).dump(), absl::Seconds(10));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("bytes of images queued"));
  ASSERT_TRUE(http::RetryAfterSeconds(refused.status()).has_value());
  EXPECT_GE(*http::RetryAfterSeconds(refused.status()), 1);
  EXPECT_EQ(server_->stats().rejected, 1);
  server_->Drain(absl::Seconds(10));  // processes the queued one
  a.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ExpectPredictions(*first, {0});
  EXPECT_EQ(server_->stats().queued_bytes, 0);
}

INSTANTIATE_TEST_SUITE_P(Preprocess, ReplicaDeadlineTest,
                         ::testing::Values(PreprocessPlace::kIoThreads,
                                           PreprocessPlace::kBatchThread),
                         [](const ::testing::TestParamInfo<PreprocessPlace>& info) {
                           return info.param == PreprocessPlace::kIoThreads ? "IoThreads"
                                                                            : "BatchThread";
                         });

// Every behaviour holds whether images are preprocessed on the io threads or on the batch thread.
// An exception at any stage of a predict (io thread, inside the batch, building the answer) fails
// that request with INTERNAL; the replica serves the next, counts nothing in flight, and drains.
TEST_P(ReplicaServerTest, ExceptionAtAnyStageFailsOnlyItsRequest) {
  for (const std::string stage : {"request", "batch", "answer"}) {
    SCOPED_TRACE(stage);
    auto fired = std::make_shared<std::atomic<bool>>(false);
    ReplicaServerOptions options = Options();
    options.fault_for_test = [stage, fired](std::string_view at) {
      if (at == stage && !fired->exchange(true)) {
        if (stage == "batch") throw 42;  // not a std::exception
        throw std::length_error("vector::_M_default_append");
      }
    };
    Start(options);
    const std::string body = json({{"instances", Instances({images_[0]})}}).dump();
    auto failed = client_->Predict(body, absl::Seconds(30));
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal) << failed.status();
    if (stage != "batch") {
      EXPECT_THAT(std::string(failed.status().message()), HasSubstr("request id"));
    }
    auto next = client_->Predict(body, absl::Seconds(30));
    ASSERT_TRUE(next.ok()) << next.status();
    ExpectPredictions(*next, {0});
    auto bytes = client_->PredictBytes(images_[1], 1, absl::Seconds(30));
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto status = client_->Status();
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_EQ(status->in_flight, 0);
    const absl::Time start = absl::Now();
    server_->Drain(absl::Seconds(20));
    EXPECT_LT(absl::Now() - start, absl::Seconds(15)) << "drain waited on a leaked slot";
    client_.reset();
    server_.reset();
  }
}

INSTANTIATE_TEST_SUITE_P(Preprocess, ReplicaServerTest,
                         ::testing::Values(PreprocessPlace::kIoThreads,
                                           PreprocessPlace::kBatchThread),
                         [](const ::testing::TestParamInfo<PreprocessPlace>& info) {
                           return info.param == PreprocessPlace::kIoThreads ? "IoThreads"
                                                                            : "BatchThread";
                         });

TEST(ReplicaServerOptionsTest, BadOptionsAreRefused) {
  ReplicaServerOptions o;
  o.model_dir = "/nonexistent";
  o.unix_socket_path = "/tmp/x.sock";
  EXPECT_TRUE(ValidateReplicaServerOptions(o).ok());
  ReplicaServerOptions no_listener = o;
  no_listener.unix_socket_path.clear();
  EXPECT_FALSE(ValidateReplicaServerOptions(no_listener).ok());
  ReplicaServerOptions too_many = o;
  too_many.codec.max_instances = 500;
  EXPECT_THAT(std::string(ValidateReplicaServerOptions(too_many).message()),
              HasSubstr("--max-instances must be in [1, 128]"));
  ReplicaServerOptions zero_batch = o;
  zero_batch.max_batch_size = 0;
  EXPECT_THAT(std::string(ValidateReplicaServerOptions(zero_batch).message()),
              HasSubstr("--max-batch-size"));
  ReplicaServerOptions small_queue = o;
  small_queue.max_queue_size = 4;
  small_queue.codec.max_instances = 4;
  EXPECT_THAT(std::string(ValidateReplicaServerOptions(small_queue).message()),
              HasSubstr("--max-queue-size (4) must be at least --max-batch-size (8)"));
  EXPECT_EQ(ReplicaServer::Create(no_listener).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReplicaClientTest, UnreachableReplicaIsUnavailable) {
  auto client = ReplicaClient::Create("/tmp/tessera-no-such-replica.sock");
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Health(absl::Seconds(1)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*client)->Predict("{}", absl::Seconds(1)).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ReplicaClient::Create("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReplicaClientTest, ParsesStatus) {
  auto status = control::ParseReplicaStatus(
      R"({"state":"READY","inFlight":2,"queueDepth":3,"requests":10,"failedRequests":1,
          "batches":4,"batchSizeHistogram":{"1":2,"8":2},"rssBytes":12345,"pid":77,
          "model":{"architecture":"ViTForImageClassification","numLabels":10,
                   "imageSize":[32,32],"precision":"int8",
                   "precisionAgreement":{"images":14,"agreeing":13,"fraction":0.93,
                                         "maxConfidenceDifference":0.01,"source":"samples"}}})");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->precision, "int8");
  EXPECT_EQ(status->precision_agreement.images, 14);
  EXPECT_EQ(status->precision_agreement.agreeing, 13);
  EXPECT_DOUBLE_EQ(status->precision_agreement.max_confidence_difference, 0.01);
  EXPECT_EQ(status->precision_agreement.source, "samples");
  EXPECT_EQ(status->in_flight, 2);
  EXPECT_EQ(status->queue_depth, 3);
  EXPECT_EQ(status->failed_requests, 1);
  EXPECT_EQ(status->batch_size_histogram.at(8), 2);
  EXPECT_EQ(status->rss_bytes, 12345);
  EXPECT_EQ(status->image_width, 32);
  auto loading = control::ParseReplicaStatus(R"({"state":"LOADING","model":null})");
  ASSERT_TRUE(loading.ok());
  EXPECT_EQ(loading->architecture, "");
  // Numbers that are not int64s read as 0, never as undefined behaviour.
  auto odd = control::ParseReplicaStatus(
      R"({"state":"READY","requests":1e300,"pid":-1e19,"inFlight":2.5,"queueDepth":"7"})");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->requests, 0);
  EXPECT_EQ(odd->pid, 0);
  EXPECT_EQ(odd->in_flight, 2);
  EXPECT_EQ(odd->queue_depth, 0);
  EXPECT_FALSE(control::ParseReplicaStatus("[]").ok());
  EXPECT_FALSE(
      control::ParseReplicaStatus(R"({"state":"READY","batchSizeHistogram":{"x":1}})").ok());
}

}  // namespace
}  // namespace tessera::runtime
