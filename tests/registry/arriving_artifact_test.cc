// Archives judged while they arrive: the extractor's progress reports and presized files
// (ExtractObserver), the ArrivingArtifactCheck over them, and an http(s)-shaped download streamed
// into the extractor (FetchAndExtractArchive): a bad checkpoint is refused after its head, not
// after its bulk, and a download that fails is reported as the download's failure.
#include <archive_entry.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "common/status_macros.h"
#include "gtest/gtest.h"
#include "registry/archive_extractor.h"
#include "registry/arriving_artifact_check.h"
#include "registry/artifact_source.h"
#include "testing/file_fetcher.h"
#include "testing/hf_checkpoint_validator.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/tar_writer.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;
using testing::FileFetcher;
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

// The offset where the tar entry `index` (0-based) ends: 512-byte header plus data padded to
// 512 (ustar, as WriteTar writes short names).
int64_t EndOfEntry(const std::vector<TarEntry>& entries, size_t index) {
  int64_t offset = 0;
  for (size_t i = 0; i <= index; ++i) offset += 512 + (entries[i].data.size() + 511) / 512 * 512;
  return offset;
}

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

// Collects `url` from `fetcher` into a fresh scratch folder under `tmp`.
absl::StatusOr<CollectedArtifact> Collect(ArtifactFetcher& fetcher, const std::string& url,
                                          const fs::path& tmp, const CancellationToken& cancel,
                                          ArtifactValidator* validator = nullptr,
                                          UploadBudget budget = UploadBudget()) {
  static int n = 0;
  ArtifactSourceOptions options;
  options.fetcher = &fetcher;
  ASSIGN_OR_RETURN(ArtifactLocation loc, ResolveArtifactUri(url, options));
  const fs::path scratch = tmp / ("scratch" + std::to_string(++n));
  fs::create_directories(scratch);
  return CollectArtifactFiles(loc, options, scratch, cancel, budget, validator);
}

TEST(ArrivingArtifactTest, ADownloadThatFailsMidwayIsTheDownloadsError) {
  ScopedTempDir tmp;
  const fs::path archive = tmp.path() / "good.tar";
  const std::vector<TarEntry> entries = Checkpoint("", kBulk, /*bad_header=*/false);
  WriteTar(archive, entries, false);
  const std::string url = "https://models.example.com/good.tar";
  // Cut mid-entry, and cut exactly where an entry ends (a plain tar cut there reads as a whole
  // archive to libarchive: only the download knows it was cut).
  for (const int64_t cut : {int64_t{4} << 20, EndOfEntry(entries, 0), EndOfEntry(entries, 1)}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    FileFetcher fetcher(archive, {.fail_after = cut});
    auto files = Collect(fetcher, url, tmp.path(), CancellationToken());
    EXPECT_TRUE(absl::IsUnavailable(files.status())) << files.status();
    EXPECT_NE(files.status().message().find("connection reset"), std::string::npos)
        << files.status() << " (not the extractor's view of a stream cut short)";
  }

  // A download over the cap is the cap's error, naming the flag; a low disk is the extraction's.
  FileFetcher whole(archive);
  UploadBudget capped;
  capped.cap_bytes = 1 << 20;
  auto files = Collect(whole, url, tmp.path(), CancellationToken(), nullptr, capped);
  EXPECT_TRUE(absl::IsInvalidArgument(files.status())) << files.status();
  EXPECT_NE(std::string(files.status().message()).find(kMaxArtifactFlag), std::string::npos)
      << files.status();
  UploadBudget low_disk;
  low_disk.room_bytes = 1 << 20;
  files = Collect(whole, url, tmp.path(), CancellationToken(), nullptr, low_disk);
  EXPECT_TRUE(absl::IsResourceExhausted(files.status())) << files.status();
  EXPECT_NE(std::string(files.status().message()).find(kMinFreeDiskFlag), std::string::npos)
      << files.status();
}

TEST(ArrivingArtifactTest, AStalledDownloadEndsAtOnceOnRefusalOrCancel) {
  ScopedTempDir tmp;
  const std::string url = "https://models.example.com/m.tar";
  // A bad header, then silence: the refusal does not wait for the server.
  const fs::path bad = tmp.path() / "bad.tar";
  const std::vector<TarEntry> bad_entries = Checkpoint("", kBulk, /*bad_header=*/true);
  WriteTar(bad, bad_entries, false);
  {
    FileFetcher fetcher(bad, {.stall_after = EndOfEntry(bad_entries, 1) + (256 << 10)});
    testing::HfCheckpointValidator validator;
    const absl::Time start = absl::Now();
    auto files = Collect(fetcher, url, tmp.path(), CancellationToken(), &validator);
    EXPECT_TRUE(absl::IsInvalidArgument(files.status())) << files.status();
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  }
  // A good archive that stalls half-way: cancelling the upload ends it at once.
  const fs::path good = tmp.path() / "good.tar";
  WriteTar(good, Checkpoint("", kBulk, /*bad_header=*/false), false);
  FileFetcher fetcher(good, {.stall_after = 8 << 20});
  CancellationToken cancel;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    cancel.Cancel();
  });
  const absl::Time start = absl::Now();
  auto files = Collect(fetcher, url, tmp.path(), cancel);
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(files.status())) << files.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace tessera::registry
