// Archives judged while they arrive: the extractor's progress reports and presized files
// (ExtractObserver), the ArrivingArtifactCheck over them, and an http(s)-shaped download streamed
// into the extractor (FetchAndExtractArchive): a bad checkpoint is refused after its head, not
// after its bulk, and a download that fails is reported as the download's failure.
#include <archive_entry.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <vector>

#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "registry/archive_extractor.h"
#include "registry/arriving_artifact_check.h"
#include "registry/artifact_source.h"
#include "testing/hf_checkpoint_validator.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/tar_writer.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;
using testing::ScopedTempDir;
using testing::TarEntry;
using testing::WriteTar;

constexpr int64_t kBulk = int64_t{48} << 20;  // the weights behind a checkpoint's header

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A safetensors file: `header` behind its length, then `bulk` bytes of weights.
std::string Safetensors(const std::string& header, int64_t bulk) {
  std::string out;
  const uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return out + header + std::string(static_cast<size_t>(bulk), '\x42');
}

// The entries of a checkpoint under `folder` ("" for the top level) whose weights are `bulk`
// bytes; with `bad_header`, its safetensors header names a dtype no runtime knows.
std::vector<TarEntry> Checkpoint(const std::string& folder, int64_t bulk, bool bad_header) {
  const std::string dtype = bad_header ? "F99" : "U8";
  const std::string header = R"({"w": {"dtype": ")" + dtype + R"(", "shape": [)" +
                             std::to_string(bulk) + R"(], "data_offsets": [0, )" +
                             std::to_string(bulk) + "]}}";
  return {{folder + "config.json", AE_IFREG, R"({"model_type": "vit"})"},
          {folder + "preprocessor_config.json", AE_IFREG, "{}"},
          {folder + "model.safetensors", AE_IFREG, Safetensors(header, bulk)}};
}

// Serves a local file as the body of any URL in 64 KiB pieces, counting what the sink took;
// with `fail_after`, the connection "drops" after that many bytes.
class FileFetcher final : public ArtifactFetcher {
 public:
  explicit FileFetcher(fs::path file, int64_t fail_after = -1)
      : file_(std::move(file)), fail_after_(fail_after) {}
  absl::Status Fetch(const std::string& url, const ByteSink& sink, int64_t max_bytes,
                     const CancellationToken&) override {
    const std::string body = ReadFile(file_);
    if (static_cast<int64_t>(body.size()) > max_bytes) {
      return absl::ResourceExhaustedError("more than max_bytes");
    }
    for (size_t at = 0; at < body.size(); at += 64 << 10) {
      if (fail_after_ >= 0 && bytes_taken >= fail_after_) {
        return absl::UnavailableError("downloading " + url + ": connection reset by peer");
      }
      const std::string_view piece = std::string_view(body).substr(at, 64 << 10);
      RETURN_IF_ERROR(sink(piece));
      bytes_taken += static_cast<int64_t>(piece.size());
    }
    return absl::OkStatus();
  }
  int64_t bytes_taken = 0;

 private:
  fs::path file_;
  int64_t fail_after_;
};

// Records every progress report, and what each file's size on disk was at its first one.
class RecordingObserver final : public ExtractObserver {
 public:
  explicit RecordingObserver(fs::path dest) : dest_(std::move(dest)) {}
  absl::Status OnFileProgress(const fs::path& rel, int64_t written, bool complete) override {
    if (!size_at_first_report.contains(rel.string())) {
      size_at_first_report[rel.string()] = static_cast<int64_t>(fs::file_size(dest_ / rel));
    }
    reports.push_back({rel.string(), written, complete});
    return absl::OkStatus();
  }
  struct Report {
    std::string file;
    int64_t written;
    bool complete;
  };
  std::vector<Report> reports;
  std::map<std::string, int64_t> size_at_first_report;

 private:
  fs::path dest_;
};

// Bytes a file occupies on disk (a presized file is sparse until written).
int64_t AllocatedBytes(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_blocks) * 512;
}

