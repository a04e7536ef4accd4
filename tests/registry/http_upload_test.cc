// Upload from an http:// archive end to end: a real HttpServer (tessera_http) serves a .tar.gz,
// HttpArtifactFetcher downloads it, the registry extracts, validates and commits it.
#include <archive.h>
#include <archive_entry.h>

#include <atomic>
#include <fstream>
#include <map>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "common/http/http_server.h"
#include "gtest/gtest.h"
#include "registry/http_artifact_fetcher.h"
#include "registry/sha256.h"
#include "testing/registry_harness.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;
using testing::RegistryHarness;
using testing::ScopedTempDir;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// model/config.json, model/preprocessor_config.json, model/model.safetensors as a .tar.gz
// (or a plain .tar when `gzip` is false: incompressible sizes stay as they are).
std::string TarGzOf(const fs::path& dir, bool gzip = true) {
  fs::path out = dir.parent_path() / (dir.filename().string() + (gzip ? ".tar.gz" : ".tar"));
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_open_filename(a, out.c_str());
  for (const char* name : {"config.json", "preprocessor_config.json", "model.safetensors"}) {
    std::string data = ReadFile(dir / name);
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, (std::string("model/") + name).c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<int64_t>(data.size()));
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return ReadFile(out);
}

TEST(HttpUploadTest, UploadsAnArchiveServedOverHttp) {
  ScopedTempDir tmp;
  testing::WriteTinyCheckpoint(tmp.path() / "ckpt", 7);
  std::string archive = TarGzOf(tmp.path() / "ckpt");
  http::HttpServer::Options so;
  so.handler = http::WrapSync([&](http::HttpRequest&& r) {
    if (r.path == "/model.tar.gz") return http::TextResponse(200, archive, "application/gzip");
    if (r.path == "/junk.tar.gz") return http::TextResponse(200, "not an archive at all");
    return http::TextResponse(404, "no such file");
  });
  auto server = http::HttpServer::Create(so);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());

  // The test server is on loopback, which only the flag's option lets uploads reach.
  auto fetcher = HttpArtifactFetcher::Create({.allow_private_hosts = true});
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  RegistryHarness h(tmp.path() / "data", {.fetcher = fetcher->get()});
  ASSERT_TRUE(h.Open().ok());

  auto m = h.UploadAndWait(RegistryHarness::Request(base + "/model.tar.gz"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->artifact_uri, base + "/model.tar.gz");
  ASSERT_EQ(m->artifact.files.size(), 3u);
  EXPECT_EQ(m->artifact.files[1].path, "model.safetensors");
  EXPECT_EQ(m->artifact.files[1].sha256, *Sha256File(tmp.path() / "ckpt" / "model.safetensors"));

  auto missing = h.UploadAndWait(RegistryHarness::Request(base + "/nope.tar.gz"));
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(std::string(missing.status().message()).find("/nope.tar.gz"), std::string::npos);
  auto junk = h.UploadAndWait(RegistryHarness::Request(base + "/junk.tar.gz"));
  EXPECT_TRUE(absl::IsInvalidArgument(junk.status())) << junk.status();
  EXPECT_NE(std::string(junk.status().message()).find(base + "/junk.tar.gz"), std::string::npos)
      << junk.status();
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "uploads"));
  (*server)->Shutdown(absl::Seconds(1));
}

// A loopback HTTP server for the tests below: serves named bodies, redirects, and counts the
// requests it received (a refused address must not even be connected to).
class ArtifactServer {
 public:
  ArtifactServer() {
    http::HttpServer::Options so;
    so.handler = http::WrapSync([this](http::HttpRequest&& r) {
      requests_.fetch_add(1);
      absl::MutexLock lock(&mu_);
      if (auto it = redirects_.find(r.path); it != redirects_.end()) {
        http::HttpResponse redirect = http::TextResponse(302, "");
        redirect.headers.Set("Location", it->second);
        return redirect;
      }
      if (auto it = bodies_.find(r.path); it != bodies_.end()) {
        return http::TextResponse(200, it->second, "application/octet-stream");
      }
      return http::TextResponse(404, "no such file");
    });
    auto server = http::HttpServer::Create(so);
    EXPECT_TRUE(server.ok()) << server.status();
    if (server.ok()) server_ = *std::move(server);
  }
  ~ArtifactServer() {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }
  void Serve(const std::string& path, std::string body) {
    absl::MutexLock lock(&mu_);
    bodies_[path] = std::move(body);
  }
  void Redirect(const std::string& path, const std::string& location) {
    absl::MutexLock lock(&mu_);
    redirects_[path] = location;
  }
  int port() const { return server_ ? server_->port() : 0; }
  std::string Url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port()) + path;
  }
  int requests() const { return requests_.load(); }

 private:
  std::unique_ptr<http::HttpServer> server_;
  std::atomic<int> requests_{0};
  absl::Mutex mu_;
  std::map<std::string, std::string> bodies_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> redirects_ ABSL_GUARDED_BY(mu_);
};

