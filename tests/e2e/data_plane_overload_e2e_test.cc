// Overload, deadlines and cancellation on the real binary (issue 14, mechanisms 3 and 4):
// X-Server-Timeout and an endpoint's clientConnectionConfig.inferenceTimeout give 504 and the
// replica drops the request before compute; request bodies in flight beyond
// --max-inflight-request-mib get 429 with Retry-After in each protocol's error shape; a flood
// beyond a replica's queue gets 429 with Retry-After while accepted requests are answered
// correctly; a client that hangs up mid-request is cancelled in the replica's batch queue;
// predicts beyond serve's --predict-threads and --max-queued-predicts get 429 at once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include "e2e/data_plane_fixture.h"

namespace tessera::testing {
namespace {

using nlohmann::json;

// A TCP connection to the server that sends raw bytes: a client that stops half-way or leaves.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() { Close(); }
  bool Send(const std::string& bytes) {
    size_t sent = 0;
    while (fd_ >= 0 && sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return fd_ >= 0;
  }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string HttpPost(const std::string& target, const std::string& body, const std::string& key,
                     size_t content_length = std::string::npos) {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         "Authorization: Bearer " + key + "\r\nContent-Length: " +
         std::to_string(content_length == std::string::npos ? body.size() : content_length) +
         "\r\n\r\n" + body;
}

// `count` copies of one small image.
json ManyImages(int count) {
  std::vector<std::filesystem::path> images(count, FashionImage("0018-bag.png"));
  return PredictBody(images);
}

// `count` copies of the vendored 640x480 photo: decoding them takes the replica a while
// (fashion-vit itself computes 64 small images in a few milliseconds), so a short deadline passes
// mid-request.
json ManyPhotos(int count) {
  const std::filesystem::path photo =
      FashionImage("x").parent_path().parent_path() / "photos" / "coco-000000039769-cats.png";
  return PredictBody(std::vector<std::filesystem::path>(count, photo));
}

class DataPlaneOverloadE2E : public DataPlaneTest {
 protected:
  // Deploys fashion-vit with `batching` (the deployedModel.tessera.batching object) on 1 replica.
  std::string DeployWith(const std::string& endpoint, const std::string& model,
                         const json& batching) {
    json dm = {{"model", model},
               {"dedicatedResources",
                {{"machineSpec", {{"machineType", "tessera-cpu-1"}}},
                 {"minReplicaCount", 1},
                 {"maxReplicaCount", 1}}},
               {"tessera", {{"batching", batching}}}};
    auto done = DeployReply(endpoint, dm, nullptr);
    EXPECT_TRUE(done.body.contains("response")) << done.raw;
    if (!done.body.contains("response")) return "";
    return done.body["response"]["deployedModel"]["id"];
  }
  json Replica(const std::string& endpoint, const std::string& id) {
    json status = Replicas(endpoint, id);
    return status["replicas"].empty() ? json::object() : status["replicas"][0];
  }
};

TEST_F(DataPlaneOverloadE2E, DeadlinesFromTheClientAndTheEndpointGive504BeforeCompute) {
  StartServer();
  const std::string model = Upload("fashion");
  auto created = server_->Call("POST", std::string(kDataPlaneLoc) + "/endpoints",
                               json{{"displayName", "deadlines"},
                                    {"clientConnectionConfig", {{"inferenceTimeout", "0.05s"}}}});
  ASSERT_EQ(created.status, 200) << created.raw;
  const std::string endpoint = created.body["response"]["name"];
  auto got = server_->Call("GET", "/v1/" + endpoint);
  EXPECT_EQ(got.body["clientConnectionConfig"]["inferenceTimeout"], "0.05s") << got.raw;
  const std::string id = DeployWith(endpoint, model, {{"maxBatchSize", 8}});
  ASSERT_FALSE(id.empty());
  const json many = ManyPhotos(32);

  // The endpoint's 50 ms: 32 photos take the replica several batches; the request is dropped.
  absl::Time start = absl::Now();
  PredictReply reply = Predict(endpoint, many);
  EXPECT_EQ(reply.status, 504) << reply.raw;
  EXPECT_EQ(reply.body["error"]["status"], "DEADLINE_EXCEEDED") << reply.raw;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));

