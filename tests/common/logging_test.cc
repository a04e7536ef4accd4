#include "common/logging.h"

#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace tessera {
namespace {

std::string LogOne(LogFormat format, const std::string& message) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("serve", sink);
  logger.set_formatter(MakeLogFormatter(format));
  logger.info("{}", message);
  return out.str();
}

TEST(LoggingTest, JsonLinesEscapeTheMessageAndCarryTheScopesFields) {
  const ScopedLogFields outer(std::vector<LogField>{{"requestId", "r-1"}});
  std::string line;
  {
    const ScopedLogFields inner({{"status", "200"}, {"path", "/v1/x?a=\"b\""}});
    line = LogOne(LogFormat::kJson, "a \"quoted\"\nmessage \xff");
  }
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1);  // one line, whatever the message holds
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["process"], "serve");
  EXPECT_EQ(j["msg"], "a \"quoted\"\nmessage \xEF\xBF\xBD");
  EXPECT_EQ(j["requestId"], "r-1");
  EXPECT_EQ(j["status"], "200");
  EXPECT_EQ(j["path"], "/v1/x?a=\"b\"");
  EXPECT_EQ(j["time"].get<std::string>().size(), std::string("2026-12-08T01:57:00.123Z").size());
  {
    const ScopedLogFields again(std::vector<LogField>{{"requestId", "r-inner"}});
    const std::string twice = LogOne(LogFormat::kJson, "x");
    EXPECT_EQ(twice.find("requestId"), twice.rfind("requestId")) << twice;  // once, the inner
    EXPECT_EQ(nlohmann::json::parse(twice)["requestId"], "r-inner");
  }
  // Out of the inner scope: only the outer field.
  const nlohmann::json after = nlohmann::json::parse(LogOne(LogFormat::kJson, "x"));
  EXPECT_EQ(after["requestId"], "r-1");
  EXPECT_FALSE(after.contains("status"));
}

TEST(LoggingTest, TextLinesAppendFieldsAsKeyValuePairs) {
  const ScopedLogFields fields({{"requestId", "r-2"}, {"path", "/a b"}, {"empty", ""}});
  const std::string line = LogOne(LogFormat::kText, "hello");
  EXPECT_NE(line.find(" I [serve] hello requestId=r-2 path=\"/a b\" empty=\"\"\n"),
            std::string::npos)
      << line;
}

TEST(LoggingTest, FormatsAndLevelsAreCheckedByName) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
  ASSERT_TRUE(InitLogging("test", "info").ok());
  EXPECT_TRUE(SetLogLevel("debug").ok());
  EXPECT_EQ(CurrentLogLevel(), "debug");
  EXPECT_FALSE(SetLogLevel("loud").ok());
  EXPECT_EQ(CurrentLogLevel(), "debug");
}

}  // namespace
}  // namespace tessera