bool Mentions(const absl::Status& s, std::string_view text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST(HttpUploadTest, LoopbackIsRefusedWithoutTheFlagAndReachedWithIt) {
  ScopedTempDir tmp;
  testing::WriteTinyCheckpoint(tmp.path() / "ckpt", 11);
  ArtifactServer server;
  server.Serve("/model.tar.gz", TarGzOf(tmp.path() / "ckpt"));

  auto strict = HttpArtifactFetcher::Create({});
  ASSERT_TRUE(strict.ok()) << strict.status();
  RegistryHarness h(tmp.path() / "data", {.fetcher = strict->get()});
  ASSERT_TRUE(h.Open().ok());
  // An IP literal is refused when the request is made, naming the flag.
  auto literal = h.UploadAndWait(RegistryHarness::Request(server.Url("/model.tar.gz")));
  EXPECT_TRUE(absl::IsPermissionDenied(literal.status())) << literal.status();
  EXPECT_TRUE(Mentions(literal.status(), "--allow-private-artifact-hosts")) << literal.status();
  // Names (and the decimal and octal forms the resolver reads as 127.0.0.1) are refused on the
  // address they resolve to, before connecting.
  for (const char* host : {"localhost", "2130706433", "0177.0.0.1", "127.1"}) {
    auto named = h.UploadAndWait(RegistryHarness::Request(server.Url("/model.tar.gz", host)));
    EXPECT_TRUE(absl::IsPermissionDenied(named.status())) << host << ": " << named.status();
    EXPECT_TRUE(Mentions(named.status(), "loopback")) << named.status();
  }
  EXPECT_EQ(server.requests(), 0) << "a refused address is never connected to";
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "uploads"));
  EXPECT_TRUE(h.models().ListModels(testing::kTestParent, {})->items.empty());

  auto allowing = HttpArtifactFetcher::Create({.allow_private_hosts = true});
  ASSERT_TRUE(allowing.ok()) << allowing.status();
  RegistryHarness allowed(tmp.path() / "data2", {.fetcher = allowing->get()});
  ASSERT_TRUE(allowed.Open().ok());
  for (const char* host : {"127.0.0.1", "localhost", "2130706433"}) {
    auto m = allowed.UploadAndWait(RegistryHarness::Request(server.Url("/model.tar.gz", host)));
    EXPECT_TRUE(m.ok()) << host << ": " << m.status();
  }
}

TEST(HttpUploadTest, LinkLocalAndMetadataAreRefusedEvenWithTheFlag) {
  ScopedTempDir tmp;
  auto fetcher = HttpArtifactFetcher::Create({.allow_private_hosts = true});
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  RegistryHarness h(tmp.path() / "data", {.fetcher = fetcher->get()});
  ASSERT_TRUE(h.Open().ok());
  for (const char* url :
       {"http://169.254.169.254/latest/meta-data/model.tar.gz", "http://[fd00:ec2::254]/m.tar",
        "http://[fe80::1]:8080/m.tar", "http://[::ffff:169.254.169.254]/m.tar",
        "https://100.100.100.200/m.tar"}) {
    auto m = h.UploadAndWait(RegistryHarness::Request(url));
    EXPECT_TRUE(absl::IsPermissionDenied(m.status())) << url << ": " << m.status();
    EXPECT_TRUE(Mentions(m.status(), "never fetches")) << m.status();
  }
}

