// ModelService: upload (good and bad), versions, aliases, update, delete, listing, concurrency.
#include "registry/model_service.h"

#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "registry/sha256.h"
#include "testing/registry_harness.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/test_paths.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;
using testing::kTestParent;
using testing::RegistryHarness;
using testing::ScopedTempDir;
using testing::WriteTinyCheckpoint;

class ModelServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteTinyCheckpoint(tmp_.path() / "ckpt1", 1);
    WriteTinyCheckpoint(tmp_.path() / "ckpt2", 2);
    ASSERT_TRUE(h_.Open().ok());
  }
  fs::path Ckpt(int i) { return tmp_.path() / ("ckpt" + std::to_string(i)); }
  Model Upload(int ckpt, const std::string& parent_model = "") {
    auto m = h_.UploadFolder(Ckpt(ckpt), parent_model);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : Model{};
  }
  ModelService& models() { return h_.models(); }

  ScopedTempDir tmp_;
  RegistryHarness h_{tmp_.path() / "data"};
};

TEST_F(ModelServiceTest, UploadCreatesVersionOneWithDefaultAlias) {
  UploadModelRequest r = RegistryHarness::Request(Ckpt(1).string(), "Fashion ViT");
  r.model.description = "a small ViT";
  r.model.labels = {{"team", "vision"}};
  r.model.version_aliases = {"prod"};
  auto op = models().UploadModel(r);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ(op->kind, OperationKind::kUploadModel);
  EXPECT_EQ(op->name.rfind(std::string(kTestParent) + "/operations/", 0), 0u) << op->name;
  auto done = h_.Wait(*op);
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->error.ok()) << done->error;
  EXPECT_EQ(done->result.model, std::string(kTestParent) + "/models/1");
  EXPECT_EQ(done->result.model_version_id, "1");
  EXPECT_EQ(done->progress_percent, 100);

  auto m = models().GetModel(done->result.model);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->display_name, "Fashion ViT");
  EXPECT_EQ(m->description, "a small ViT");
  EXPECT_EQ(m->version_aliases, (std::vector<std::string>{"default", "prod"}));
  EXPECT_EQ(m->labels.at("team"), "vision");
  EXPECT_EQ(m->runtime, "vit");
  EXPECT_EQ(m->artifact_uri, Ckpt(1).string());
  EXPECT_EQ(m->container_spec.image_uri, testing::kTestImage);
  ASSERT_EQ(m->artifact.files.size(), 3u);
  EXPECT_EQ(m->artifact_digest, m->artifact.Digest());
  EXPECT_FALSE(m->etag.empty());
  for (const auto& f : m->artifact.files) EXPECT_TRUE(h_.artifacts().VerifyBlob(f.sha256).ok());
  // The version folder is in place for replicas.
  auto dir = models().ArtifactDir(m->name + "@1");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*Sha256File(*dir / "model.safetensors"), *Sha256File(Ckpt(1) / "model.safetensors"));
}

TEST_F(ModelServiceTest, UploadWithModelIdAndFileUri) {
  UploadModelRequest r = RegistryHarness::Request("file://" + Ckpt(1).string());
  r.model_id = "fashion-vit";
  auto m = h_.UploadAndWait(r);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->name, std::string(kTestParent) + "/models/fashion-vit");
  auto again = models().UploadModel(r);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
}

