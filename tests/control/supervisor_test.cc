// Supervisor with real processes: the real `tessera replica` (TESSERA_BINARY) serving the vendored
// fashion-vit checkpoint, plus /bin/sh stand-ins for replicas that fail in controlled ways.
// EndpointService, registry and routing table are the real ones.
#include "control/supervisor.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "control/replica_client.h"
#include "gtest/gtest.h"
#include "testing/registry_harness.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/test_paths.h"
#include "testing/byte_units.h"

namespace tessera::control {
namespace {

namespace fs = std::filesystem;
using registry::DedicatedResources;
using registry::DeployedModel;
using registry::Endpoint;
using registry::Operation;
using testing::kTestParent;
using testing::RegistryHarness;
using testing::ScopedTempDir;

using tessera::testing::kGiB;

bool ProcessGone(pid_t pid) { return pid > 0 && ::kill(pid, 0) != 0; }

// Polls `predicate` every 20 ms for up to `timeout`.
template <typename F>
bool Eventually(F predicate, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (predicate()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return predicate();
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(h_.Open().ok()); }
  void TearDown() override {
    if (supervisor_) supervisor_->Stop();
    endpoints_.reset();
    supervisor_.reset();
  }

  // Starts EndpointService + Supervisor running `binary` as the tessera binary.
  void Start(const std::string& binary, absl::Duration readiness_timeout = absl::Minutes(2)) {
    Supervisor::Options so;
    so.models = &h_.models();
    so.routing = &routing_;
    so.self_binary = binary;
    so.data_dir = h_.data_dir();
    so.initial_backoff = absl::Milliseconds(200);
    so.max_backoff = absl::Seconds(1);
    so.readiness_timeout = readiness_timeout;
    so.drain_timeout = absl::Seconds(10);
    so.extra_replica_args = extra_args_;
    // EndpointService needs the waiter, the supervisor needs EndpointService: create the
    // supervisor against a placeholder pointer filled right after.
    EndpointService::Options eo;
    eo.store = &h_.store();
    eo.operations = &h_.operations();
    eo.clock = &h_.clock();
    eo.host = {.cpu_count = 2, .memory_bytes = 64 * kGiB};
    eo.waiter = &forward_;
    auto endpoints = EndpointService::Create(eo);
    ASSERT_TRUE(endpoints.ok()) << endpoints.status();
    endpoints_ = std::move(*endpoints);
    so.endpoints = endpoints_.get();
    auto supervisor = Supervisor::Create(so);
    ASSERT_TRUE(supervisor.ok()) << supervisor.status();
    supervisor_ = std::move(*supervisor);
    forward_.target = supervisor_.get();
    ASSERT_TRUE(supervisor_->Start().ok());
  }

  std::string UploadFashionVit() {
    auto model = h_.UploadFolder(testing::VendoredDataDir() / "models" / "fashion-vit");
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? model->name : "";
  }

  Endpoint CreateEndpoint() {
    Endpoint e;
    e.display_name = "ep";
    auto op = endpoints_->CreateEndpoint(kTestParent, e, "");
    EXPECT_TRUE(op.ok()) << op.status();
    return *endpoints_->GetEndpoint(op->result.endpoint);
  }

  static DeployedModel Dm(const std::string& model, int min, int max) {
    DeployedModel dm;
    dm.model = model;
    DedicatedResources r;
    r.machine_spec.machine_type = "tessera-cpu-1";
    r.min_replica_count = min;
    r.max_replica_count = max;
    dm.dedicated_resources = r;
    dm.batching.max_queue_delay_us = 0;
    return dm;
  }

  absl::StatusOr<Operation> Deploy(const Endpoint& e, const DeployedModel& dm) {
    auto op = endpoints_->DeployModel({e.name, dm, {}});
    if (!op.ok()) return op.status();
    return h_.Wait(*op);
  }

  int ReadyInTable(const std::string& endpoint, const std::string& dm_id) {
    auto table = routing_.Snapshot();
    const RoutedEndpoint* e = table->FindEndpoint(endpoint);
    if (e == nullptr) return -1;
    for (const RoutedDeployedModel& dm : e->deployed_models) {
      if (dm.id == dm_id) return static_cast<int>(dm.ready_replicas.size());
    }
    return -1;
  }

  // Writes an executable /bin/sh script standing in for the tessera binary.
  std::string Script(const std::string& name, const std::string& body) {
    fs::path path = tmp_.path() / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path.string();
  }

  struct ForwardingWaiter final : DeploymentWaiter {
    Supervisor* target = nullptr;
    absl::Status WaitUntilReady(const Endpoint& e, const DeployedModel& dm,
                                const registry::CancellationToken& c) override {
      return target->WaitUntilReady(e, dm, c);
    }
    void WaitUntilRouted(const registry::CancellationToken& c, absl::Duration t) override {
      target->WaitUntilRouted(c, t);
    }
    absl::Status WaitUntilStopped(const Endpoint& e, const DeployedModel& dm,
                                  const registry::CancellationToken& c) override {
      return target->WaitUntilStopped(e, dm, c);
    }
  };

  ScopedTempDir tmp_;
  RegistryHarness h_{tmp_.path() / "data"};
  RoutingTableHolder routing_;
  ForwardingWaiter forward_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<EndpointService> endpoints_;
  std::unique_ptr<Supervisor> supervisor_;
};

TEST_F(SupervisorTest, ReplicaThatFailsToLoadFailsTheDeployWithItsError) {
  Start(Script("tessera",
               "echo 'loading...'; echo 'error: cannot load model: bad weights' >&2; "
               "exit 1"));
  std::string model = UploadFashionVit();
  Endpoint e = CreateEndpoint();
  auto op = Deploy(e, Dm(model, 1, 1));
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_FALSE(op->error.ok());
  EXPECT_EQ(op->error.code(), absl::StatusCode::kFailedPrecondition) << op->error;
  EXPECT_NE(op->error.message().find("exited before becoming ready (exit code 1)"),
            std::string::npos)
      << op->error;
  EXPECT_NE(op->error.message().find("cannot load model: bad weights"), std::string::npos)
      << op->error;
  // The deployed model is gone, and so are its replicas.
  EXPECT_TRUE(endpoints_->GetEndpoint(e.name)->deployed_models.empty());
  EXPECT_TRUE(Eventually([&] { return supervisor_->Status().empty(); }));
}

TEST_F(SupervisorTest, ReplicaNeverReadyTimesOutAndIsKilled) {
  Start(Script("tessera", "echo 'still loading'; exec sleep 60"), absl::Milliseconds(500));
  std::string model = UploadFashionVit();
  Endpoint e = CreateEndpoint();
  auto op = Deploy(e, Dm(model, 1, 1));
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_FALSE(op->error.ok());
  EXPECT_NE(op->error.message().find("not ready after"), std::string::npos) << op->error;
  EXPECT_NE(op->error.message().find("still loading"), std::string::npos) << op->error;
  EXPECT_TRUE(Eventually([&] { return supervisor_->Status().empty(); }));
}

// A deployment stored before deploy checked precisions (or a data dir moved to another host) asks
// for one this host cannot run: the supervisor launches no replica, and says why.
TEST_F(SupervisorTest, AStoredPrecisionTheHostCannotRunStartsNoReplica) {
  const fs::path launched = tmp_.path() / "launched";
  Start(Script("tessera", "touch " + launched.string() + "; exec sleep 60"));
  std::string model = UploadFashionVit();
  Endpoint e = CreateEndpoint();
  DeployedModel dm = Dm(model, 1, 1);
  dm.precision = "bf16";  // this fixture's host runs fp32 only
  dm.model_version_id = "1";
  dm.display_name = "stored";
  dm.state = registry::DeployedModelState::kDeployed;
  dm.desired_replica_count = 1;
  auto name = registry::EndpointName::Parse(e.name);
  ASSERT_TRUE(name.ok());
  std::string id;
  ASSERT_TRUE(h_.store()
                  .Transact([&](registry::MetadataTxn& txn) -> absl::Status {
                    auto added = txn.AddDeployedModel(*name, dm, h_.clock().Now());
                    if (added.ok()) id = *added;
                    return added.status();
                  })
                  .ok());
  CreateEndpoint();  // a change through the service: the supervisor reads the store again
  ASSERT_TRUE(Eventually(
      [&] {
        const auto status = supervisor_->StatusOf(id);
        return status.has_value() &&
               status->last_error.find("\"bf16\" does not run natively") != std::string::npos;
      },
      absl::Seconds(20)))
      << (supervisor_->StatusOf(id) ? supervisor_->StatusOf(id)->last_error : "no status");
  EXPECT_FALSE(fs::exists(launched));
}

TEST_F(SupervisorTest, MissingBinaryFailsTheDeploy) {
  Start((tmp_.path() / "no-such-tessera").string());
  std::string model = UploadFashionVit();
  Endpoint e = CreateEndpoint();
  auto op = Deploy(e, Dm(model, 1, 1));
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_FALSE(op->error.ok());
  EXPECT_NE(op->error.message().find("could not start"), std::string::npos) << op->error;
}

TEST_F(SupervisorTest, StartRemovesTheSocketsOfAKilledServersReplicas) {
  // What kill -9 of a server leaves in DATA_DIR/run: sockets of replicas that died with it,
  // including those of deployed models the restart then rolls back.
  fs::create_directories(h_.data_dir() / "run");
  for (const char* name : {"3-0.sock", "41-1.sock"}) {
    std::ofstream(h_.data_dir() / "run" / name) << "";
  }
  Start(Script("tessera", "exit 1"));
  EXPECT_TRUE(fs::is_directory(h_.data_dir() / "run"));
  EXPECT_TRUE(fs::is_empty(h_.data_dir() / "run"));
}

// The real replica from here on.
class RealReplicaSupervisorTest : public SupervisorTest {
 protected:
  void SetUp() override {
    SupervisorTest::SetUp();
    extra_args_ = {};
    Start(testing::TesseraBinary().string());
    model_ = UploadFashionVit();
    endpoint_ = CreateEndpoint();
  }
  std::string MustDeploy(int min, int max) {
    auto op = Deploy(endpoint_, Dm(model_, min, max));
    EXPECT_TRUE(op.ok()) << op.status();
    if (!op.ok()) return "";
    EXPECT_TRUE(op->error.ok()) << op->error;
    return op->result.deployed_model_id;
  }
  std::string model_;
  Endpoint endpoint_;
};

TEST_F(RealReplicaSupervisorTest, DeployRunsReadyReplicasAndUndeployStopsThem) {
  const std::string id = MustDeploy(2, 3);
  ASSERT_FALSE(id.empty());
  // The deploy completed only with minReplicaCount ready replicas.
  auto status = supervisor_->StatusOf(id);
  ASSERT_TRUE(status.has_value());
  EXPECT_GE(status->ready_replica_count, 2);
  EXPECT_EQ(status->desired_replica_count, 2);
  EXPECT_EQ(status->model, model_);
  EXPECT_EQ(status->model_display_name, "my model");
  ASSERT_EQ(status->replicas.size(), 2u);
  std::vector<pid_t> pids;
  for (const ReplicaStatus& r : status->replicas) {
    EXPECT_EQ(r.state, ReplicaState::kReady);
    EXPECT_GT(r.pid, 0);
    EXPECT_GT(r.rss_bytes, 1 << 20);  // a loaded model
    EXPECT_EQ(r.address, "unix:" + (h_.data_dir() / "run" / (r.id + ".sock")).string());
    pids.push_back(r.pid);
  }
  EXPECT_EQ(status->replicas[0].id, id + "-0");
  EXPECT_EQ(status->replicas[1].id, id + "-1");
  // Routed, and the replica answers.
  EXPECT_TRUE(Eventually([&] { return ReadyInTable(endpoint_.name, id) == 2; }));
  auto client = ReplicaClient::Create(status->replicas[0].address);
  ASSERT_TRUE(client.ok());
  auto health = (*client)->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_TRUE(health->ready);

  auto op = endpoints_->UndeployModel({endpoint_.name, id, {}});
  ASSERT_TRUE(op.ok()) << op.status();
  auto done = h_.Wait(*op);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->error.ok()) << done->error;
  // WaitUntilStopped returned only once both processes were gone.
  for (pid_t pid : pids) EXPECT_TRUE(ProcessGone(pid)) << pid;
  EXPECT_FALSE(supervisor_->StatusOf(id).has_value());
  EXPECT_TRUE(Eventually([&] { return ReadyInTable(endpoint_.name, id) == -1; }));
  EXPECT_FALSE(fs::exists(h_.data_dir() / "run" / (id + "-0.sock")));
}

TEST_F(RealReplicaSupervisorTest, CrashedReplicaLeavesTheTableAndIsRestarted) {
  const std::string id = MustDeploy(1, 1);
  ASSERT_FALSE(id.empty());
  auto before = supervisor_->StatusOf(id);
  ASSERT_TRUE(before.has_value());
  ASSERT_EQ(before->replicas.size(), 1u);
  const pid_t pid = before->replicas[0].pid;
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Out of the routing table quickly...
  EXPECT_TRUE(Eventually([&] { return ReadyInTable(endpoint_.name, id) == 0; }, absl::Seconds(5)));
  // ...then restarted after the backoff, same slot, new process.
  EXPECT_TRUE(Eventually([&] {
    auto s = supervisor_->StatusOf(id);
    return s && s->ready_replica_count == 1 && s->replicas[0].pid != pid;
  }));
  auto after = supervisor_->StatusOf(id);
  EXPECT_EQ(after->replicas[0].id, id + "-0");
  EXPECT_EQ(after->replicas[0].restarts, 1);
  EXPECT_NE(after->replicas[0].last_error.find("killed by signal 9"), std::string::npos)
      << after->replicas[0].last_error;
  EXPECT_TRUE(Eventually([&] { return ReadyInTable(endpoint_.name, id) == 1; }));
  EXPECT_TRUE(ProcessGone(pid));
}

TEST_F(RealReplicaSupervisorTest, DesiredReplicaCountScalesUpAndDrainsDown) {
  const std::string id = MustDeploy(1, 2);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(endpoints_->SetDesiredReplicaCount(endpoint_.name, id, 2).ok());
  EXPECT_TRUE(Eventually([&] {
    auto s = supervisor_->StatusOf(id);
    return s && s->ready_replica_count == 2;
  }));
  EXPECT_TRUE(Eventually([&] { return ReadyInTable(endpoint_.name, id) == 2; }));
  const pid_t second = supervisor_->StatusOf(id)->replicas[1].pid;
  ASSERT_TRUE(endpoints_->SetDesiredReplicaCount(endpoint_.name, id, 1).ok());
  // The highest slot drains (SIGTERM) and exits; slot 0 keeps serving.
  EXPECT_TRUE(Eventually([&] {
    auto s = supervisor_->StatusOf(id);
    return s && s->replicas.size() == 1 && s->ready_replica_count == 1;
  }));
  EXPECT_EQ(supervisor_->StatusOf(id)->replicas[0].id, id + "-0");
  EXPECT_TRUE(Eventually([&] { return ProcessGone(second); }, absl::Seconds(5)));
  EXPECT_EQ(ReadyInTable(endpoint_.name, id), 1);
}

TEST_F(RealReplicaSupervisorTest, StopDrainsEveryReplica) {
  const std::string id = MustDeploy(2, 2);
  ASSERT_FALSE(id.empty());
  std::vector<pid_t> pids;
  auto status = supervisor_->StatusOf(id);
  ASSERT_TRUE(status.has_value());
  for (const ReplicaStatus& r : status->replicas) pids.push_back(r.pid);
  ASSERT_EQ(pids.size(), 2u);
  supervisor_->Stop();
  for (pid_t pid : pids) EXPECT_TRUE(ProcessGone(pid)) << pid;
  EXPECT_EQ(ReadyInTable(endpoint_.name, id), -1);  // an empty table
}

TEST_F(RealReplicaSupervisorTest, ModelTheEngineCannotLoadFailsTheDeployWithTheReplicaError) {
  // A checkpoint the registry accepts (HF-shaped files) but the engine cannot load.
  testing::WriteTinyCheckpoint(tmp_.path() / "tiny", 7);
  auto tiny = h_.UploadFolder(tmp_.path() / "tiny");
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  auto op = Deploy(endpoint_, Dm(tiny->name, 1, 1));
  ASSERT_TRUE(op.ok()) << op.status();
  ASSERT_FALSE(op->error.ok());
  EXPECT_EQ(op->error.code(), absl::StatusCode::kFailedPrecondition) << op->error;
  EXPECT_NE(op->error.message().find("exited before becoming ready"), std::string::npos)
      << op->error;
  // The replica's own last line is the message's tail.
  std::string message(op->error.message());
  EXPECT_GT(message.size(),
            std::string("replica 1-0 exited before becoming ready (exit code 1): ").size())
      << message;
  EXPECT_TRUE(Eventually([&] { return supervisor_->Status().empty(); }));
}

}  // namespace
}  // namespace tessera::control
