// Durability: a restart recovers whatever a killed server left, and kill -9 at random moments
// during uploads never leaves a half-written version, an orphan counted as a version, or an
// operation running forever.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "gtest/gtest.h"
#include "registry/sha256.h"
#include "testing/registry_harness.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;
using testing::kTestParent;
using testing::RegistryHarness;
using testing::ScopedTempDir;

// Every invariant a restarted server must hold. Call after RegistryHarness::Open().
void CheckInvariants(RegistryHarness& h, int* versions_seen, int* interrupted = nullptr) {
  // No operation is left running, and successful uploads name existing versions (or versions a
  // later successful delete removed).
  std::vector<Operation> all_ops;
  ListQuery q;
  q.page_size = 1000;
  do {
    auto ops = h.operations().ListOperations(kTestParent, q);
    ASSERT_TRUE(ops.ok()) << ops.status();
    all_ops.insert(all_ops.end(), ops->items.begin(), ops->items.end());
    q.page_token = ops->next_page_token;
  } while (!q.page_token.empty());
  std::set<std::string> deleted;
  for (const Operation& op : all_ops) {
    if (op.done && op.error.ok() &&
        (op.kind == OperationKind::kDeleteModelVersion || op.kind == OperationKind::kDeleteModel)) {
      deleted.insert(op.target);
    }
  }
  for (const Operation& op : all_ops) {
    ASSERT_TRUE(op.done) << op.name << " still running after restart";
    if (op.kind == OperationKind::kUploadModel && op.error.ok()) {
      std::string version = op.result.model + "@" + op.result.model_version_id;
      EXPECT_TRUE(h.models().GetModel(version).ok() || deleted.count(version) ||
                  deleted.count(op.result.model))
          << op.name << " succeeded but its version " << version << " is missing";
    }
    if (interrupted != nullptr && op.error.code() == absl::StatusCode::kUnavailable) ++*interrupted;
    if (!op.error.ok() && op.error.code() != absl::StatusCode::kUnavailable) {
      ADD_FAILURE() << op.name << " failed unexpectedly: " << op.error;
    }
  }

  // Every version's blobs exist with the right content; exactly one default per model.
  std::set<std::string> referenced;
  ListQuery mq;
  mq.page_size = 1000;
  auto models = h.models().ListModels(kTestParent, mq);
  ASSERT_TRUE(models.ok()) << models.status();
  for (const Model& m : models->items) {
    auto versions = h.models().ListModelVersions(m.name, mq);
    ASSERT_TRUE(versions.ok()) << versions.status();
    int defaults = 0;
    std::set<std::string> aliases;
    for (const Model& v : versions->items) {
      ++*versions_seen;
      ASSERT_FALSE(v.artifact.files.empty()) << v.name << "@" << v.version_id;
      EXPECT_EQ(v.artifact_digest, v.artifact.Digest());
      for (const auto& f : v.artifact.files) {
        EXPECT_TRUE(h.artifacts().VerifyBlob(f.sha256).ok())
            << v.name << "@" << v.version_id << " " << f.path;
        referenced.insert(f.sha256);
      }
      for (const auto& a : v.version_aliases) {
        EXPECT_TRUE(aliases.insert(a).second) << "alias " << a << " on two versions of " << m.name;
        if (a == "default") ++defaults;
      }
      // A version folder, when present, is complete and correct.
      ModelName key = *ModelName::Parse(v.name);
      key.version = v.version_id;
      fs::path dir = h.artifacts().VersionDir(key);
      if (fs::exists(dir)) {
        for (const auto& f : v.artifact.files) {
          auto hash = Sha256File(dir / f.path);
          EXPECT_TRUE(hash.ok() && *hash == f.sha256) << dir / f.path;
        }
      }
    }
    EXPECT_EQ(defaults, 1) << m.name;
  }
  // The startup sweep left no temporary files and no unreferenced blobs.
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "artifacts" / "tmp"));
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "models" / ".staging"));
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "uploads"));
  EXPECT_EQ(*h.artifacts().ListBlobs(), referenced);
}

