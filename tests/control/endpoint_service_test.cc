// EndpointService: endpoints, deploy / undeploy with their traffic splits, every bad case,
// the deployment lifecycle with a controllable DeploymentWaiter, restart recovery.
#include "control/endpoint_service.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "testing/registry_harness.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/byte_units.h"

namespace tessera::control {
namespace {

namespace fs = std::filesystem;
using registry::DedicatedResources;
using registry::DeployedModel;
using registry::DeployedModelState;
using registry::Endpoint;
using registry::Operation;
using registry::OperationKind;
using registry::TrafficSplit;
using testing::kTestParent;
using testing::RegistryHarness;
using testing::ScopedTempDir;

using tessera::testing::kGiB;

// A waiter the test controls: each WaitUntilReady blocks until Release() (or cancel) and
// returns `result`.
class GatedWaiter final : public DeploymentWaiter {
 public:
  absl::Status WaitUntilReady(const Endpoint&, const DeployedModel& dm,
                              const registry::CancellationToken& cancel) override {
    {
      absl::MutexLock lock(&mu_);
      ++waiting_;
      last_ = dm.id;
    }
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (released_) {
          --waiting_;
          return result_;
        }
      }
      if (cancel.WaitFor(absl::Milliseconds(5))) {
        absl::MutexLock lock(&mu_);
        --waiting_;
        return absl::CancelledError("cancelled while waiting for replicas");
      }
    }
  }
  void WaitUntilRouted(const registry::CancellationToken&, absl::Duration) override {}
  absl::Status WaitUntilStopped(const Endpoint&, const DeployedModel&,
                                const registry::CancellationToken&) override {
    return absl::OkStatus();
  }
  void Release(absl::Status result) {
    absl::MutexLock lock(&mu_);
    result_ = std::move(result);
    released_ = true;
  }
  void WaitForWaiters(int n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() { return waiting_ >= n; };
    mu_.Await(absl::Condition(&enough));
  }

 private:
  absl::Mutex mu_;
  int waiting_ = 0;
  bool released_ = false;
  absl::Status result_;
  std::string last_;
};

class EndpointServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteTinyCheckpoint(tmp_.path() / "ckpt", 1);
    ASSERT_TRUE(h_.Open().ok());
    auto m = h_.UploadFolder(tmp_.path() / "ckpt");
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *m;
    auto v2 = h_.UploadFolder(tmp_.path() / "ckpt", model_.name);
    ASSERT_TRUE(v2.ok());
    ASSERT_TRUE(h_.models().MergeVersionAliases(model_.name + "@2", {"canary"}).ok());
    OpenEndpoints(&immediate_);
  }
  void OpenEndpoints(DeploymentWaiter* waiter) {
    endpoints_.reset();
    EndpointService::Options o;
    o.store = &h_.store();
    o.operations = &h_.operations();
    o.waiter = waiter;
    o.clock = &h_.clock();
    o.host = {.cpu_count = 2, .memory_bytes = 16 * kGiB};
    auto s = EndpointService::Create(o);
    ASSERT_TRUE(s.ok()) << s.status();
    endpoints_ = std::move(*s);
  }
  Endpoint CreateEndpoint(const std::string& display = "ep", const std::string& id = "") {
    Endpoint e;
    e.display_name = display;
    auto op = endpoints_->CreateEndpoint(kTestParent, e, id);
    EXPECT_TRUE(op.ok()) << op.status();
    if (!op.ok()) return {};
    EXPECT_TRUE(op->done);
    EXPECT_EQ(op->kind, OperationKind::kCreateEndpoint);
    return *endpoints_->GetEndpoint(op->result.endpoint);
  }
  static DeployedModel Dm(const std::string& model, int min = 1, int max = 2,
                          const std::string& machine = "n1-standard-2") {
    DeployedModel dm;
    dm.model = model;
    DedicatedResources r;
    r.machine_spec.machine_type = machine;
    r.min_replica_count = min;
    r.max_replica_count = max;
    dm.dedicated_resources = r;
    return dm;
  }
  absl::StatusOr<Operation> Deploy(const Endpoint& e, const DeployedModel& dm,
                                   const TrafficSplit& split = {}) {
    auto op = endpoints_->DeployModel({e.name, dm, split});
    if (!op.ok()) return op.status();
    return h_.Wait(*op);
  }
  // Deploys and expects success; returns the new deployed model id.
  std::string MustDeploy(const Endpoint& e, const DeployedModel& dm,
                         const TrafficSplit& split = {}) {
    auto op = Deploy(e, dm, split);
    EXPECT_TRUE(op.ok()) << op.status();
    if (!op.ok()) return "";
    EXPECT_TRUE(op->error.ok()) << op->error;
    EXPECT_EQ(op->result.endpoint, e.name);
    return op->result.deployed_model_id;
  }
  absl::StatusOr<Operation> Undeploy(const Endpoint& e, const std::string& id,
                                     const TrafficSplit& split = {}) {
    auto op = endpoints_->UndeployModel({e.name, id, split});
    if (!op.ok()) return op.status();
    return h_.Wait(*op);
  }

  ScopedTempDir tmp_;
  RegistryHarness h_{tmp_.path() / "data"};
  registry::Model model_;
  ImmediateDeploymentWaiter immediate_;
  std::unique_ptr<EndpointService> endpoints_;
};