  // Raised with updateMask, the same request is answered in full.
  auto patched = server_->Call("PATCH", "/v1/" + endpoint + "?updateMask=clientConnectionConfig",
                               json{{"clientConnectionConfig", {{"inferenceTimeout", "120s"}}}});
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_EQ(patched.body["clientConnectionConfig"]["inferenceTimeout"], "120s");
  ASSERT_TRUE(Eventually([&] { return Predict(endpoint, ManyImages(1)).status == 200; },
                         absl::Seconds(10)));
  reply = Predict(endpoint, many);
  ASSERT_EQ(reply.status, 200) << reply.raw;
  ASSERT_EQ(reply.body["predictions"].size(), 32u);
  EXPECT_EQ(reply.body["predictions"][31]["label"], reply.body["predictions"][0]["label"]);

  // The client's X-Server-Timeout, on the Vertex route and on TF Serving's.
  const json before = Replica(endpoint, id);
  start = absl::Now();
  reply = Predict(endpoint, many, {{"X-Server-Timeout", "0.05"}});
  EXPECT_EQ(reply.status, 504) << reply.raw;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  std::string tf_model = model.substr(model.rfind('/') + 1);  // the model id, without @version
  tf_model = tf_model.substr(0, tf_model.find('@'));
  json tf_body = {{"instances", json::array()}};
  for (const json& instance : many["instances"]) {
    tf_body["instances"].push_back(instance["string_input"]);
  }
  reply =
      Post("/v1/models/" + tf_model + ":predict", tf_body.dump(), {{"X-Server-Timeout", "0.05"}});
  EXPECT_EQ(reply.status, 504) << reply.raw;
  EXPECT_TRUE(reply.body["error"].is_string()) << reply.raw;  // TF Serving's shape

  // Neither was computed whole: each was dropped before compute, by the router (its deadline
  // passed before it was forwarded) or by the replica (counted as expired at batch formation;
  // ReplicaDeadlineTest covers that side alone). Which one depends on the host's speed.
  ASSERT_TRUE(Eventually(
      [&] {
        const json r = Replica(endpoint, id);
        return r.value("inFlight", 1) == 0 && r.value("queueDepth", 1) == 0;
      },
      absl::Seconds(15)))
      << Replica(endpoint, id).dump();
  const json after = Replica(endpoint, id);
  EXPECT_LT(after["batches"].get<int>() - before["batches"].get<int>(), 2 * 4) << after.dump();

  // A bad header is the client's error, in each protocol's shape.
  reply = Predict(endpoint, ManyImages(1), {{"X-Server-Timeout", "soon"}});
  EXPECT_EQ(reply.status, 400) << reply.raw;
  EXPECT_EQ(reply.body["error"]["status"], "INVALID_ARGUMENT");
  reply = Post("/v2/models/" + tf_model + "/infer", "{}", {{"X-Server-Timeout", "-1"}});
  EXPECT_EQ(reply.status, 400) << reply.raw;
  EXPECT_TRUE(reply.body["error"].is_string()) << reply.raw;

