#include "common/logging.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "fmt/chrono.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace tessera {
namespace {

thread_local const ScopedLogFields* innermost_fields = nullptr;

absl::StatusOr<spdlog::level::level_enum> ParseLevel(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(fmt::format(
        "unknown log level '{}': trace, debug, info, warn, error, critical or off", level));
  }
  return parsed;
}

std::string JsonString(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendTo(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

}  // namespace

// Reads the fields of this thread's scopes, outermost first; a key an inner scope sets again is
// given once, with the inner value (a JSON object must not repeat a member).
class LogFieldsAccess {
 public:
  template <typename F>
  static void ForEach(F&& f) {
    std::vector<const LogField*> all;
    for (const ScopedLogFields* scope = innermost_fields; scope != nullptr; scope = scope->outer_) {
      for (auto it = scope->fields_.rbegin(); it != scope->fields_.rend(); ++it)
        all.push_back(&*it);
    }
    // `all` runs innermost last field first: keep each key's first appearance, then reverse.
    std::vector<const LogField*> kept;
    for (const LogField* field : all) {
      const bool seen = std::any_of(kept.begin(), kept.end(),
                                    [field](const LogField* k) { return k->key == field->key; });
      if (!seen) kept.push_back(field);
    }
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) f(**it);
  }
};

namespace {

class TextFormatter final : public spdlog::formatter {
 public:
  TextFormatter()
      : pattern_("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v", spdlog::pattern_time_type::local, "") {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    pattern_.format(msg, dest);
    LogFieldsAccess::ForEach([&dest](const LogField& field) {
      AppendTo(dest, " ");
      AppendTo(dest, field.key);
      AppendTo(dest, "=");
      // Quoted when it would not read back as one token.
      if (field.value.empty() || field.value.find_first_of(" \"=\n") != std::string::npos) {
        AppendTo(dest, JsonString(field.value));
      } else {
        AppendTo(dest, field.value);
      }
    });
    AppendTo(dest, "\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }

 private:
  spdlog::pattern_formatter pattern_;
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = static_cast<std::time_t>(seconds.count());
    fmt::format_to(std::back_inserter(dest), "{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\"",
                   fmt::gmtime(t), static_cast<int>(millis));
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    AppendTo(dest, ",\"level\":");
    AppendTo(dest, JsonString(std::string_view(level.data(), level.size())));
    AppendTo(dest, ",\"process\":");
    AppendTo(dest, JsonString(std::string_view(msg.logger_name.data(), msg.logger_name.size())));
    fmt::format_to(std::back_inserter(dest), ",\"thread\":{}", msg.thread_id);
    AppendTo(dest, ",\"msg\":");
    AppendTo(dest, JsonString(std::string_view(msg.payload.data(), msg.payload.size())));
    LogFieldsAccess::ForEach([&dest](const LogField& field) {
      AppendTo(dest, ",");
      AppendTo(dest, JsonString(field.key));
      AppendTo(dest, ":");
      AppendTo(dest, JsonString(field.value));
    });
    AppendTo(dest, "}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(fmt::format("unknown log format '{}': text or json", name));
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<TextFormatter>();
}

absl::Status InitLogging(std::string_view process_name, std::string_view level, LogFormat format) {
  const absl::StatusOr<spdlog::level::level_enum> parsed = ParseLevel(level);
  if (!parsed.ok()) return parsed.status();
  auto logger = spdlog::stderr_logger_mt(std::string(process_name));
  logger->set_formatter(MakeLogFormatter(format));
  logger->set_level(*parsed);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

absl::Status SetLogLevel(std::string_view level) {
  const absl::StatusOr<spdlog::level::level_enum> parsed = ParseLevel(level);
  if (!parsed.ok()) return parsed.status();
  spdlog::default_logger()->set_level(*parsed);
  return absl::OkStatus();
}

std::string CurrentLogLevel() {
  const spdlog::string_view_t name =
      spdlog::level::to_string_view(spdlog::default_logger()->level());
  return std::string(name.data(), name.size());
}

ScopedLogFields::ScopedLogFields(std::vector<LogField> fields)
    : fields_(std::move(fields)), outer_(innermost_fields) {
  innermost_fields = this;
}

ScopedLogFields::~ScopedLogFields() { innermost_fields = outer_; }

}  // namespace tessera