TEST(HttpUploadTest, RedirectsToForbiddenAddressesAreRefusedAtTheHop) {
  ScopedTempDir tmp;
  testing::WriteTinyCheckpoint(tmp.path() / "ckpt", 12);
  ArtifactServer server;
  server.Serve("/model.tar.gz", TarGzOf(tmp.path() / "ckpt"));
  server.Redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/");
  server.Redirect("/to-mapped", "http://[::ffff:a9fe:a9fe]/x.tar");
  server.Redirect("/to-link-local", "http://[fe80::1]/x.tar");
  server.Redirect("/to-self", "/model.tar.gz");

  auto fetcher = HttpArtifactFetcher::Create({.allow_private_hosts = true});
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  RegistryHarness h(tmp.path() / "data", {.fetcher = fetcher->get()});
  ASSERT_TRUE(h.Open().ok());
  for (const char* path : {"/to-metadata", "/to-mapped", "/to-link-local"}) {
    auto m = h.UploadAndWait(RegistryHarness::Request(server.Url(path)));
    EXPECT_TRUE(absl::IsPermissionDenied(m.status())) << path << ": " << m.status();
    EXPECT_TRUE(Mentions(m.status(), "never fetches")) << m.status();
  }
  // An allowed hop is followed.
  auto m = h.UploadAndWait(RegistryHarness::Request(server.Url("/to-self")));
  EXPECT_TRUE(m.ok()) << m.status();

  // Without the flag, a redirect from an allowed host to loopback is refused the same way; here
  // the first hop is loopback too, so the request itself is refused.
  auto strict = HttpArtifactFetcher::Create({});
  ASSERT_TRUE(strict.ok());
  const int before = server.requests();
  auto refused = (*strict)->Fetch(
      server.Url("/to-self", "localhost"), [](std::string_view) { return absl::OkStatus(); },
      1 << 20, CancellationToken());
  EXPECT_TRUE(absl::IsPermissionDenied(refused)) << refused;
  EXPECT_EQ(server.requests(), before);
}

// A checkpoint whose safetensors header is wrong, followed by `bulk` bytes of weights.
void WriteBadHeaderCheckpoint(const fs::path& dir, int64_t bulk) {
  testing::WriteTinyCheckpoint(dir, 13);
  const std::string header =
      R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 99999999999]}})";
  std::ofstream out(dir / "model.safetensors", std::ios::binary | std::ios::trunc);
  const uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out << header << std::string(static_cast<size_t>(bulk), '\x42');
}

TEST(HttpUploadTest, ABadSafetensorsHeaderIsRefusedBeforeAnythingIsCopied) {
  ScopedTempDir tmp;
  WriteBadHeaderCheckpoint(tmp.path() / "bad", 32 << 20);
  ArtifactServer server;
  server.Serve("/bad.tar", TarGzOf(tmp.path() / "bad", /*gzip=*/false));
  const fs::path local_archive = tmp.path() / "bad.tar";  // written by TarGzOf
  auto fetcher = HttpArtifactFetcher::Create({.allow_private_hosts = true});
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  RegistryHarness h(tmp.path() / "data", {.fetcher = fetcher->get()});
  ASSERT_TRUE(h.Open().ok());

  for (const std::string& uri :
       {(tmp.path() / "bad").string(), server.Url("/bad.tar"), local_archive.string()}) {
    auto m = h.UploadAndWait(RegistryHarness::Request(uri));
    EXPECT_TRUE(absl::IsInvalidArgument(m.status())) << uri << ": " << m.status();
    EXPECT_TRUE(Mentions(m.status(), "model.safetensors")) << m.status();
    // An archive is judged as it arrives: refused at its header, not after its 32 MiB of weights
    // (ArrivingArtifactTest measures how much was read).
    if (uri != (tmp.path() / "bad").string()) {
      EXPECT_TRUE(Mentions(m.status(), "refused while it arrived")) << m.status();
    }
    EXPECT_EQ(h.artifacts().blob_bytes_written(), 0) << uri << ": the store was written to";
    EXPECT_TRUE(h.artifacts().ListBlobs()->empty());
  }
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "uploads"));
  // The counter does count: a good upload writes its bytes.
  testing::WriteTinyCheckpoint(tmp.path() / "good", 14);
  ASSERT_TRUE(h.UploadFolder(tmp.path() / "good").ok());
  EXPECT_GT(h.artifacts().blob_bytes_written(), 0);
}

