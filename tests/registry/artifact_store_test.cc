// ArtifactStore, archive extraction and artifact sources.
#include "registry/artifact_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "registry/archive_extractor.h"
#include "registry/artifact_source.h"
#include "registry/sha256.h"
#include "testing/file_fetcher.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/tar_writer.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;
using testing::ScopedTempDir;
using testing::WriteTinyCheckpoint;

std::vector<SourceFile> FilesOf(const fs::path& dir) {
  std::vector<SourceFile> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      out.push_back({e.path(), e.path().lexically_relative(dir).generic_string()});
  }
  return out;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const ModelName kVersion{{"p", "l"}, "1", "1"};

TEST(ArtifactStoreTest, IngestsContentAddressedAndDedups) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "src", 1);
  auto store = *ArtifactStore::Create({.data_dir = tmp.path() / "data"});
  CancellationToken cancel;
  auto first = store->Ingest(FilesOf(tmp.path() / "src"), cancel);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->manifest.files.size(), 3u);
  EXPECT_EQ(first->manifest.files[0].path, "config.json");
  EXPECT_GT(first->bytes_copied, 0);
  for (const auto& f : first->manifest.files) {
    EXPECT_EQ(*Sha256File(tmp.path() / "src" / f.path), f.sha256);
    fs::path blob = store->BlobPath(f.sha256);
    EXPECT_EQ(blob.parent_path().filename().string(), f.sha256.substr(0, 2));
    EXPECT_EQ(blob.filename().string(), f.sha256.substr(2));
    EXPECT_TRUE(store->VerifyBlob(f.sha256).ok());
    EXPECT_EQ(fs::status(blob).permissions() & fs::perms::owner_write, fs::perms::none);
  }
  auto again = store->Ingest(FilesOf(tmp.path() / "src"), cancel);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->bytes_copied, 0);
  EXPECT_EQ(again->manifest, first->manifest);
  EXPECT_EQ(store->ListBlobs()->size(), 3u);
}

TEST(ArtifactStoreTest, StagePromoteAndMaterializeUseHardLinks) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "src", 2);
  auto store = *ArtifactStore::Create({.data_dir = tmp.path() / "data"});
  auto ingested = *store->Ingest(FilesOf(tmp.path() / "src"), CancellationToken());
  auto staged = store->Stage(ingested.manifest);
  ASSERT_TRUE(staged.ok()) << staged.status();
  auto dir = store->Promote(*staged, kVersion);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, tmp.path() / "data" / "models" / "p" / "l" / "1" / "1");
  EXPECT_FALSE(fs::exists(*staged));
  EXPECT_EQ(ReadFile(*dir / "model.safetensors"),
            ReadFile(tmp.path() / "src" / "model.safetensors"));
  struct stat st;
  ASSERT_EQ(::stat((*dir / "config.json").c_str(), &st), 0);
  EXPECT_GE(st.st_nlink, 2u) << "hard link to the blob";
  // Materialize after the folder was lost re-creates it.
  ASSERT_TRUE(store->RemoveVersionDir(kVersion).ok());
  auto again = store->Materialize(kVersion, ingested.manifest);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(fs::exists(*again / "preprocessor_config.json"));
  // A missing blob is reported, not papered over.
  ArtifactManifest bogus{{{"x.bin", std::string(64, 'e'), 1}}};
  EXPECT_TRUE(absl::IsNotFound(store->Stage(bogus).status()));
}

TEST(ArtifactStoreTest, LimitsAndCancellation) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "src", 3, 100000);
  auto store = *ArtifactStore::Create({.data_dir = tmp.path() / "data", .max_file_bytes = 1000});
  auto big = store->Ingest(FilesOf(tmp.path() / "src"), CancellationToken());
  EXPECT_TRUE(absl::IsInvalidArgument(big.status())) << big.status();
  auto store2 = *ArtifactStore::Create({.data_dir = tmp.path() / "data2", .max_files = 2});
  EXPECT_TRUE(absl::IsInvalidArgument(
      store2->Ingest(FilesOf(tmp.path() / "src"), CancellationToken()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store2->Ingest({}, CancellationToken()).status()));
  CancellationToken cancelled;
  cancelled.Cancel();
  auto store3 = *ArtifactStore::Create({.data_dir = tmp.path() / "data3"});
  EXPECT_TRUE(absl::IsCancelled(store3->Ingest(FilesOf(tmp.path() / "src"), cancelled).status()));
}

