#include "registry/list_query.h"

#include <cctype>
#include <charconv>

#include "absl/status/status.h"
#include "common/base64.h"
#include "fmt/format.h"

namespace tessera::registry {
namespace {

constexpr std::string_view kSupported =
    "supported filters: display_name=\"NAME\", labels.KEY=\"VALUE\", labels.KEY:*, done=true|false "
    "(where the list has them), joined with AND";

enum class TokenKind { kIdent, kString, kOp, kStar, kEnd, kOther };

struct Token {
  TokenKind kind;
  std::string text;
  size_t pos;
};

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         static_cast<unsigned char>(c) >= 0x80;
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  absl::StatusOr<Token> Next() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    size_t start = i_;
    if (i_ == s_.size()) return Token{TokenKind::kEnd, "", start};
    char c = s_[i_];
    if (c == '=' || c == ':') {
      ++i_;
      return Token{TokenKind::kOp, std::string(1, c), start};
    }
    if (c == '*') {
      ++i_;
      return Token{TokenKind::kStar, "*", start};
    }
    if (c == '"') {
      std::string out;
      ++i_;
      while (i_ < s_.size() && s_[i_] != '"') {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        out.push_back(s_[i_++]);
      }
      if (i_ == s_.size()) {
        return absl::InvalidArgumentError(
            fmt::format("unsupported filter: unterminated string starting at position {}; {}",
                        start, kSupported));
      }
      ++i_;
      return Token{TokenKind::kString, out, start};
    }
    if (IsIdentChar(c)) {
      while (i_ < s_.size() && IsIdentChar(s_[i_])) ++i_;
      return Token{TokenKind::kIdent, std::string(s_.substr(start, i_ - start)), start};
    }
    // Operators we do not support (!=, <, >, parentheses, ...): report them as such.
    size_t end = i_ + 1;
    while (end < s_.size() && !std::isspace(static_cast<unsigned char>(s_[end])) &&
           !IsIdentChar(s_[end]) && s_[end] != '"') {
      ++end;
    }
    i_ = end;
    return Token{TokenKind::kOther, std::string(s_.substr(start, end - start)), start};
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

absl::Status Unsupported(std::string_view filter, const Token& t, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("unsupported filter \"{}\": {} at position {}; {}",
                                                filter, what, t.pos, kSupported));
}

}  // namespace

absl::StatusOr<ListFilter> ParseListFilter(std::string_view filter, const FilterFields& fields) {
  ListFilter out;
  Lexer lex(filter);
  auto next = [&]() { return lex.Next(); };
  auto tok = next();
  if (!tok.ok()) return tok.status();
  if (tok->kind == TokenKind::kEnd) return out;
  while (true) {
    // field
    if (tok->kind != TokenKind::kIdent) {
      return Unsupported(filter, *tok, fmt::format("expected a field name, got \"{}\"", tok->text));
    }
    Token field = *tok;
    auto op = next();
    if (!op.ok()) return op.status();
    if (op->kind != TokenKind::kOp) {
      return Unsupported(
          filter, *op,
          fmt::format("expected = or : after \"{}\", got \"{}\"", field.text, op->text));
    }
    auto value = next();
    if (!value.ok()) return value.status();
    if (value->kind != TokenKind::kString && value->kind != TokenKind::kIdent &&
        value->kind != TokenKind::kStar) {
      return Unsupported(filter, *value,
                         fmt::format("expected a value after \"{}{}\"", field.text, op->text));
    }
    const std::string& f = field.text;
    if (f == "display_name" || f == "displayName") {
      if (!fields.display_name)
        return Unsupported(filter, field, "display_name is not filterable here");
      if (value->kind == TokenKind::kStar)
        return Unsupported(filter, *value, "display_name needs a value");
      out.display_name = value->text;
    } else if (f == "labels" && op->text == ":" && value->kind != TokenKind::kStar) {
      if (!fields.labels) return Unsupported(filter, field, "labels are not filterable here");
      out.labels.push_back({value->text, std::nullopt});
    } else if (f.rfind("labels.", 0) == 0 && f.size() > 7) {
      if (!fields.labels) return Unsupported(filter, field, "labels are not filterable here");
      std::string key = f.substr(7);
      if (value->kind == TokenKind::kStar) {
        if (op->text != ":")
          return Unsupported(filter, *value, "use labels.KEY:* to test presence");
        out.labels.push_back({key, std::nullopt});
      } else {
        out.labels.push_back({key, value->text});
      }
    } else if (f == "done") {
      if (!fields.done) return Unsupported(filter, field, "done is not filterable here");
      if (value->text == "true") {
        out.done = true;
      } else if (value->text == "false") {
        out.done = false;
      } else {
        return Unsupported(filter, *value, "done must be true or false");
      }
    } else {
      return Unsupported(filter, field, fmt::format("unknown field \"{}\"", f));
    }
    tok = next();
    if (!tok.ok()) return tok.status();
    if (tok->kind == TokenKind::kEnd) return out;
    if (tok->kind != TokenKind::kIdent || tok->text != "AND") {
      return Unsupported(filter, *tok, fmt::format("expected AND, got \"{}\"", tok->text));
    }
    tok = next();
    if (!tok.ok()) return tok.status();
    if (tok->kind == TokenKind::kEnd) return Unsupported(filter, *tok, "dangling AND");
  }
}

absl::StatusOr<int32_t> EffectivePageSize(int32_t page_size) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        fmt::format("pageSize must not be negative (got {})", page_size));
  }
  if (page_size == 0) return 100;
  return std::min<int32_t>(page_size, 1000);
}

std::string EncodePageToken(std::string_view list_kind, int64_t last_key) {
  return Base64Encode(fmt::format("{}:{}", list_kind, last_key));
}

absl::StatusOr<int64_t> DecodePageToken(std::string_view token, std::string_view list_kind) {
  if (token.empty()) return 0;
  auto bad = absl::InvalidArgumentError(fmt::format(
      "invalid pageToken \"{}\": pass the nextPageToken of the previous page of the same list",
      token));
  auto decoded = Base64Decode(token);
  if (!decoded.ok()) return bad;
  std::string_view s = *decoded;
  if (s.size() <= list_kind.size() + 1 || s.substr(0, list_kind.size()) != list_kind ||
      s[list_kind.size()] != ':') {
    return bad;
  }
  s.remove_prefix(list_kind.size() + 1);
  int64_t key = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), key);
  if (ec != std::errc() || ptr != s.data() + s.size() || key <= 0) return bad;
  return key;
}

}  // namespace tessera::registry