TEST_F(EndpointServiceTest, CreateGetListUpdateDelete) {
  Endpoint a = CreateEndpoint("alpha");
  EXPECT_EQ(a.name, std::string(kTestParent) + "/endpoints/1");
  EXPECT_TRUE(a.deployed_models.empty());
  EXPECT_TRUE(a.traffic_split.empty());
  Endpoint b = CreateEndpoint("beta", "my-endpoint");
  EXPECT_EQ(b.name, std::string(kTestParent) + "/endpoints/my-endpoint");
  CreateEndpoint("alpha");

  auto page = endpoints_->ListEndpoints(kTestParent, {.page_size = 2});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 2u);
  auto rest =
      endpoints_->ListEndpoints(kTestParent, {.page_size = 2, .page_token = page->next_page_token});
  EXPECT_EQ(rest->items.size(), 1u);
  EXPECT_TRUE(rest->next_page_token.empty());
  EXPECT_EQ(
      endpoints_->ListEndpoints(kTestParent, {.filter = "display_name=\"alpha\""})->items.size(),
      2u);

  Endpoint patch = a;
  patch.display_name = "renamed";
  patch.labels = {{"env", "prod"}};
  auto updated = endpoints_->UpdateEndpoint(patch, {"displayName", "labels"});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->display_name, "renamed");
  EXPECT_NE(updated->etag, a.etag);
  EXPECT_EQ(endpoints_->ListEndpoints(kTestParent, {.filter = "labels.env=prod"})->items.size(),
            1u);
  // A stale etag is refused.
  patch.display_name = "again";
  auto stale = endpoints_->UpdateEndpoint(patch, {"displayName"});
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();

  auto del = endpoints_->DeleteEndpoint(b.name);
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->done);
  EXPECT_EQ(del->kind, OperationKind::kDeleteEndpoint);
  EXPECT_TRUE(absl::IsNotFound(endpoints_->GetEndpoint(b.name).status()));
}