TEST(ArtifactStoreTest, GarbageCollectionSparesReferencedAndPinnedBlobs) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "a", 10);
  WriteTinyCheckpoint(tmp.path() / "b", 11);
  auto store = *ArtifactStore::Create({.data_dir = tmp.path() / "data"});
  auto a = *store->Ingest(FilesOf(tmp.path() / "a"), CancellationToken());
  std::set<std::string> referenced;
  for (const auto& f : a.manifest.files) referenced.insert(f.sha256);
  a.pins = BlobPins();
  {
    auto b = *store->Ingest(FilesOf(tmp.path() / "b"), CancellationToken());  // pinned
    ASSERT_TRUE(
        store->CollectGarbage([&]() -> absl::StatusOr<std::set<std::string>> { return referenced; })
            .ok());
    for (const auto& f : b.manifest.files) EXPECT_TRUE(store->HasBlob(f.sha256)) << "pinned";
  }
  // b's pins released: its blobs go; a's (referenced) stay.
  ASSERT_TRUE(
      store->CollectGarbage([&]() -> absl::StatusOr<std::set<std::string>> { return referenced; })
          .ok());
  EXPECT_EQ(*store->ListBlobs(), referenced);
}

TEST(ArtifactStoreTest, SweepRemovesLeftovers) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "a", 20);
  auto store = *ArtifactStore::Create({.data_dir = tmp.path() / "data"});
  auto a = *store->Ingest(FilesOf(tmp.path() / "a"), CancellationToken());
  a.pins = BlobPins();
  ASSERT_TRUE(store->Materialize(kVersion, a.manifest).ok());
  ModelName dead{{"p", "l"}, "1", "2"};
  ASSERT_TRUE(store->Materialize(dead, a.manifest).ok());
  std::ofstream(tmp.path() / "data" / "artifacts" / "tmp" / "blob-123-0") << "partial";
  fs::create_directories(tmp.path() / "data" / "models" / ".staging" / "v-abc");
  auto scratch = store->NewScratchDir();
  ASSERT_TRUE(scratch.ok());
  std::set<std::string> referenced;
  for (const auto& f : a.manifest.files) referenced.insert(f.sha256);
  std::string orphan = a.manifest.files[0].sha256;
  referenced.erase(orphan);
  ASSERT_TRUE(store->Sweep(referenced, {kVersion}).ok());
  EXPECT_TRUE(fs::is_empty(tmp.path() / "data" / "artifacts" / "tmp"));
  EXPECT_TRUE(fs::is_empty(tmp.path() / "data" / "models" / ".staging"));
  EXPECT_FALSE(fs::exists(*scratch));
  EXPECT_TRUE(fs::exists(store->VersionDir(kVersion)));
  EXPECT_FALSE(fs::exists(store->VersionDir(dead)));
  EXPECT_FALSE(store->HasBlob(orphan));
  EXPECT_EQ(*store->ListBlobs(), referenced);
}

TEST(ArtifactStoreTest, ConcurrentIngestOfTheSameFilesStoresEachBlobOnce) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "src", 30, 1 << 20);
  auto store = *ArtifactStore::Create({.data_dir = tmp.path() / "data"});
  for (int threads : {2, 4, 8}) {
    std::vector<std::thread> pool;
    std::vector<absl::StatusOr<IngestResult>> results;
    for (int i = 0; i < threads; ++i) results.emplace_back(absl::UnknownError("not run"));
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back(
          [&, i] { results[i] = store->Ingest(FilesOf(tmp.path() / "src"), CancellationToken()); });
    }
    for (auto& t : pool) t.join();
    for (auto& r : results) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->manifest, results[0]->manifest);
    }
    EXPECT_EQ(store->ListBlobs()->size(), 3u);
    for (const auto& f : results[0]->manifest.files) EXPECT_TRUE(store->VerifyBlob(f.sha256).ok());
    EXPECT_TRUE(fs::is_empty(tmp.path() / "data" / "artifacts" / "tmp"));
  }
}

// ---- archives ----

using Entry = testing::TarEntry;
using testing::WriteTar;

TEST(ArchiveTest, ExtractsTarAndTarGz) {
  ScopedTempDir tmp;
  for (bool gzip : {false, true}) {
    fs::path archive = tmp.path() / (gzip ? "m.tar.gz" : "m.tar");
    WriteTar(archive,
             {{"model/", AE_IFDIR},
              {"model/config.json", AE_IFREG, "{}"},
              {"./model/sub/w.bin", AE_IFREG, "weights"}},
             gzip);
    fs::path out = tmp.path() / (gzip ? "outgz" : "out");
    fs::create_directories(out);
    absl::Status s = ExtractTarArchive(archive, out, {}, CancellationToken());
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(ReadFile(out / "model" / "config.json"), "{}");
    EXPECT_EQ(ReadFile(out / "model" / "sub" / "w.bin"), "weights");
  }
}