TEST(ArrivingArtifactTest, TheExtractorReportsProgressOnPresizedFiles) {
  ScopedTempDir tmp;
  const int64_t size = 1 << 20;
  WriteTar(tmp.path() / "m.tar",
           {{"m/", AE_IFDIR},
            {"m/empty", AE_IFREG, ""},
            {"m/w.bin", AE_IFREG, std::string(static_cast<size_t>(size), 'w')}},
           false);
  fs::create_directories(tmp.path() / "out");
  RecordingObserver observer(tmp.path() / "out");
  ASSERT_TRUE(ExtractTarArchive(tmp.path() / "m.tar", tmp.path() / "out", {}, CancellationToken(),
                                UploadBudget(), &observer)
                  .ok());
  // The big file has its declared size from its first report on, and grows in order to it.
  EXPECT_EQ(observer.size_at_first_report["m/w.bin"], size);
  int64_t last = 0;
  int reports = 0;
  for (const auto& r : observer.reports) {
    if (r.file != "m/w.bin") continue;
    EXPECT_GE(r.written, last);
    last = r.written;
    ++reports;
  }
  EXPECT_GT(reports, 2) << "one report per piece written";
  ASSERT_FALSE(observer.reports.empty());
  EXPECT_EQ(observer.reports.back().file, "m/w.bin");
  EXPECT_TRUE(observer.reports.back().complete);
  EXPECT_EQ(observer.reports.back().written, size);
  // An empty file is reported complete too.
  EXPECT_EQ(observer.reports.front().file, "m/empty");
  EXPECT_TRUE(observer.reports.front().complete);
  EXPECT_EQ(ReadFile(tmp.path() / "out" / "m" / "w.bin").size(), static_cast<size_t>(size));
}

TEST(ArrivingArtifactTest, ABadHeaderStopsADownloadAfterItsHeadNotItsBulk) {
  ScopedTempDir tmp;
  for (const std::string folder : {"", "model/"}) {  // the top level, and one folder
    SCOPED_TRACE("root \"" + folder + "\"");
    const fs::path archive = tmp.path() / "bad.tar";
    WriteTar(archive, Checkpoint(folder, kBulk, /*bad_header=*/true), false);
    FileFetcher fetcher(archive);
    testing::HfCheckpointValidator validator;
    ArtifactSourceOptions options;
    options.fetcher = &fetcher;
    auto loc = ResolveArtifactUri("https://models.example.com/bad.tar", options);
    ASSERT_TRUE(loc.ok()) << loc.status();
    const fs::path scratch = tmp.path() / ("scratch" + std::to_string(folder.size()));
    fs::create_directories(scratch);
    auto files =
        CollectArtifactFiles(*loc, options, scratch, CancellationToken(), UploadBudget(), &validator);
    EXPECT_TRUE(absl::IsInvalidArgument(files.status())) << files.status();
    EXPECT_NE(files.status().message().find("refused while it arrived"), std::string::npos)
        << files.status();
    EXPECT_NE(files.status().message().find("unknown dtype"), std::string::npos) << files.status();
    EXPECT_NE(files.status().message().find("https://models.example.com/bad.tar"),
              std::string::npos)
        << files.status();
    EXPECT_EQ(validator.early_verdicts(), 1);
    // What was downloaded: the head, the socket's buffers and libarchive's read-ahead; not the
    // 48 MiB of weights.
    EXPECT_LT(fetcher.bytes_taken, kBulk / 4) << "the download went on after the refusal";
    fs::remove(archive);
  }
}

