#include "common/metrics/prometheus_text.h"

#include <cmath>
#include <cstdint>

#include "fmt/format.h"

namespace tessera::metrics {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence at the start of `s`, 0 if it is not one (overlong forms,
// surrogates and code points past U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto continuation = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return continuation(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (b0 == 0xED && byte(1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && byte(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

void AppendEscaped(std::string& out, std::string_view value, bool quote) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

using Labels = std::vector<std::pair<std::string, std::string>>;

void AppendLabels(std::string& out, const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    AppendEscaped(out, ValidUtf8(value), /*quote=*/true);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void AppendLine(std::string& out, std::string_view name, const Labels& labels, double value,
                std::string_view le = {}) {
  out += name;
  AppendLabels(out, labels, le);
  out += ' ';
  out += FormatSampleValue(value);
  out += '\n';
}

}  // namespace

std::string ValidUtf8(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  while (!value.empty()) {
    const size_t n = Utf8SequenceLength(value);
    if (n == 0) {
      out += kReplacementCharacter;
      value.remove_prefix(1);
    } else {
      out.append(value.substr(0, n));
      value.remove_prefix(n);
    }
  }
  return out;
}

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string RenderPrometheusText(const std::vector<FamilySnapshot>& families) {
  std::string out;
  for (const FamilySnapshot& family : families) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    AppendEscaped(out, ValidUtf8(family.help), /*quote=*/false);
    out += "\n# TYPE ";
    out += family.name;
    out += ' ';
    out += MetricTypeName(family.type);
    out += '\n';
    for (const Sample& sample : family.samples) {
      if (family.type != MetricType::kHistogram) {
        AppendLine(out, family.name, sample.labels, sample.value);
        continue;
      }
      const std::string bucket = family.name + "_bucket";
      for (size_t i = 0; i < sample.buckets.size(); ++i) {
        const std::string le =
            i < family.bounds.size() ? FormatSampleValue(family.bounds[i]) : "+Inf";
        AppendLine(out, bucket, sample.labels, static_cast<double>(sample.buckets[i]), le);
      }
      AppendLine(out, family.name + "_sum", sample.labels, sample.sum);
      const double count = sample.buckets.empty() ? 0 : static_cast<double>(sample.buckets.back());
      AppendLine(out, family.name + "_count", sample.labels, count);
    }
  }
  return out;
}

}  // namespace tessera::metrics