TEST(ArchiveTest, RefusesUnsafeEntries) {
  ScopedTempDir tmp;
  struct Case {
    const char* what;
    std::vector<Entry> entries;
    const char* message;
  };
  std::vector<Case> cases = {
      {"absolute", {{"/etc/evil", AE_IFREG, "x"}}, "absolute path"},
      {"dotdot", {{"a/../../evil", AE_IFREG, "x"}}, "\"..\""},
      {"symlink", {{"link", AE_IFLNK, "", "/etc/passwd"}}, "symbolic link"},
      {"hardlink", {{"a", AE_IFREG, "x"}, {"b", AE_IFREG, "", "a", 0}}, "hard link"},
      {"device", {{"dev", AE_IFCHR}}, "not a regular file"},
      {"fifo", {{"fifo", AE_IFIFO}}, "not a regular file"},
      {"duplicate", {{"a", AE_IFREG, "x"}, {"./a", AE_IFREG, "y"}}, "twice"},
      {"too big", {{"big", AE_IFREG, std::string(5000, 'x')}}, "limit"},
  };
  ExtractLimits limits;
  limits.max_file_bytes = 4096;
  for (const Case& c : cases) {
    fs::path archive = tmp.path() / (std::string(c.what) + ".tar");
    WriteTar(archive, c.entries, false);
    fs::path out = tmp.path() / (std::string("out-") + c.what);
    fs::create_directories(out);
    absl::Status s = ExtractTarArchive(archive, out, limits, CancellationToken());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << c.what << ": " << s;
    EXPECT_NE(std::string(s.message()).find(c.message), std::string::npos) << c.what << ": " << s;
  }
  EXPECT_FALSE(fs::exists(tmp.path() / "evil"));
  // Not an archive at all.
  std::ofstream(tmp.path() / "junk.tar") << "this is not a tar file, just some text";
  fs::create_directories(tmp.path() / "junk-out");
  EXPECT_TRUE(absl::IsInvalidArgument(ExtractTarArchive(
      tmp.path() / "junk.tar", tmp.path() / "junk-out", {}, CancellationToken())));
  // Too many entries.
  std::vector<Entry> many;
  for (int i = 0; i < 20; ++i) many.push_back({"f" + std::to_string(i), AE_IFREG, "x"});
  WriteTar(tmp.path() / "many.tar", many, false);
  fs::create_directories(tmp.path() / "many-out");
  limits.max_entries = 10;
  EXPECT_TRUE(absl::IsInvalidArgument(ExtractTarArchive(
      tmp.path() / "many.tar", tmp.path() / "many-out", limits, CancellationToken())));
}

// ---- sources ----

TEST(ArtifactSourceTest, ResolvesUriForms) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "my model", 40);
  ArtifactSourceOptions options;
  auto plain = ResolveArtifactUri((tmp.path() / "my model").string(), options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->kind, ArtifactLocation::Kind::kLocalFolder);
  auto uri = ResolveArtifactUri("file://" + (tmp.path() / "my%20model").string(), options);
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(uri->local_path, plain->local_path);
  EXPECT_TRUE(
      ResolveArtifactUri("file://localhost" + (tmp.path() / "my model").string(), options).ok());
  for (const std::string& bad : std::vector<std::string>{
           "", "relative/path", "gs://bucket/model", "s3://b/m", "file://host/x", "file://relative",
           "ftp://x/y.tar", "file:///bad%zz"}) {
    auto r = ResolveArtifactUri(bad, options);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad << ": " << r.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(
      ResolveArtifactUri((tmp.path() / "missing").string(), options).status()));
  std::ofstream(tmp.path() / "file.txt") << "x";
  EXPECT_TRUE(absl::IsInvalidArgument(
      ResolveArtifactUri((tmp.path() / "file.txt").string(), options).status()));
  auto http = ResolveArtifactUri("https://example.com/m.tar.gz", options);
  EXPECT_TRUE(absl::IsInvalidArgument(http.status()));
  EXPECT_NE(std::string(http.status().message()).find("cannot download"), std::string::npos);
}