TEST(HttpUploadTest, TheSizeCapRefusesDownloadsAndArchiveContentsBeforeWriting) {
  ScopedTempDir tmp;
  testing::WriteTinyCheckpoint(tmp.path() / "big", 15, 2 << 20);  // ~2 MiB of random weights
  // A tar bomb: 64 MiB of zeros declared in the tar header, a few KiB once gzipped.
  testing::WriteTinyCheckpoint(tmp.path() / "bomb", 16);
  {
    std::ofstream out(tmp.path() / "bomb" / "model.safetensors", std::ios::binary | std::ios::app);
    out << std::string(64 << 20, '\0');
  }
  ArtifactServer server;
  server.Serve("/big.tar", TarGzOf(tmp.path() / "big", false));
  server.Serve("/bomb.tar.gz", TarGzOf(tmp.path() / "bomb"));
  ASSERT_LT(fs::file_size(tmp.path() / "bomb.tar.gz"), 1u << 20);
  auto fetcher = HttpArtifactFetcher::Create({.allow_private_hosts = true});
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  RegistryHarness h(tmp.path() / "data",
                    {.fetcher = fetcher->get(), .max_artifact_bytes = int64_t{1} << 20});
  ASSERT_TRUE(h.Open().ok());

  for (const std::string& uri :
       {server.Url("/big.tar"), server.Url("/bomb.tar.gz"), (tmp.path() / "big").string()}) {
    auto m = h.UploadAndWait(RegistryHarness::Request(uri));
    EXPECT_TRUE(absl::IsInvalidArgument(m.status())) << uri << ": " << m.status();
    EXPECT_TRUE(Mentions(m.status(), "--max-artifact-gib")) << uri << ": " << m.status();
  }
  // A sparse file: its size counts, whatever it occupies on disk.
  testing::WriteTinyCheckpoint(tmp.path() / "sparse", 17);
  fs::resize_file(tmp.path() / "sparse" / "model.safetensors", int64_t{1} << 40);
  auto sparse = h.UploadFolder(tmp.path() / "sparse");
  EXPECT_TRUE(absl::IsInvalidArgument(sparse.status())) << sparse.status();

  EXPECT_EQ(h.artifacts().blob_bytes_written(), 0);
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "uploads")) << "partial files are removed";
  EXPECT_TRUE(fs::is_empty(h.data_dir() / "artifacts" / "tmp"));
}

TEST(HttpUploadTest, ALowDiskRefusesUploadsBeforeTheyFillIt) {
  ScopedTempDir tmp;
  testing::WriteTinyCheckpoint(tmp.path() / "ckpt", 18, 12 << 20);  // ~12 MiB
  ArtifactServer server;
  server.Serve("/model.tar", TarGzOf(tmp.path() / "ckpt", false));
  auto fetcher = HttpArtifactFetcher::Create({.allow_private_hosts = true});
  ASSERT_TRUE(fetcher.ok()) << fetcher.status();
  // "Only 10 MiB free" on a 100 GiB disk, no reserve; then 100 MiB free with a 95 MiB reserve.
  for (auto [free_mib, reserve_mib] : {std::pair{10, 0}, std::pair{100, 95}}) {
    RegistryHarness h(tmp.path() / ("data" + std::to_string(free_mib)),
                      {.fetcher = fetcher->get(),
                       .min_free_bytes = int64_t{reserve_mib} << 20,
                       .disk_space = [free = int64_t{free_mib} << 20](const fs::path&) {
                         return absl::StatusOr<DiskSpace>(DiskSpace{free, int64_t{100} << 30});
                       }});
    ASSERT_TRUE(h.Open().ok());
    for (const std::string& uri : {server.Url("/model.tar"), (tmp.path() / "ckpt").string()}) {
      auto m = h.UploadAndWait(RegistryHarness::Request(uri));
      EXPECT_TRUE(absl::IsResourceExhausted(m.status())) << uri << ": " << m.status();
      EXPECT_TRUE(Mentions(m.status(), "--min-free-disk-gib")) << m.status();
    }
    EXPECT_EQ(h.artifacts().blob_bytes_written(), 0);
    EXPECT_TRUE(fs::is_empty(h.data_dir() / "uploads"));
  }
  // With room, the same upload succeeds.
  RegistryHarness roomy(
      tmp.path() / "roomy",
      {.fetcher = fetcher->get(), .disk_space = [](const fs::path&) {
         return absl::StatusOr<DiskSpace>(DiskSpace{int64_t{1} << 30, int64_t{100} << 30});
       }});
  ASSERT_TRUE(roomy.Open().ok());
  auto m = roomy.UploadAndWait(RegistryHarness::Request(server.Url("/model.tar")));
  EXPECT_TRUE(m.ok()) << m.status();
}

}  // namespace
}  // namespace tessera::registry