// Every request that must be refused before any work starts.
TEST_F(ModelServiceTest, UploadRejectsBadRequestsSynchronously) {
  Model existing = Upload(1);
  struct Case {
    const char* what;
    std::function<void(UploadModelRequest&)> edit;
    absl::StatusCode code;
    const char* message;
  };
  std::vector<Case> cases = {
      {"bad parent", [](auto& r) { r.parent = "projects/p"; }, absl::StatusCode::kInvalidArgument,
       "invalid parent name"},
      {"no display name", [](auto& r) { r.model.display_name = ""; },
       absl::StatusCode::kInvalidArgument, "displayName is required"},
      {"no artifact", [](auto& r) { r.model.artifact_uri = ""; },
       absl::StatusCode::kInvalidArgument, "artifactUri is required"},
      {"no image", [](auto& r) { r.model.container_spec.image_uri = ""; },
       absl::StatusCode::kInvalidArgument, "imageUri is required"},
      {"unknown image", [](auto& r) { r.model.container_spec.image_uri = "gcr.io/x/custom:1"; },
       absl::StatusCode::kInvalidArgument, "supported images"},
      {"bad alias", [](auto& r) { r.model.version_aliases = {"Prod"}; },
       absl::StatusCode::kInvalidArgument, "invalid version alias"},
      {"numeric alias", [](auto& r) { r.model.version_aliases = {"12"}; },
       absl::StatusCode::kInvalidArgument, "invalid version alias"},
      {"removal alias", [](auto& r) { r.model.version_aliases = {"-prod"}; },
       absl::StatusCode::kInvalidArgument, "mergeVersionAliases"},
      {"bad label",
       [](auto& r) {
         r.model.labels = {{"Bad", "x"}};
       },
       absl::StatusCode::kInvalidArgument, "label key"},
      {"bad model id", [](auto& r) { r.model_id = "9lives"; }, absl::StatusCode::kInvalidArgument,
       "modelId"},
      {"unknown parent model",
       [](auto& r) { r.parent_model = std::string(kTestParent) + "/models/999"; },
       absl::StatusCode::kNotFound, "not found"},
      {"parent model elsewhere",
       [](auto& r) { r.parent_model = "projects/other/locations/l/models/1"; },
       absl::StatusCode::kInvalidArgument, "is not in"},
      {"parent model with version", [&](auto& r) { r.parent_model = existing.name + "@1"; },
       absl::StatusCode::kInvalidArgument, "not a version"},
      {"parent model and model id",
       [&](auto& r) {
         r.parent_model = existing.name;
         r.model_id = "x";
       },
       absl::StatusCode::kInvalidArgument, "not both"},
      {"missing folder", [&](auto& r) { r.model.artifact_uri = (tmp_.path() / "nope").string(); },
       absl::StatusCode::kInvalidArgument, "does not exist"},
      {"relative path", [](auto& r) { r.model.artifact_uri = "models/x"; },
       absl::StatusCode::kInvalidArgument, "not supported"},
      {"gcs", [](auto& r) { r.model.artifact_uri = "gs://bucket/model/"; },
       absl::StatusCode::kInvalidArgument, "not supported"},
      {"http without fetcher", [](auto& r) { r.model.artifact_uri = "https://x.example/m.tar.gz"; },
       absl::StatusCode::kInvalidArgument, "cannot download"},
  };
  for (const Case& c : cases) {
    UploadModelRequest r = RegistryHarness::Request(Ckpt(1).string());
    c.edit(r);
    auto op = models().UploadModel(r);
    EXPECT_EQ(op.status().code(), c.code) << c.what << ": " << op.status();
    EXPECT_NE(std::string(op.status().message()).find(c.message), std::string::npos)
        << c.what << ": " << op.status();
  }
  // Nothing was created by the refused requests.
  auto list = models().ListModels(kTestParent, {});
  EXPECT_EQ(list->items.size(), 1u);
  auto ops = h_.operations().ListOperations(kTestParent, {});
  EXPECT_EQ(ops->items.size(), 1u);
}

TEST_F(ModelServiceTest, PathOutsideAllowedRootsIsPermissionDenied) {
  ScopedTempDir other;
  RegistryHarness restricted(other.path() / "data", {.allowed_roots = {tmp_.path() / "ckpt2"}});
  ASSERT_TRUE(restricted.Open().ok());
  auto op = restricted.models().UploadModel(RegistryHarness::Request(Ckpt(1).string()));
  ASSERT_TRUE(absl::IsPermissionDenied(op.status())) << op.status();
  EXPECT_NE(std::string(op.status().message()).find("outside the allowed artifact roots"),
            std::string::npos);
  EXPECT_TRUE(restricted.UploadFolder(Ckpt(2)).ok());
}