TEST(ArtifactSourceTest, EnforcesAllowedRootsIncludingSymlinks) {
  ScopedTempDir tmp;
  fs::path root = tmp.path() / "allowed";
  fs::path outside = tmp.path() / "outside";
  WriteTinyCheckpoint(root / "good", 50);
  WriteTinyCheckpoint(outside / "bad", 51);
  ArtifactSourceOptions options;
  options.allowed_roots = {root};
  EXPECT_TRUE(ResolveArtifactUri((root / "good").string(), options).ok());
  for (const std::string& bad : std::vector<std::string>{
           (outside / "bad").string(), (root / ".." / "outside" / "bad").string(),
           (outside / "does-not-exist").string(), std::string("/etc")}) {
    auto r = ResolveArtifactUri(bad, options);
    ASSERT_TRUE(absl::IsPermissionDenied(r.status())) << bad << ": " << r.status();
    EXPECT_NE(std::string(r.status().message()).find("outside the allowed artifact roots"),
              std::string::npos);
  }
  // A symlinked folder inside the root that points outside.
  fs::create_directory_symlink(outside / "bad", root / "sneaky");
  EXPECT_TRUE(
      absl::IsPermissionDenied(ResolveArtifactUri((root / "sneaky").string(), options).status()));
  // A symlinked file inside a folder that points outside.
  WriteTinyCheckpoint(root / "mixed", 52);
  fs::remove(root / "mixed" / "config.json");
  fs::create_symlink(outside / "bad" / "config.json", root / "mixed" / "config.json");
  auto loc = ResolveArtifactUri((root / "mixed").string(), options);
  ASSERT_TRUE(loc.ok());
  auto files = CollectArtifactFiles(*loc, options, tmp.path(), CancellationToken());
  EXPECT_TRUE(absl::IsPermissionDenied(files.status())) << files.status();
  // The same symlink is fine when it stays inside the roots.
  fs::remove(root / "mixed" / "config.json");
  fs::create_symlink(root / "good" / "config.json", root / "mixed" / "config.json");
  files = CollectArtifactFiles(*loc, options, tmp.path(), CancellationToken());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->files.size(), 3u);
}

TEST(ArtifactSourceTest, NeverReadsFromADeniedRootWhateverTheAllowedOnes) {
  ScopedTempDir tmp;
  const fs::path data = tmp.path() / "data";  // the server's data dir
  WriteTinyCheckpoint(data / "models" / "theirs", 53);
  WriteTinyCheckpoint(tmp.path() / "mine", 54);
  std::ofstream(data / "admin.key") << "tsk_secret";
  ArtifactSourceOptions options;
  options.denied_roots = {data};
  EXPECT_TRUE(ResolveArtifactUri((tmp.path() / "mine").string(), options).ok());
  for (const std::string& bad : std::vector<std::string>{
           (data / "models" / "theirs").string(), data.string(),
           "file://" + (data / "models" / "theirs").string(),
           (tmp.path() / "mine" / ".." / "data" / "models" / "theirs").string()}) {
    auto r = ResolveArtifactUri(bad, options);
    ASSERT_TRUE(absl::IsPermissionDenied(r.status())) << bad << ": " << r.status();
    EXPECT_NE(std::string(r.status().message()).find("the server's own data dir"),
              std::string::npos);
  }
  // A symlink into it, and a folder that holds it (an upload of the data dir's parent).
  fs::create_directory_symlink(data / "models" / "theirs", tmp.path() / "link");
  EXPECT_TRUE(absl::IsPermissionDenied(
      ResolveArtifactUri((tmp.path() / "link").string(), options).status()));
  options.allowed_roots = {tmp.path()};
  auto parent = ResolveArtifactUri(tmp.path().string(), options);
  ASSERT_TRUE(parent.ok()) << parent.status();
  auto files = CollectArtifactFiles(*parent, options, tmp.path() / "scratch", CancellationToken());
  EXPECT_TRUE(absl::IsPermissionDenied(files.status())) << files.status();
}

TEST(ArtifactSourceTest, FetchesAndExtractsRemoteArchivesIntoScratch) {
  ScopedTempDir tmp;
  WriteTinyCheckpoint(tmp.path() / "ckpt", 60);
  std::vector<Entry> entries = {{"fashion-vit/", AE_IFDIR}};
  for (const char* f : {"config.json", "preprocessor_config.json", "model.safetensors"}) {
    entries.push_back(
        {std::string("fashion-vit/") + f, AE_IFREG, ReadFile(tmp.path() / "ckpt" / f)});
  }
  WriteTar(tmp.path() / "m.tar.gz", entries, true);
  testing::FileFetcher fetcher(tmp.path() / "m.tar.gz");
  ArtifactSourceOptions options;
  options.fetcher = &fetcher;
  auto loc = ResolveArtifactUri("https://models.example.com/fashion.tar.gz?sig=1", options);
  ASSERT_TRUE(loc.ok()) << loc.status();
  fs::create_directories(tmp.path() / "scratch");
  auto files = CollectArtifactFiles(*loc, options, tmp.path() / "scratch", CancellationToken());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(fetcher.last_url, "https://models.example.com/fashion.tar.gz?sig=1");
  ASSERT_EQ(files->files.size(), 3u);
  EXPECT_EQ(files->files[0].path, "config.json") << "the single top-level folder is unwrapped";
  EXPECT_EQ(ReadFile(files->files[1].source), ReadFile(tmp.path() / "ckpt" / "model.safetensors"));
  // A local archive works the same way.
  auto local = ResolveArtifactUri((tmp.path() / "m.tar.gz").string(), {});
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->kind, ArtifactLocation::Kind::kLocalArchive);
}

}  // namespace
}  // namespace tessera::registry