  // And the server keeps serving normal traffic.
  reply = Predict(endpoint, ManyImages(1));
  EXPECT_EQ(reply.status, 200) << reply.raw;
}

TEST_F(DataPlaneOverloadE2E, RequestBodiesBeyondTheInFlightLimitGet429WithRetryAfter) {
  StartServer({"--max-inflight-request-mib", "1"});
  const std::string target = "/v1/projects/p/locations/us-central1/endpoints/e:predict";
  // A client that announces ~1 MiB and sends none of it holds the budget while it is read.
  RawClient holder(server_->port());
  ASSERT_TRUE(holder.Send(HttpPost(target, "", server_->admin_key(), 1'000'000)));
  absl::SleepFor(absl::Milliseconds(200));

  const std::string big(300'000, ' ');
  PredictReply vertex = Post(target, big);
  EXPECT_EQ(vertex.status, 429) << vertex.raw << vertex.error;
  EXPECT_EQ(vertex.body["error"]["status"], "RESOURCE_EXHAUSTED") << vertex.raw;
  ASSERT_NE(vertex.headers.Find("Retry-After"), nullptr);
  EXPECT_GE(std::stoi(*vertex.headers.Find("Retry-After")), 1);
  PredictReply tf = Post("/v1/models/m:predict", big);
  EXPECT_EQ(tf.status, 429) << tf.raw;
  EXPECT_TRUE(tf.body["error"].is_string()) << tf.raw;
  EXPECT_NE(tf.headers.Find("Retry-After"), nullptr);
  PredictReply kserve = Post("/v2/models/m/infer", big);
  EXPECT_EQ(kserve.status, 429) << kserve.raw;
  EXPECT_TRUE(kserve.body["error"].is_string()) << kserve.raw;

  // Requests without a large body are still served.
  auto listed = server_->Call("GET", std::string(kDataPlaneLoc) + "/endpoints");
  EXPECT_EQ(listed.status, 200) << listed.raw;

  // Once the holder leaves, the budget is free again: the same body is admitted (and judged).
  holder.Close();
  ASSERT_TRUE(Eventually([&] { return Post(target, big).status != 429; }, absl::Seconds(10)));
  PredictReply admitted = Post(target, big);
  EXPECT_EQ(admitted.status, 400) << admitted.raw;  // all spaces: not a JSON object
}

TEST_F(DataPlaneOverloadE2E, FloodBeyondTheReplicaQueueGets429AndAcceptedWorkIsAnswered) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  // A queue of 64 images: one 64-image request fills it while it waits for the batch thread.
  const std::string id = DeployWith(endpoint, model, {{"maxBatchSize", 8}, {"maxQueueSize", 64}});
  ASSERT_FALSE(id.empty());
  const std::string body = ManyImages(64).dump();

  std::mutex mu;
  std::map<int, int> statuses;
  std::vector<std::string> problems;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 12; ++t) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        PredictReply reply = Post("/v1/" + endpoint + ":predict", body);
        std::lock_guard<std::mutex> lock(mu);
        ++statuses[reply.status];
        if (reply.status == 200) {
          if (reply.body["predictions"].size() != 64 ||
              reply.body["predictions"][0]["label"] != "Bag") {
            problems.push_back("wrong answer: " + reply.raw.substr(0, 200));
          }
        } else if (reply.status == 429) {
          const std::string* retry_after = reply.headers.Find("Retry-After");
          if (retry_after == nullptr || std::stoi(*retry_after) < 1) {
            problems.push_back("429 without Retry-After: " + reply.raw);
          }
          absl::SleepFor(absl::Milliseconds(20));  // a little politer than a busy loop
        } else if (reply.status != 503 && reply.status != 504) {
          problems.push_back(std::to_string(reply.status) + ": " + reply.raw + reply.error);
        }
      }
    });
  }
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return statuses[200] >= 3 && statuses[429] >= 3;
      },
      absl::Seconds(60)));
  stop = true;
  for (std::thread& t : clients) t.join();
  for (const std::string& p : problems) ADD_FAILURE() << p;
  std::fprintf(stderr, "flood: %d answered, %d refused with 429\n", statuses[200], statuses[429]);

  // The server and the replica are fine afterwards; the refusals were counted by the replica.
  PredictReply after = Predict(endpoint, ManyImages(1));
  EXPECT_EQ(after.status, 200) << after.raw;
  ASSERT_TRUE(
      Eventually([&] { return Replica(endpoint, id).value("rejected", 0) > 0; }, absl::Seconds(10)))
      << Replica(endpoint, id).dump();
  EXPECT_EQ(Replica(endpoint, id)["restarts"], 0);
}