// Bad artifacts are found by the operation's validation: it fails with a clear error and leaves
// no model, no version and no blob behind.
TEST_F(ModelServiceTest, BadArtifactsFailTheOperationAndLeaveNothing) {
  struct Case {
    const char* what;
    std::function<void(const fs::path&)> damage;
    const char* message;
  };
  std::vector<Case> cases = {
      {"no config", [](const fs::path& d) { fs::remove(d / "config.json"); },
       "config.json is missing"},
      {"config not json", [](const fs::path& d) { std::ofstream(d / "config.json") << "{nope"; },
       "config.json is not a JSON object"},
      {"no weights", [](const fs::path& d) { fs::remove(d / "model.safetensors"); },
       "model.safetensors is missing"},
      {"corrupt safetensors", [](const fs::path& d) { testing::CorruptSafetensorsHeader(d); },
       "header length"},
      {"truncated safetensors",
       [](const fs::path& d) { fs::resize_file(d / "model.safetensors", 100); },
       "model.safetensors"},
  };
  int i = 0;
  for (const Case& c : cases) {
    fs::path dir = tmp_.path() / ("bad" + std::to_string(i++));
    WriteTinyCheckpoint(dir, 100 + i);
    c.damage(dir);
    auto op = models().UploadModel(RegistryHarness::Request(dir.string()));
    ASSERT_TRUE(op.ok()) << c.what << ": " << op.status();
    auto done = h_.Wait(*op);
    ASSERT_TRUE(done.ok());
    EXPECT_TRUE(done->done);
    EXPECT_TRUE(absl::IsInvalidArgument(done->error)) << c.what << ": " << done->error;
    EXPECT_NE(std::string(done->error.message()).find(c.message), std::string::npos)
        << c.what << ": " << done->error;
    EXPECT_NE(std::string(done->error.message()).find("not a servable model"), std::string::npos);
  }
  EXPECT_TRUE(models().ListModels(kTestParent, {})->items.empty());
  EXPECT_TRUE(h_.artifacts().ListBlobs()->empty()) << "blobs of failed uploads are collected";
  EXPECT_TRUE(fs::is_empty(h_.data_dir() / "models" / ".staging"));
  EXPECT_TRUE(fs::is_empty(h_.data_dir() / "uploads"));
}

TEST_F(ModelServiceTest, VersionsAliasesAndGetBySelector) {
  Model v1 = Upload(1);
  UploadModelRequest r = RegistryHarness::Request(Ckpt(2).string(), "ignored for versions");
  r.parent_model = v1.name;
  r.model.version_aliases = {"canary"};
  r.model.labels = {{"stage", "canary"}};
  r.model.version_description = "second try";
  auto v2 = h_.UploadAndWait(r);
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->name, v1.name);
  EXPECT_EQ(v2->version_id, "2");
  EXPECT_EQ(v2->display_name, "my model");
  EXPECT_EQ(v2->version_description, "second try");
  EXPECT_EQ(v2->version_aliases, std::vector<std::string>{"canary"});

  EXPECT_EQ(models().GetModel(v1.name)->version_id, "1");
  EXPECT_EQ(models().GetModel(v1.name + "@-")->version_id, "1");
  EXPECT_EQ(models().GetModel(v1.name + "@2")->version_id, "2");
  EXPECT_EQ(models().GetModel(v1.name + "@canary")->version_id, "2");
  EXPECT_TRUE(absl::IsNotFound(models().GetModel(v1.name + "@7").status()));
  auto no_alias = models().GetModel(v1.name + "@golden");
  EXPECT_TRUE(absl::IsNotFound(no_alias.status()));
  EXPECT_NE(std::string(no_alias.status().message()).find("golden"), std::string::npos);
  EXPECT_TRUE(
      absl::IsNotFound(models().GetModel(std::string(kTestParent) + "/models/404").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(models().GetModel("models/1").status()));

  auto versions = models().ListModelVersions(v1.name, {});
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->items.size(), 2u);
  EXPECT_EQ(versions->items[1].labels.at("stage"), "canary");
  EXPECT_TRUE(absl::IsInvalidArgument(models().ListModelVersions(v1.name + "@1", {}).status()));

  // Move default to v2: exactly one version has it.
  auto merged = models().MergeVersionAliases(v1.name + "@2", {"default", "prod"});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->version_aliases, (std::vector<std::string>{"canary", "default", "prod"}));
  EXPECT_TRUE(models().GetModel(v1.name + "@1")->version_aliases.empty());
  EXPECT_EQ(models().GetModel(v1.name)->version_id, "2");
  // Removal, and add+remove of the same alias cancelling out.
  merged = models().MergeVersionAliases(v1.name + "@2", {"-canary", "beta", "-beta"});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->version_aliases, (std::vector<std::string>{"default", "prod"}));
  // Moving an alias by name: prod -> v1 via @prod is not how it works; use the version id.
  merged = models().MergeVersionAliases(v1.name + "@1", {"prod"});
  EXPECT_EQ(merged->version_aliases, std::vector<std::string>{"prod"});
  EXPECT_EQ(models().GetModel(v1.name + "@prod")->version_id, "1");
}