TEST(RestartRecoveryTest, UnfinishedOperationAndLeftoversAreCleanedUp) {
  ScopedTempDir tmp;
  testing::WriteTinyCheckpoint(tmp.path() / "ckpt", 1);
  RegistryHarness h(tmp.path() / "data");
  ASSERT_TRUE(h.Open().ok());
  ASSERT_TRUE(h.UploadFolder(tmp.path() / "ckpt").ok());
  // What a kill -9 in the middle of an upload leaves: a running operation, a partial temp file,
  // a staged folder, a blob no version references.
  auto op = h.operations().Begin(LocationName{"test-project", "us-central1"},
                                 OperationKind::kUploadModel, kTestParent);
  ASSERT_TRUE(op.ok());
  std::ofstream(h.data_dir() / "artifacts" / "tmp" / "blob-1-0") << "partial";
  fs::create_directories(h.data_dir() / "models" / ".staging" / "v-x");
  testing::WriteTinyCheckpoint(tmp.path() / "orphan", 2);
  auto orphan = h.artifacts().Ingest(
      {{tmp.path() / "orphan" / "model.safetensors", "model.safetensors"}}, CancellationToken());
  ASSERT_TRUE(orphan.ok());
  std::string orphan_digest = orphan->manifest.files[0].sha256;
  orphan->pins = BlobPins();
  h.Close();

  ASSERT_TRUE(h.Open().ok());
  auto recovered = h.operations().GetOperation(op->name);
  ASSERT_TRUE(recovered.ok());
  EXPECT_TRUE(recovered->done);
  EXPECT_EQ(recovered->error.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(recovered->error.message()).find("interrupted by a server restart"),
            std::string::npos);
  EXPECT_FALSE(h.artifacts().HasBlob(orphan_digest));
  int versions = 0;
  CheckInvariants(h, &versions);
  EXPECT_EQ(versions, 1);
}

// The child process: uploads, adds versions, moves aliases and deletes versions until killed.
[[noreturn]] void ChildLoop(const fs::path& data_dir, const std::vector<fs::path>& sources,
                            uint32_t seed) {
  RegistryHarness h(data_dir);
  if (!h.Open().ok()) _exit(3);
  std::mt19937 rng(seed);
  std::vector<std::string> models;
  for (int i = 0;; ++i) {
    const fs::path& src = sources[rng() % sources.size()];
    int action = static_cast<int>(rng() % 10);
    if (models.empty() || action < 5) {
      auto m = h.UploadFolder(src);
      if (m.ok()) models.push_back(m->name);
    } else if (action < 8) {
      (void)h.UploadFolder(src, models[rng() % models.size()]);
    } else if (action < 9) {
      const std::string& m = models[rng() % models.size()];
      auto versions = h.models().ListModelVersions(m, {});
      if (versions.ok() && !versions->items.empty()) {
        const Model& v = versions->items[rng() % versions->items.size()];
        (void)h.models().MergeVersionAliases(m + "@" + v.version_id, {"default"});
      }
    } else {
      const std::string& m = models[rng() % models.size()];
      auto versions = h.models().ListModelVersions(m, {});
      if (versions.ok()) {
        for (const Model& v : versions->items) {
          if (std::count(v.version_aliases.begin(), v.version_aliases.end(), "default") == 0) {
            (void)h.models().DeleteModelVersion(m + "@" + v.version_id);
            break;
          }
        }
      }
    }
  }
}

TEST(CrashTest, KillDashNineDuringUploadsNeverBreaksInvariants) {
  ScopedTempDir tmp;
  std::vector<fs::path> sources;
  for (int i = 0; i < 4; ++i) {
    sources.push_back(tmp.path() / ("src" + std::to_string(i)));
    testing::WriteTinyCheckpoint(sources.back(), 1000 + i, 256 << 10);
  }
  fs::path data = tmp.path() / "data";
  std::mt19937 rng(12345);
  absl::Time deadline = absl::Now() + absl::Seconds(4);
  int iterations = 0, versions = 0, interrupted = 0;
  while (iterations < 6 || (absl::Now() < deadline && iterations < 40)) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ChildLoop(data, sources, static_cast<uint32_t>(rng()));
    absl::SleepFor(absl::Milliseconds(20 + rng() % 250));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child exited by itself (status " << status << ")";
    RegistryHarness h(data);
    ASSERT_TRUE(h.Open().ok());
    int seen = 0;
    interrupted = 0;
    CheckInvariants(h, &seen, &interrupted);
    versions = seen;
    if (::testing::Test::HasFailure()) break;
    ++iterations;
  }
  std::printf("crash test: %d kills, %d versions committed, %d uploads interrupted mid-way\n",
              iterations, versions, interrupted);
  EXPECT_GT(versions, 0) << "no upload ever committed: the kill points were never reached";
  EXPECT_GT(interrupted, 0) << "no kill landed during an upload";
}

}  // namespace
}  // namespace tessera::registry
