#include "common/http/http_types.h"

#include <algorithm>

#include "nlohmann/json.hpp"

namespace tessera::http {

namespace {
char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

const std::string* HttpHeaders::Find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (EqualsIgnoreCase(e.first, name)) return &e.second;
  }
  return nullptr;
}

std::string HttpHeaders::GetOr(std::string_view name, std::string_view fallback) const {
  const std::string* v = Find(name);
  return v != nullptr ? *v : std::string(fallback);
}

std::vector<std::string> HttpHeaders::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) {
    if (EqualsIgnoreCase(e.first, name)) out.push_back(e.second);
  }
  return out;
}

void HttpHeaders::Set(std::string_view name, std::string value) {
  Remove(name);
  entries_.emplace_back(std::string(name), std::move(value));
}

void HttpHeaders::Add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

int HttpHeaders::Remove(std::string_view name) {
  const auto it = std::remove_if(entries_.begin(), entries_.end(),
                                 [&](const Entry& e) { return EqualsIgnoreCase(e.first, name); });
  const int removed = static_cast<int>(entries_.end() - it);
  entries_.erase(it, entries_.end());
  return removed;
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  const auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

const std::string& HttpRequest::PathParam(const std::string& name) const {
  static const std::string* const kEmpty = new std::string();
  const auto it = path_params.find(name);
  return it == path_params.end() ? *kEmpty : it->second;
}

HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  // Replace invalid UTF-8 rather than throw: a response must always be producible.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.content_type = std::string(kJsonContentType);
  return response;
}

HttpResponse TextResponse(int status, std::string body, std::string content_type) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.content_type = std::move(content_type);
  return response;
}

}  // namespace tessera::http