TEST(ArrivingArtifactTest, ABadHeaderStopsTheExtractionOfALocalArchive) {
  ScopedTempDir tmp;
  const fs::path archive = tmp.path() / "bad.tar.gz";
  WriteTar(archive, Checkpoint("m/", kBulk, /*bad_header=*/true), true);
  testing::HfCheckpointValidator validator;
  auto loc = ResolveArtifactUri(archive.string(), {});
  ASSERT_TRUE(loc.ok()) << loc.status();
  auto files = CollectArtifactFiles(*loc, {}, tmp.path(), CancellationToken(), UploadBudget(),
                                    &validator);
  EXPECT_TRUE(absl::IsInvalidArgument(files.status())) << files.status();
  EXPECT_NE(files.status().message().find("refused while it arrived"), std::string::npos)
      << files.status();
  // The weights file was presized but barely written.
  const fs::path weights = tmp.path() / "extracted" / "m" / "model.safetensors";
  EXPECT_EQ(fs::file_size(weights), Checkpoint("m/", kBulk, true)[2].data.size())
      << "presized to its declared size";
  EXPECT_LT(AllocatedBytes(weights), kBulk / 4);
}

TEST(ArrivingArtifactTest, AGoodCheckpointIsJudgedEarlyAndExtractedWhole) {
  ScopedTempDir tmp;
  testing::WriteTinyCheckpoint(tmp.path() / "ckpt", 70, 1 << 20);
  std::vector<TarEntry> entries = {{"fashion-vit/", AE_IFDIR}};
  for (const char* f : {"config.json", "preprocessor_config.json", "model.safetensors"}) {
    entries.push_back(
        {std::string("fashion-vit/") + f, AE_IFREG, ReadFile(tmp.path() / "ckpt" / f)});
  }
  WriteTar(tmp.path() / "m.tar.gz", entries, true);
  FileFetcher fetcher(tmp.path() / "m.tar.gz");
  testing::HfCheckpointValidator validator;
  ArtifactSourceOptions options;
  options.fetcher = &fetcher;
  auto loc = ResolveArtifactUri("http://models.example.com/m.tar.gz", options);
  ASSERT_TRUE(loc.ok()) << loc.status();
  fs::create_directories(tmp.path() / "scratch");
  auto files = CollectArtifactFiles(*loc, options, tmp.path() / "scratch", CancellationToken(),
                                    UploadBudget(), &validator);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(validator.early_verdicts(), 1) << "decided once, before the end";
  ASSERT_EQ(files->files.size(), 3u);
  EXPECT_EQ(ReadFile(files->files[1].source), ReadFile(tmp.path() / "ckpt" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(tmp.path() / "scratch" / "download")) << "the archive is never stored";
}

TEST(ArrivingArtifactTest, ADownloadThatFailsMidwayIsTheDownloadsError) {
  ScopedTempDir tmp;
  const fs::path archive = tmp.path() / "good.tar";
  WriteTar(archive, Checkpoint("", kBulk, /*bad_header=*/false), false);
  FileFetcher fetcher(archive, /*fail_after=*/4 << 20);
  ArtifactSourceOptions options;
  options.fetcher = &fetcher;
  auto loc = ResolveArtifactUri("https://models.example.com/good.tar", options);
  ASSERT_TRUE(loc.ok()) << loc.status();
  fs::create_directories(tmp.path() / "scratch");
  auto files = CollectArtifactFiles(*loc, options, tmp.path() / "scratch", CancellationToken());
  EXPECT_TRUE(absl::IsUnavailable(files.status())) << files.status();
  EXPECT_NE(files.status().message().find("connection reset"), std::string::npos)
      << files.status() << " (not the extractor's \"corrupt\" for a stream cut short)";

  // A download over the budget is the budget's error, naming the flag.
  FileFetcher whole(archive);
  options.fetcher = &whole;
  UploadBudget budget;
  budget.cap_bytes = 1 << 20;
  fs::create_directories(tmp.path() / "scratch2");
  files = CollectArtifactFiles(*loc, options, tmp.path() / "scratch2", CancellationToken(), budget);
  EXPECT_TRUE(absl::IsInvalidArgument(files.status())) << files.status();
  EXPECT_NE(std::string(files.status().message()).find(kMaxArtifactFlag), std::string::npos)
      << files.status();
}

}  // namespace
}  // namespace tessera::registry