TEST_F(ModelServiceTest, MergeVersionAliasesRejections) {
  Model v1 = Upload(1);
  struct Case {
    std::string name;
    std::vector<std::string> aliases;
    absl::StatusCode code;
  };
  std::vector<Case> cases = {
      {v1.name, {"prod"}, absl::StatusCode::kInvalidArgument},         // no version
      {v1.name + "@-", {"prod"}, absl::StatusCode::kInvalidArgument},  // no version
      {v1.name + "@1", {}, absl::StatusCode::kInvalidArgument},        // nothing to merge
      {v1.name + "@1", {"-default"}, absl::StatusCode::kInvalidArgument},
      {v1.name + "@1", {"Bad"}, absl::StatusCode::kInvalidArgument},
      {v1.name + "@1", {"-"}, absl::StatusCode::kInvalidArgument},
      {v1.name + "@1", {"3"}, absl::StatusCode::kInvalidArgument},
      {v1.name + "@9", {"prod"}, absl::StatusCode::kNotFound},
      {std::string(kTestParent) + "/models/77@1", {"prod"}, absl::StatusCode::kNotFound},
  };
  for (const Case& c : cases) {
    auto r = models().MergeVersionAliases(c.name, c.aliases);
    EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status();
  }
  EXPECT_EQ(models().GetModel(v1.name)->version_aliases, std::vector<std::string>{"default"});
}

