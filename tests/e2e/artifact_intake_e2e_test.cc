// Artifact intake on the real binary: which http(s) hosts `tessera serve` fetches from (and
// `--allow-private-artifact-hosts`), and the artifact size cap (`--max-artifact-gib`). The
// registry tests (tests/registry/http_upload_test.cc) cover every range, redirects, tar bombs
// and a fake full disk; these check that the flags reach them.
#include <archive.h>
#include <archive_entry.h>

#include <fstream>
#include <iterator>

#include "common/http/http_server.h"
#include "e2e/control_plane_server.h"
#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/test_paths.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kUpload[] = "/v1/projects/p/locations/us-central1/models:upload";

json UploadBody(const std::string& uri) {
  return {{"model",
           {{"displayName", "intake"},
            {"artifactUri", uri},
            {"containerSpec", {{"imageUri", "tessera/vit"}}}}}};
}

std::string ErrorMessage(const ServeProcess::Reply& r) {
  if (r.body.is_discarded() || !r.body.contains("error")) return "";
  return r.body["error"].value("message", "");
}

// The vendored fashion-vit checkpoint as an uncompressed tar (model/...), in memory.
std::string FashionVitTar(const fs::path& scratch) {
  const fs::path model = VendoredDataDir() / "models" / "fashion-vit";
  const fs::path out = scratch / "fashion-vit.tar";
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, out.c_str());
  for (const char* name : {"config.json", "preprocessor_config.json", "model.safetensors"}) {
    std::ifstream in(model / name, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), {});
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
  std::ifstream in(out, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(ArtifactIntakeE2E, LoopbackNeedsTheFlagAndMetadataIsNeverFetched) {
  ScopedTempDir tmp;
  const std::string tar = FashionVitTar(tmp.path());
  http::HttpServer::Options so;
  so.handler = http::WrapSync([&](http::HttpRequest&& r) {
    if (r.path == "/fashion-vit.tar") return http::TextResponse(200, tar, "application/x-tar");
    return http::TextResponse(404, "no such file");
  });
  auto files = http::HttpServer::Create(so);
  ASSERT_TRUE(files.ok()) << files.status();
  const std::string url =
      "http://127.0.0.1:" + std::to_string((*files)->port()) + "/fashion-vit.tar";

  {
    auto server = ServeProcess::Start(tmp.path() / "strict");
    ASSERT_TRUE(server.ok()) << server.status();
    auto refused = (*server)->Call("POST", kUpload, UploadBody(url));
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_NE(ErrorMessage(refused).find("--allow-private-artifact-hosts"), std::string::npos)
        << refused.raw;
    // A name that resolves to loopback gets as far as the operation, which fails the same way.
    auto named = (*server)->Call(
        "POST", kUpload,
        UploadBody("http://localhost:" + std::to_string((*files)->port()) + "/fashion-vit.tar"));
    ASSERT_EQ(named.status, 200) << named.raw;
    auto done = (*server)->PollOperation(named.body["name"]);
    EXPECT_EQ(done.body["error"]["code"], 7) << done.raw;  // PERMISSION_DENIED
  }
  auto server = ServeProcess::Start(tmp.path() / "open", {"--allow-private-artifact-hosts"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto up = (*server)->Call("POST", kUpload, UploadBody(url));
  ASSERT_EQ(up.status, 200) << up.raw;
  auto done = (*server)->PollOperation(up.body["name"]);
  EXPECT_TRUE(done.body.contains("response")) << done.raw << (*server)->Log();
  for (const char* metadata :
       {"http://169.254.169.254/latest/meta-data/m.tar", "http://[fd00:ec2::254]/m.tar"}) {
    auto refused = (*server)->Call("POST", kUpload, UploadBody(metadata));
    EXPECT_EQ(refused.status, 403) << metadata << ": " << refused.raw;
  }
  (*files)->Shutdown(absl::Seconds(1));
}

TEST(ArtifactIntakeE2E, TheSizeCapRefusesLargerUploadsBeforeCopying) {
  ScopedTempDir tmp;
  // fashion-vit is ~1.8 MB; 0.001 GiB is ~1 MiB.
  auto server = ServeProcess::Start(tmp.path() / "data", {"--max-artifact-gib", "0.001"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto up = (*server)->Call("POST", kUpload,
                            UploadBody((VendoredDataDir() / "models" / "fashion-vit").string()));
  ASSERT_EQ(up.status, 200) << up.raw;
  auto done = (*server)->PollOperation(up.body["name"]);
  ASSERT_TRUE(done.body.contains("error")) << done.raw;
  EXPECT_EQ(done.body["error"]["code"], 3) << done.raw;  // INVALID_ARGUMENT
  EXPECT_NE(done.body["error"]["message"].get<std::string>().find("--max-artifact-gib"),
            std::string::npos)
      << done.raw;
  // The store's folders exist from the start; no file may have landed in them.
  const fs::path blobs = tmp.path() / "data" / "artifacts" / "blobs";
  int blob_files = 0;
  if (fs::exists(blobs)) {
    for (const auto& entry : fs::recursive_directory_iterator(blobs)) {
      if (!entry.is_directory()) ++blob_files;
    }
  }
  EXPECT_EQ(blob_files, 0);
}

TEST(ArtifactIntakeE2E, ServeHelpDocumentsTheFlags) {
  CliResult help = RunCli({"serve", "--help"});
  EXPECT_EQ(help.exit_status, 0) << help.err;
  for (const char* flag :
       {"--allow-private-artifact-hosts", "--max-artifact-gib", "--min-free-disk-gib"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
  }
}

}  // namespace
}  // namespace tessera::testing