TEST_F(DataPlaneOverloadE2E, ClientThatHangsUpIsCancelledInTheReplicaBeforeCompute) {
  StartServer();
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  // A lone image waits 3 s for batch-mates: time for its client to leave.
  const std::string id =
      DeployWith(endpoint, model, {{"maxBatchSize", 8}, {"maxQueueDelayUs", 3'000'000}});
  ASSERT_FALSE(id.empty());
  {
    RawClient leaver(server_->port());
    ASSERT_TRUE(leaver.Send(
        HttpPost("/v1/" + endpoint + ":predict", ManyImages(1).dump(), server_->admin_key())));
    absl::SleepFor(absl::Milliseconds(500));
  }  // closed here, with the image still queued in the replica
  ASSERT_TRUE(Eventually([&] { return Replica(endpoint, id).value("cancelled", 0) == 1; },
                         absl::Seconds(20)))
      << Replica(endpoint, id).dump();
  const json replica = Replica(endpoint, id);
  EXPECT_EQ(replica["batches"], 0) << replica.dump();  // never computed
  EXPECT_EQ(replica["queueDepth"], 0) << replica.dump();
  // A client that stays gets its answer (after the queue delay).
  PredictReply reply = Predict(endpoint, ManyImages(1));
  EXPECT_EQ(reply.status, 200) << reply.raw;
}

TEST(ServeAdmissionFlags, OutOfRangeValuesAreRefusedByName) {
  for (const auto& [flag, value] :
       {std::pair{"--predict-threads", "0"}, std::pair{"--predict-threads", "4097"},
        std::pair{"--max-queued-predicts", "0"}, std::pair{"--max-queued-predicts", "many"}}) {
    ScopedTempDir tmp;
    CliResult run = RunCli({"serve", "--listen", "127.0.0.1:0", "--data-dir",
                            (tmp.path() / "data").string(), flag, value});
    EXPECT_NE(run.exit_status, 0) << flag << " " << value << " was accepted";
    EXPECT_NE((run.out + run.err).find(flag), std::string::npos)
        << flag << " " << value << ": " << run.err;
  }
}

TEST_F(DataPlaneOverloadE2E, PredictsBeyondTheForwardingThreadsAndTheirQueueGet429AtOnce) {
  // One forwarding thread and one waiting predict: a third concurrent predict is refused by
  // serve itself, before it reaches any replica.
  StartServer({"--predict-threads", "1", "--max-queued-predicts", "1"});
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  // A lone image waits 3 s for batch-mates: the forwarding thread stays busy that long.
  const std::string id =
      DeployWith(endpoint, model, {{"maxBatchSize", 8}, {"maxQueueDelayUs", 3'000'000}});
  ASSERT_FALSE(id.empty());
  const std::string target = "/v1/" + endpoint + ":predict";
  const std::string body = ManyImages(1).dump();
  PredictReply first, second;
  std::thread forwarded([&] { first = Post(target, body); });
  absl::SleepFor(absl::Milliseconds(500));
  std::thread queued([&] { second = Post(target, body); });
  absl::SleepFor(absl::Milliseconds(500));

  const absl::Time start = absl::Now();
  PredictReply refused = Post(target, body);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "refused at once, not after the queue";
  EXPECT_EQ(refused.status, 429) << refused.raw;
  EXPECT_EQ(refused.body["error"]["status"], "RESOURCE_EXHAUSTED") << refused.raw;
  EXPECT_NE(refused.raw.find("predict queue full"), std::string::npos) << refused.raw;
  const std::string* retry_after = refused.headers.Find("Retry-After");
  ASSERT_NE(retry_after, nullptr) << refused.raw;
  EXPECT_GE(std::stoi(*retry_after), 1);

  // The accepted two are answered correctly, and the replica never saw the third.
  forwarded.join();
  queued.join();
  EXPECT_EQ(first.status, 200) << first.raw;
  EXPECT_EQ(second.status, 200) << second.raw;
  EXPECT_EQ(first.body["predictions"][0]["label"], "Bag") << first.raw;
  EXPECT_EQ(Replica(endpoint, id).value("rejected", -1), 0) << Replica(endpoint, id).dump();
}

}  // namespace
}  // namespace tessera::testing
