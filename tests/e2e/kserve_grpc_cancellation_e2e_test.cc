// KServe v2 gRPC on the real binary (issue 14, deadlines and cancellation end to end): a call the
// client cancels while its image waits in the replica's batch queue is dropped there before
// compute, as a REST client that hangs up is (DataPlaneOverloadE2E); a call that stays is
// answered.
#include <grpcpp/grpcpp.h>

#include <thread>

#include "e2e/data_plane_fixture.h"
#include "serving/grpc/kserve_v2.grpc.pb.h"

namespace tessera::testing {
namespace {

using nlohmann::json;

class KserveGrpcCancellationE2E : public DataPlaneTest {};

TEST_F(KserveGrpcCancellationE2E, ACancelledCallIsDroppedInTheReplicaBeforeCompute) {
  const int grpc_port = FreeLoopbackPort();
  ASSERT_NE(grpc_port, 0);
  const std::string grpc_address = "127.0.0.1:" + std::to_string(grpc_port);
  StartServer({"--grpc-listen", grpc_address});
  const std::string model = Upload("fashion");
  const std::string endpoint = CreateEndpoint();
  // A lone image waits 3 s for batch-mates: time for its client to cancel.
  json dm = {{"model", model},
             {"dedicatedResources",
              {{"machineSpec", {{"machineType", "tessera-cpu-1"}}},
               {"minReplicaCount", 1},
               {"maxReplicaCount", 1}}},
             {"tessera", {{"batching", {{"maxBatchSize", 8}, {"maxQueueDelayUs", 3'000'000}}}}}};
  auto deployed = DeployReply(endpoint, dm, nullptr);
  ASSERT_TRUE(deployed.body.contains("response")) << deployed.raw;
  const std::string id = deployed.body["response"]["deployedModel"]["id"];
  std::string model_id = model.substr(model.rfind('/') + 1);
  model_id = model_id.substr(0, model_id.find('@'));

  auto stub = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials()));
  inference::ModelInferRequest request;
  request.set_model_name(model_id);
  auto* input = request.add_inputs();
  input->set_name("string_input");
  input->set_datatype("BYTES");
  input->add_shape(1);
  input->mutable_contents()->add_bytes_contents(ReadBytes(FashionImage("0018-bag.png")));

  const auto replica = [&] {
    json r = Replicas(endpoint, id);
    return r["replicas"].empty() ? json::object() : r["replicas"][0];
  };
  grpc::ClientContext cancelled_call;
  cancelled_call.AddMetadata("authorization", "Bearer " + server_->admin_key());
  cancelled_call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status status;
  inference::ModelInferResponse response;
  std::thread call([&] { status = stub->ModelInfer(&cancelled_call, request, &response); });
  // Cancelled once its image waits in the replica's batch queue, not on a timer.
  const bool queued =
      Eventually([&] { return replica().value("queueDepth", 0) == 1; }, absl::Seconds(20));
  cancelled_call.TryCancel();
  call.join();
  ASSERT_TRUE(queued) << replica().dump();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();

  ASSERT_TRUE(Eventually([&] { return replica().value("cancelled", 0) == 1; }, absl::Seconds(20)))
      << replica().dump();
  EXPECT_EQ(replica()["batches"], 0) << "never computed: " << replica().dump();
  EXPECT_EQ(replica()["queueDepth"], 0) << replica().dump();

  // A call that stays is answered (after the queue delay).
  grpc::ClientContext patient;
  patient.AddMetadata("authorization", "Bearer " + server_->admin_key());
  patient.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  const grpc::Status answered = stub->ModelInfer(&patient, request, &response);
  ASSERT_TRUE(answered.ok()) << answered.error_message();
  ASSERT_EQ(response.outputs_size(), 2);
  EXPECT_TRUE(Eventually([&] { return replica().value("batches", 0) == 1; }, absl::Seconds(20)))
      << replica().dump();
}

}  // namespace
}  // namespace tessera::testing
