// The audit log: one JSON object per line with the documented fields, lines intact under
// concurrent writers, rotation by size with a bounded number of files.
#include "auth/audit_log.h"

#include <fstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/synthetic_checkpoint.h"

namespace tessera::auth {
namespace {

std::vector<nlohmann::json> Lines(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(nlohmann::json::parse(line, nullptr, false));
    EXPECT_FALSE(out.back().is_discarded()) << line;
  }
  return out;
}

AuditEvent Event(int i) {
  return AuditEvent{.time = absl::FromUnixSeconds(1'700'000'000),
                    .key_id = "tsk_0123456789abcdef",
                    .role = "deployer",
                    .protocol = "http",
                    .method = "POST",
                    .resource = "/v1/projects/p/locations/l/endpoints/" + std::to_string(i),
                    .status = 200,
                    .outcome = "OK",
                    .request_id = "r" + std::to_string(i),
                    .remote = "127.0.0.1:5000"};
}

TEST(AuditLogTest, OneJsonObjectPerLineWithTheDocumentedFields) {
  testing::ScopedTempDir tmp;
  const auto path = tmp.path() / "audit" / "audit.jsonl";
  auto log = AuditLog::Create({.path = path});
  ASSERT_TRUE(log.ok()) << log.status();
  AuditEvent odd = Event(1);
  odd.resource = "/v1/\xff\xfe\"quoted\"\n";  // a hostile path stays one valid line
  (*log)->Record(Event(0));
  (*log)->Record(odd);
  const auto lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["time"], "2023-11-14T22:13:20.000Z");
  for (const char* field : {"keyId", "role", "protocol", "method", "resource", "status", "outcome",
                            "requestId", "remote"}) {
    EXPECT_TRUE(lines[0].contains(field)) << field;
  }
  EXPECT_EQ(lines[0]["resource"], "/v1/projects/p/locations/l/endpoints/0");
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(AuditLogTest, ConcurrentWritersNeverInterleaveLines) {
  testing::ScopedTempDir tmp;
  const auto path = tmp.path() / "audit.jsonl";
  auto log = AuditLog::Create({.path = path});
  ASSERT_TRUE(log.ok());
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) (*log)->Record(Event(t * 1000 + i));
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(Lines(path).size(), 2000u);
}

TEST(AuditLogTest, RotatesBySizeAndKeepsAtMostTheConfiguredFiles) {
  testing::ScopedTempDir tmp;
  const auto path = tmp.path() / "audit.jsonl";
  auto log = AuditLog::Create({.path = path, .max_file_bytes = 4096, .max_rotated_files = 2});
  ASSERT_TRUE(log.ok());
  const size_t line_bytes = AuditLog::Line(Event(0)).size() + 1;
  const int total = 100;
  for (int i = 0; i < total; ++i) (*log)->Record(Event(i));
  EXPECT_LE(std::filesystem::file_size(path), 4096u);
  EXPECT_TRUE(std::filesystem::exists(path.string() + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path.string() + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".3"));
  // The newest lines are in the live file, the ones before in .1.
  const auto live = Lines(path);
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(live.back()["requestId"], "r" + std::to_string(total - 1));
  const auto previous = Lines(path.string() + ".1");
  ASSERT_FALSE(previous.empty());
  EXPECT_EQ(previous.back()["requestId"],
            "r" + std::to_string(total - 1 - static_cast<int>(live.size())));
  EXPECT_LE(previous.size() * line_bytes, 4096u);
}

}  // namespace
}  // namespace tessera::auth
