// Upload from an http:// archive end to end: a real HttpServer (tessera_http) serves a .tar.gz,
// HttpArtifactFetcher downloads it, the registry extracts, validates and commits it.
#include <archive.h>
#include <archive_entry.h>

#include <fstream>

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

// model/config.json, model/preprocessor_config.json, model/model.safetensors as a .tar.gz.
std::string TarGzOf(const fs::path& dir) {
  fs::path out = dir.parent_path() / "model.tar.gz";
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_add_filter_gzip(a);
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

  auto fetcher = HttpArtifactFetcher::Create({});
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

}  // namespace
}  // namespace tessera::registry