TEST_F(ModelServiceTest, UpdateModelFieldsByScope) {
  Model v1 = Upload(1);
  Upload(2, v1.name);
  Model patch;
  patch.name = v1.name;
  patch.display_name = "renamed";
  patch.labels = {{"team", "x"}};
  auto updated = models().UpdateModel(patch, {"displayName", "labels"});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->display_name, "renamed");
  EXPECT_EQ(models().GetModel(v1.name + "@2")->display_name, "renamed") << "model-level";
  patch.name = v1.name + "@2";
  patch.version_description = "v2 notes";
  patch.labels = {{"team", "y"}};
  updated = models().UpdateModel(patch, {"version_description", "labels"});
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->labels.at("team"), "y");
  EXPECT_EQ(models().GetModel(v1.name + "@1")->labels.at("team"), "x");
  EXPECT_TRUE(absl::IsInvalidArgument(models().UpdateModel(patch, {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(models().UpdateModel(patch, {"displayName"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(models().UpdateModel(patch, {"artifactUri"}).status()));
  patch.name = v1.name;
  EXPECT_TRUE(
      absl::IsInvalidArgument(models().UpdateModel(patch, {"versionDescription"}).status()));
  patch.display_name = "";
  EXPECT_TRUE(absl::IsInvalidArgument(models().UpdateModel(patch, {"displayName"}).status()));
}

TEST_F(ModelServiceTest, DeleteVersionRules) {
  Model v1 = Upload(1);
  auto only = models().DeleteModelVersion(v1.name + "@1");
  EXPECT_TRUE(absl::IsFailedPrecondition(only.status())) << only.status();
  EXPECT_NE(std::string(only.status().message()).find("only version"), std::string::npos);
  Upload(2, v1.name);
  auto def = models().DeleteModelVersion(v1.name + "@1");
  EXPECT_TRUE(absl::IsFailedPrecondition(def.status())) << def.status();
  EXPECT_NE(std::string(def.status().message()).find("default alias"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(models().DeleteModelVersion(v1.name + "@prod").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(models().DeleteModelVersion(v1.name).status()));
  EXPECT_TRUE(absl::IsNotFound(models().DeleteModelVersion(v1.name + "@5").status()));

  fs::path v2_dir = *models().ArtifactDir(v1.name + "@2");
  auto op = models().DeleteModelVersion(v1.name + "@2");
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_TRUE(op->done);
  EXPECT_TRUE(op->error.ok());
  EXPECT_EQ(op->kind, OperationKind::kDeleteModelVersion);
  EXPECT_TRUE(absl::IsNotFound(models().GetModel(v1.name + "@2").status()));
  EXPECT_FALSE(fs::exists(v2_dir));
  // Version ids are not reused.
  EXPECT_EQ(Upload(2, v1.name).version_id, "3");
}

TEST_F(ModelServiceTest, DeleteModelRemovesVersionsFoldersAndBlobs) {
  Model v1 = Upload(1);
  Upload(2, v1.name);
  Model other = Upload(2);  // shares ckpt2's blobs
  EXPECT_TRUE(absl::IsInvalidArgument(models().DeleteModel(v1.name + "@1").status()));
  auto op = models().DeleteModel(v1.name);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_TRUE(op->done);
  EXPECT_EQ(op->kind, OperationKind::kDeleteModel);
  EXPECT_TRUE(absl::IsNotFound(models().GetModel(v1.name).status()));
  EXPECT_TRUE(absl::IsNotFound(models().DeleteModel(v1.name).status()));
  // ckpt1's blobs are gone, ckpt2's (still used by `other`) remain.
  std::set<std::string> expected;
  for (const auto& f : other.artifact.files) expected.insert(f.sha256);
  EXPECT_EQ(*h_.artifacts().ListBlobs(), expected);
  EXPECT_FALSE(fs::exists(h_.data_dir() / "models" / "test-project" / "us-central1" / "1"));
}

TEST_F(ModelServiceTest, ListModelsPagesAndFilters) {
  for (int i = 0; i < 5; ++i) {
    UploadModelRequest r =
        RegistryHarness::Request(Ckpt(1 + i % 2).string(), i < 3 ? "alpha" : "beta");
    r.model.labels = {{"idx", std::to_string(i)}};
    ASSERT_TRUE(h_.UploadAndWait(r).ok());
  }
  ListQuery q;
  q.page_size = 2;
  std::vector<std::string> names;
  do {
    auto page = models().ListModels(kTestParent, q);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->items.size(), 2u);
    for (const auto& m : page->items) names.push_back(m.name);
    q.page_token = page->next_page_token;
  } while (!q.page_token.empty());
  EXPECT_EQ(names.size(), 5u);
  EXPECT_EQ(models().ListModels(kTestParent, {.filter = "display_name=\"alpha\""})->items.size(),
            3u);
  EXPECT_EQ(models()
                .ListModels(kTestParent, {.filter = "labels.idx=\"4\" AND displayName=beta"})
                ->items.size(),
            1u);
  EXPECT_EQ(models().ListModels(kTestParent, {.filter = "labels.idx:*"})->items.size(), 5u);
  EXPECT_EQ(models().ListModels(kTestParent, {.filter = "labels.nope:*"})->items.size(), 0u);
  EXPECT_TRUE(
      absl::IsInvalidArgument(models().ListModels(kTestParent, {.page_token = "xyz"}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(models().ListModels(kTestParent, {.filter = "foo=bar"}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(models().ListModels(kTestParent, {.page_size = -3}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(models().ListModels("projects/x", {}).status()));
}

TEST_F(ModelServiceTest, ParallelUploadsOfTheSameFilesDedup) {
  for (int threads : {2, 4}) {
    std::vector<std::thread> pool;
    std::vector<absl::StatusOr<Model>> results(threads, absl::UnknownError("not run"));
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back([&, i] { results[i] = h_.UploadFolder(Ckpt(1)); });
    }
    for (auto& t : pool) t.join();
    for (const auto& r : results) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->artifact_digest, results[0]->artifact_digest);
    }
  }
  EXPECT_EQ(h_.artifacts().ListBlobs()->size(), 3u);
  EXPECT_EQ(models().ListModels(kTestParent, {})->items.size(), 6u);
}

// A download that only ends when cancelled: makes the cancel race deterministic.
class BlockingFetcher final : public ArtifactFetcher {
 public:
  absl::Status Fetch(const std::string&, const ByteSink&, int64_t,
                     const CancellationToken& cancel) override {
    {
      absl::MutexLock lock(&mu_);
      started_ = true;
    }
    while (!cancel.WaitFor(absl::Milliseconds(10))) {
    }
    return absl::CancelledError("download cancelled");
  }
  void WaitStarted() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&started_));
  }

 private:
  absl::Mutex mu_;
  bool started_ = false;
};

TEST(ModelServiceCancelTest, CancelledUploadEndsCancelledAndLeavesNothing) {
  ScopedTempDir tmp;
  BlockingFetcher fetcher;
  RegistryHarness h(tmp.path() / "data", {.fetcher = &fetcher});
  ASSERT_TRUE(h.Open().ok());
  auto op = h.models().UploadModel(RegistryHarness::Request("https://models.example/m.tar.gz"));
  ASSERT_TRUE(op.ok()) << op.status();
  fetcher.WaitStarted();
  auto running = h.operations().GetOperation(op->name);
  EXPECT_FALSE(running->done);
  EXPECT_EQ(running->stage, "FETCHING_ARTIFACT");
  auto waited = h.operations().WaitOperation(op->name, absl::Milliseconds(50));
  ASSERT_TRUE(waited.ok());
  EXPECT_FALSE(waited->done) << "Wait returns the current state at its timeout";
  ASSERT_TRUE(h.operations().CancelOperation(op->name).ok());
  auto done = h.Wait(*op);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->error.code(), absl::StatusCode::kCancelled) << done->error;
  EXPECT_EQ(static_cast<int>(done->error.code()), 1);
  EXPECT_TRUE(h.models().ListModels(kTestParent, {})->items.empty());
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "uploads"));
  // Cancelling a done operation changes nothing.
  EXPECT_TRUE(h.operations().CancelOperation(op->name).ok());
  EXPECT_EQ(h.operations().GetOperation(op->name)->error.code(), absl::StatusCode::kCancelled);
}

TEST(ModelServiceCancelTest, ShutdownInterruptsRunningUploadsRetryably) {
  ScopedTempDir tmp;
  BlockingFetcher fetcher;
  RegistryHarness h(tmp.path() / "data", {.fetcher = &fetcher});
  ASSERT_TRUE(h.Open().ok());
  auto op = h.models().UploadModel(RegistryHarness::Request("https://models.example/m.tar.gz"));
  ASSERT_TRUE(op.ok());
  fetcher.WaitStarted();
  ASSERT_TRUE(h.Open().ok());  // closes (shutdown) and reopens
  auto done = h.operations().GetOperation(op->name);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);
  EXPECT_EQ(done->error.code(), absl::StatusCode::kUnavailable) << done->error;
  EXPECT_NE(std::string(done->error.message()).find("retry"), std::string::npos);
}

TEST_F(ModelServiceTest, UploadsTheRealFashionVit) {
  fs::path vit = testing::VendoredDataDir() / "models" / "fashion-vit";
  auto m = h_.UploadFolder(vit);
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> paths;
  for (const auto& f : m->artifact.files) paths.push_back(f.path);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "model.safetensors"), paths.end());
  for (const auto& f : m->artifact.files) {
    EXPECT_EQ(f.sha256, *Sha256File(vit / f.path)) << f.path;
  }
}

}  // namespace
}  // namespace tessera::registry