TEST_F(EndpointServiceTest, EndpointBadRequests) {
  Endpoint e;
  e.display_name = "ok";
  EXPECT_TRUE(absl::IsInvalidArgument(endpoints_->CreateEndpoint("projects/p", e, "").status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(endpoints_->CreateEndpoint(kTestParent, Endpoint{}, "").status()));
  Endpoint bad_labels = e;
  bad_labels.labels = {{"BAD", "x"}};
  EXPECT_TRUE(
      absl::IsInvalidArgument(endpoints_->CreateEndpoint(kTestParent, bad_labels, "").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(endpoints_->CreateEndpoint(kTestParent, e, "123").status()));
  EXPECT_TRUE(endpoints_->CreateEndpoint(kTestParent, e, "dup").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(endpoints_->CreateEndpoint(kTestParent, e, "dup").status()));
  EXPECT_TRUE(absl::IsNotFound(
      endpoints_->GetEndpoint(std::string(kTestParent) + "/endpoints/404").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(endpoints_->GetEndpoint("endpoints/1").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      endpoints_->ListEndpoints(kTestParent, {.page_token = "zzz"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      endpoints_->ListEndpoints(kTestParent, {.filter = "state=ok"}).status()));
  Endpoint patch = *endpoints_->GetEndpoint(std::string(kTestParent) + "/endpoints/dup");
  EXPECT_TRUE(absl::IsInvalidArgument(endpoints_->UpdateEndpoint(patch, {}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(endpoints_->UpdateEndpoint(patch, {"deployedModels"}).status()));
  patch.display_name = "";
  EXPECT_TRUE(absl::IsInvalidArgument(endpoints_->UpdateEndpoint(patch, {"displayName"}).status()));
  patch.traffic_split = {{"1", 100}};
  EXPECT_TRUE(
      absl::IsInvalidArgument(endpoints_->UpdateEndpoint(patch, {"trafficSplit"}).status()));
  EXPECT_TRUE(absl::IsNotFound(
      endpoints_->DeleteEndpoint(std::string(kTestParent) + "/endpoints/404").status()));
}

TEST_F(EndpointServiceTest, DeployFirstModelGetsAllTrafficAndIsLinked) {
  Endpoint e = CreateEndpoint();
  std::string id = MustDeploy(e, Dm(model_.name));
  Endpoint got = *endpoints_->GetEndpoint(e.name);
  ASSERT_EQ(got.deployed_models.size(), 1u);
  const DeployedModel& dm = got.deployed_models[0];
  EXPECT_EQ(dm.id, id);
  EXPECT_EQ(dm.model, model_.name);
  EXPECT_EQ(dm.model_version_id, "1") << "no @: the default version";
  EXPECT_EQ(dm.display_name, "my model") << "defaults to the model's display name";
  EXPECT_EQ(dm.state, DeployedModelState::kDeployed);
  EXPECT_EQ(dm.desired_replica_count, 1);
  EXPECT_EQ(dm.MaxReplicaCount(), 2);
  EXPECT_EQ(got.traffic_split, (TrafficSplit{{id, 100}}));
  auto m = h_.models().GetModel(model_.name + "@1");
  ASSERT_EQ(m->deployed_models.size(), 1u);
  EXPECT_EQ(m->deployed_models[0].endpoint, e.name);
  EXPECT_EQ(m->deployed_models[0].deployed_model_id, id);
}

TEST_F(EndpointServiceTest, CanaryByAliasThenShiftThenUndeploy) {
  Endpoint e = CreateEndpoint();
  std::string v1 = MustDeploy(e, Dm(model_.name));
  DeployedModel canary = Dm(model_.name + "@canary");
  canary.display_name = "canary";
  canary.batching.max_batch_size = 16;
  canary.batching.max_queue_size = 64;
  std::string v2 = MustDeploy(e, canary, {{"0", 10}, {v1, 90}});
  Endpoint got = *endpoints_->GetEndpoint(e.name);
  EXPECT_EQ(got.traffic_split, (TrafficSplit{{v1, 90}, {v2, 10}}));
  const DeployedModel* c = got.FindDeployedModel(v2);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->model_version_id, "2");
  EXPECT_EQ(c->batching.max_batch_size, 16);
  EXPECT_EQ(c->batching.max_queue_size, 64);

  // Shift all traffic with PATCH, then undeploy v1 without a split (it has 0% now).
  Endpoint patch = got;
  patch.traffic_split = {{v1, 0}, {v2, 100}};
  ASSERT_TRUE(endpoints_->UpdateEndpoint(patch, {"trafficSplit"}).ok());
  auto op = Undeploy(e, v1);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_TRUE(op->error.ok()) << op->error;
  got = *endpoints_->GetEndpoint(e.name);
  EXPECT_EQ(got.deployed_models.size(), 1u);
  EXPECT_EQ(got.traffic_split, (TrafficSplit{{v2, 100}}));
  // Undeploying the last one empties the split; then the endpoint and model can go.
  ASSERT_TRUE(Undeploy(e, v2)->error.ok());
  got = *endpoints_->GetEndpoint(e.name);
  EXPECT_TRUE(got.deployed_models.empty());
  EXPECT_TRUE(got.traffic_split.empty());
  EXPECT_TRUE(endpoints_->DeleteEndpoint(e.name).ok());
  EXPECT_TRUE(h_.models().DeleteModel(model_.name).ok());
}

TEST_F(EndpointServiceTest, UserChosenDeployedModelIdIsHonoured) {
  Endpoint e = CreateEndpoint();
  DeployedModel chosen = Dm(model_.name);
  chosen.id = "4242";
  EXPECT_EQ(MustDeploy(e, chosen), "4242");
  Endpoint got = *endpoints_->GetEndpoint(e.name);
  ASSERT_EQ(got.deployed_models.size(), 1u);
  EXPECT_EQ(got.deployed_models[0].id, "4242");
  EXPECT_EQ(got.traffic_split, (TrafficSplit{{"4242", 100}}));
  // Taken, on this endpoint or another: refused before anything starts.
  auto again = endpoints_->DeployModel({e.name, chosen, {}});
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_NE(again.status().message().find("4242"), std::string_view::npos);
  Endpoint other = CreateEndpoint("other");
  again = endpoints_->DeployModel({other.name, chosen, {}});
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  // Bad forms, by name.
  for (const char* bad : {"abc", "0", "042", "12345678901", "-1", "4 2"}) {
    DeployedModel dm = Dm(model_.name);
    dm.id = bad;
    auto op = endpoints_->DeployModel({e.name, dm, {}});
    EXPECT_TRUE(absl::IsInvalidArgument(op.status())) << bad << ": " << op.status();
    EXPECT_NE(op.status().message().find("deployedModel.id"), std::string_view::npos) << bad;
  }
  // Without an id one is still allocated, and it does not collide with the chosen one.
  const std::string allocated = MustDeploy(e, Dm(model_.name + "@2"), {{"0", 0}, {"4242", 100}});
  EXPECT_FALSE(allocated.empty());
  EXPECT_NE(allocated, "4242");
  // Undeployed, the id is free again.
  ASSERT_TRUE(Undeploy(e, allocated)->error.ok());
  ASSERT_TRUE(Undeploy(e, "4242")->error.ok());
  EXPECT_EQ(MustDeploy(other, chosen), "4242");
}

TEST_F(EndpointServiceTest, DeployBadRequests) {
  Endpoint e = CreateEndpoint();
  std::string v1 = MustDeploy(e, Dm(model_.name));
  struct Case {
    const char* what;
    std::string endpoint;
    DeployedModel dm;
    TrafficSplit split;
    absl::StatusCode code;
    const char* message;
  };
  using enum absl::StatusCode;
  DeployedModel gpu = Dm(model_.name);
  gpu.dedicated_resources->machine_spec.accelerator_type = "NVIDIA_L4";
  DeployedModel batch = Dm(model_.name);
  batch.batching.max_batch_size = 0;
  DeployedModel bf16 = Dm(model_.name), int8 = Dm(model_.name), fp8 = Dm(model_.name);
  bf16.precision = "bf16";
  int8.precision = "int8";
  fp8.precision = "fp8";
  std::vector<Case> cases = {
      {"unknown endpoint",
       std::string(kTestParent) + "/endpoints/404",
       Dm(model_.name),
       {},
       kNotFound,
       "endpoint"},
      {"bad endpoint name",
       "endpoints/1",
       Dm(model_.name),
       {},
       kInvalidArgument,
       "invalid endpoint name"},
      {"no model", e.name, Dm(""), {}, kInvalidArgument, "deployedModel.model is required"},
      {"unknown model",
       e.name,
       Dm(std::string(kTestParent) + "/models/999"),
       {},
       kNotFound,
       "not found"},
      {"unknown version", e.name, Dm(model_.name + "@9"), {}, kNotFound, "no version 9"},
      {"unknown alias", e.name, Dm(model_.name + "@golden"), {}, kNotFound, "golden"},
      {"other location",
       e.name,
       Dm("projects/test-project/locations/europe-west4/models/1"),
       {},
       kInvalidArgument,
       "is not in"},
      {"min > max", e.name, Dm(model_.name, 3, 2), {}, kInvalidArgument, "less than"},
      {"min 0", e.name, Dm(model_.name, 0, 2), {}, kInvalidArgument, "minReplicaCount"},
      {"unknown machine",
       e.name,
       Dm(model_.name, 1, 1, "z9-mega-1"),
       {},
       kInvalidArgument,
       "unknown machine type"},
      {"host too small",
       e.name,
       Dm(model_.name, 1, 1, "n1-highmem-16"),
       {},
       kFailedPrecondition,
       "cannot hold"},
      {"gpu", e.name, gpu, {}, kInvalidArgument, "accelerators"},
      {"bad batching", e.name, batch, {}, kInvalidArgument, "maxBatchSize"},
      // This fixture's host runs fp32 only (HostResources' default).
      {"bf16 on an fp32 host",
       e.name,
       bf16,
       {},
       kFailedPrecondition,
       "\"bf16\" does not run natively on this host"},
      {"int8 on an fp32 host",
       e.name,
       int8,
       {},
       kFailedPrecondition,
       "\"int8\" does not run natively on this host"},
      {"fp8", e.name, fp8, {}, kInvalidArgument, "must be \"fp32\", \"bf16\" or \"int8\""},
      {"split not 100", e.name, Dm(model_.name), {{"0", 50}, {v1, 40}}, kInvalidArgument, "100"},
      {"split unknown id",
       e.name,
       Dm(model_.name),
       {{"0", 50}, {"999", 50}},
       kInvalidArgument,
       "999"},
      {"split negative",
       e.name,
       Dm(model_.name),
       {{"0", 110}, {v1, -10}},
       kInvalidArgument,
       "trafficSplit"},
  };
  for (const Case& c : cases) {
    auto op = endpoints_->DeployModel({c.endpoint, c.dm, c.split});
    EXPECT_EQ(op.status().code(), c.code) << c.what << ": " << op.status();
    EXPECT_NE(std::string(op.status().message()).find(c.message), std::string::npos)
        << c.what << ": " << op.status();
  }
  Endpoint after = *endpoints_->GetEndpoint(e.name);
  EXPECT_EQ(after.deployed_models.size(), 1u) << "refused deploys leave nothing";
  EXPECT_EQ(after.traffic_split, (TrafficSplit{{v1, 100}}));
}

// A host whose engine runs bf16 natively deploys it, and the deployed model says so.
TEST_F(EndpointServiceTest, Bf16DeploysWhereTheHostRunsIt) {
  endpoints_.reset();
  EndpointService::Options o;
  o.store = &h_.store();
  o.operations = &h_.operations();
  o.waiter = &immediate_;
  o.clock = &h_.clock();
  o.host = {.cpu_count = 2,
            .memory_bytes = 16 * kGiB,
            .native_precisions = {"fp32", "bf16"},
            .isa = "avx512_core_bf16"};
  auto s = EndpointService::Create(o);
  ASSERT_TRUE(s.ok()) << s.status();
  endpoints_ = std::move(*s);
  Endpoint e = CreateEndpoint();
  DeployedModel dm = Dm(model_.name);
  dm.precision = "bf16";
  const std::string id = MustDeploy(e, dm);
  const Endpoint after = *endpoints_->GetEndpoint(e.name);
  ASSERT_EQ(after.deployed_models.size(), 1u);
  EXPECT_EQ(after.deployed_models[0].id, id);
  EXPECT_EQ(after.deployed_models[0].precision, "bf16");
}

TEST_F(EndpointServiceTest, UndeployAndDeleteRules) {
  Endpoint e = CreateEndpoint();
  std::string v1 = MustDeploy(e, Dm(model_.name));
  std::string v2 = MustDeploy(e, Dm(model_.name + "@2"), {{"0", 30}, {v1, 70}});
  using enum absl::StatusCode;
  // Deleting what is deployed is refused.
  auto del_model = h_.models().DeleteModel(model_.name);
  EXPECT_TRUE(absl::IsFailedPrecondition(del_model.status())) << del_model.status();
  EXPECT_NE(std::string(del_model.status().message()).find("undeploy"), std::string::npos);
  ASSERT_TRUE(h_.models().MergeVersionAliases(model_.name + "@1", {"default"}).ok());
  EXPECT_TRUE(
      absl::IsFailedPrecondition(h_.models().DeleteModelVersion(model_.name + "@2").status()));
  auto del_ep = endpoints_->DeleteEndpoint(e.name);
  EXPECT_TRUE(absl::IsFailedPrecondition(del_ep.status())) << del_ep.status();

  EXPECT_EQ(Undeploy(e, v2).status().code(), kFailedPrecondition) << "it has 30% of the traffic";
  EXPECT_EQ(Undeploy(e, v2, {{v1, 50}, {v2, 50}}).status().code(), kInvalidArgument);
  EXPECT_EQ(Undeploy(e, v2, {{v1, 90}}).status().code(), kInvalidArgument);
  EXPECT_EQ(Undeploy(e, "999").status().code(), kNotFound);
  EXPECT_EQ(Undeploy(e, "").status().code(), kInvalidArgument);
  EXPECT_EQ(endpoints_->GetEndpoint(e.name)->deployed_models.size(), 2u);

  auto op = Undeploy(e, v2, {{v1, 100}});
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_TRUE(op->error.ok());
  EXPECT_EQ(op->kind, OperationKind::kUndeployModel);
  EXPECT_EQ(endpoints_->GetEndpoint(e.name)->traffic_split, (TrafficSplit{{v1, 100}}));
  EXPECT_TRUE(h_.models().DeleteModelVersion(model_.name + "@2").ok());
}

TEST_F(EndpointServiceTest, DeployWaitsForReadinessWithoutTraffic) {
  GatedWaiter gate;
  OpenEndpoints(&gate);
  std::atomic<int> notified{0};
  endpoints_->AddListener([&] { ++notified; });
  Endpoint e = CreateEndpoint();
  uint64_t before = endpoints_->generation();
  auto op = endpoints_->DeployModel({e.name, Dm(model_.name), {}});
  ASSERT_TRUE(op.ok()) << op.status();
  gate.WaitForWaiters(1);
  Endpoint during = *endpoints_->GetEndpoint(e.name);
  ASSERT_EQ(during.deployed_models.size(), 1u);
  EXPECT_EQ(during.deployed_models[0].state, DeployedModelState::kDeploying);
  EXPECT_TRUE(during.traffic_split.empty()) << "no traffic before the replicas are ready";
  EXPECT_GT(endpoints_->generation(), before);
  EXPECT_GE(notified.load(), 2) << "create + deploy recorded";
  EXPECT_FALSE(h_.operations().GetOperation(op->name)->done);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      endpoints_->UndeployModel({e.name, during.deployed_models[0].id, {}}).status()));
  gate.Release(absl::OkStatus());
  auto done = h_.Wait(*op);
  ASSERT_TRUE(done->error.ok()) << done->error;
  Endpoint after = *endpoints_->GetEndpoint(e.name);
  EXPECT_EQ(after.deployed_models[0].state, DeployedModelState::kDeployed);
  EXPECT_EQ(after.traffic_split.size(), 1u);
}

TEST_F(EndpointServiceTest, FailedOrCancelledDeployRemovesTheDeployedModel) {
  for (bool cancel : {true, false}) {
    GatedWaiter gate;
    OpenEndpoints(&gate);
    Endpoint e = CreateEndpoint();
    auto op = endpoints_->DeployModel({e.name, Dm(model_.name), {}});
    ASSERT_TRUE(op.ok());
    gate.WaitForWaiters(1);
    if (cancel) {
      ASSERT_TRUE(h_.operations().CancelOperation(op->name).ok());
    } else {
      gate.Release(absl::FailedPreconditionError("replica exited with status 1: bad weights"));
    }
    auto done = h_.Wait(*op);
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->error.code(),
              cancel ? absl::StatusCode::kCancelled : absl::StatusCode::kFailedPrecondition)
        << done->error;
    Endpoint after = *endpoints_->GetEndpoint(e.name);
    EXPECT_TRUE(after.deployed_models.empty());
    EXPECT_TRUE(after.traffic_split.empty());
  }
}

TEST_F(EndpointServiceTest, RestartRemovesInterruptedDeployments) {
  GatedWaiter gate;
  OpenEndpoints(&gate);
  Endpoint e = CreateEndpoint();
  std::string op_name;
  {
    // Simulate a kill -9 mid-deploy: record the DEPLOYING row and its operation, then drop the
    // service without letting its work finish (the gate never opens; Close cancels it, so write
    // the state back as a killed server would have left it).
    auto op = endpoints_->DeployModel({e.name, Dm(model_.name), {}});
    ASSERT_TRUE(op.ok());
    op_name = op->name;
    gate.WaitForWaiters(1);
  }
  std::vector<Endpoint> snapshot = *endpoints_->ListAllEndpoints();
  ASSERT_EQ(snapshot[0].deployed_models[0].state, DeployedModelState::kDeploying);
  // Hard stop: copy the database as it is now (a killed process leaves exactly this state).
  fs::path copy_dir = tmp_.path() / "killed";
  fs::create_directories(copy_dir);
  ASSERT_TRUE(h_.store()
                  .Transact([&](registry::MetadataTxn&) -> absl::Status {
                    // Inside a write transaction nobody else writes: the file and its WAL are
                    // consistent.
                    fs::copy(h_.data_dir(), copy_dir, fs::copy_options::recursive);
                    return absl::OkStatus();
                  })
                  .ok());
  endpoints_.reset();

  RegistryHarness restarted(copy_dir);
  ASSERT_TRUE(restarted.Open().ok());
  EndpointService::Options o;
  o.store = &restarted.store();
  o.operations = &restarted.operations();
  o.waiter = &immediate_;
  o.clock = &restarted.clock();
  o.host = {.cpu_count = 2, .memory_bytes = 16 * kGiB};
  auto service = EndpointService::Create(o);
  ASSERT_TRUE(service.ok()) << service.status();
  Endpoint after = *(*service)->GetEndpoint(e.name);
  EXPECT_TRUE(after.deployed_models.empty());
  auto op = restarted.operations().GetOperation(op_name);
  ASSERT_TRUE(op.ok());
  EXPECT_TRUE(op->done);
  EXPECT_EQ(op->error.code(), absl::StatusCode::kUnavailable);
  // And the restarted server deploys normally.
  auto again = (*service)->DeployModel({e.name, Dm(model_.name), {}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(restarted.Wait(*again)->error.ok());
}

TEST_F(EndpointServiceTest, DesiredReplicaCountStaysWithinBounds) {
  Endpoint e = CreateEndpoint();
  std::string id = MustDeploy(e, Dm(model_.name, 1, 2));
  auto dm = endpoints_->SetDesiredReplicaCount(e.name, id, 2);
  ASSERT_TRUE(dm.ok()) << dm.status();
  EXPECT_EQ(dm->desired_replica_count, 2);
  EXPECT_EQ(endpoints_->GetEndpoint(e.name)->deployed_models[0].desired_replica_count, 2);
  EXPECT_TRUE(absl::IsInvalidArgument(endpoints_->SetDesiredReplicaCount(e.name, id, 3).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(endpoints_->SetDesiredReplicaCount(e.name, id, 0).status()));
  EXPECT_TRUE(absl::IsNotFound(endpoints_->SetDesiredReplicaCount(e.name, "77", 1).status()));
}

TEST_F(EndpointServiceTest, ConcurrentDeploysToOneEndpoint) {
  Endpoint e = CreateEndpoint();
  for (int threads : {2, 4}) {
    std::vector<std::thread> pool;
    std::vector<std::string> ids(threads);
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back([&, i] { ids[i] = MustDeploy(e, Dm(model_.name, 1, 1, "tessera-cpu-1")); });
    }
    for (auto& t : pool) t.join();
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), static_cast<size_t>(threads));
  }
  Endpoint got = *endpoints_->GetEndpoint(e.name);
  EXPECT_EQ(got.deployed_models.size(), 6u);
  int total = 0;
  for (const auto& [id, pct] : got.traffic_split) total += pct;
  EXPECT_EQ(total, 100) << "exactly one deploy took the empty endpoint's traffic";
}

}  // namespace
}  // namespace tessera::control
