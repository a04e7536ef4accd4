// API key routes of AdminApi (admin_api.h): the JSON of a key, and its five methods.
#include "absl/strings/str_join.h"
#include "auth/api_key_secret.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "serving/rest/admin_api.h"
#include "serving/rest/admin_codec.h"
#include "serving/rest/json_fields.h"
#include "serving/rest/request_util.h"

namespace tessera::serving::rest {
namespace {

using nlohmann::json;

std::string_view StateName(auth::KeyService::KeyState state) {
  switch (state) {
    case auth::KeyService::KeyState::kActive:
      return "ACTIVE";
    case auth::KeyService::KeyState::kRevoked:
      return "REVOKED";
    case auth::KeyService::KeyState::kExpired:
      return "EXPIRED";
  }
  return "ACTIVE";
}

json KeyJson(const registry::ApiKeyRecord& key, const auth::KeyService& keys) {
  json j = {{"name", "keys/" + key.key_id},    {"keyId", key.key_id},
            {"displayName", key.display_name}, {"role", key.role},
            {"projects", key.projects},        {"state", StateName(keys.StateOf(key))}};
  if (!key.endpoints.empty()) j["endpoints"] = key.endpoints;
  SetTimestamp(j, "createTime", key.create_time);
  if (key.expire_time != absl::InfiniteFuture()) SetTimestamp(j, "expireTime", key.expire_time);
  if (key.revoke_time != absl::InfiniteFuture()) SetTimestamp(j, "revokeTime", key.revoke_time);
  if (!key.created_by.empty()) j["createdBy"] = key.created_by;
  if (key.rate_limit) j["rateLimit"] = RateLimitJson(*key.rate_limit);
  return j;
}

absl::StatusOr<Role> RoleFrom(const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("role is required: viewer, predictor, deployer or admin");
  }
  std::optional<Role> role = RoleFromName(name);
  if (!role) {
    return absl::InvalidArgumentError(fmt::format(
        "role \"{}\" is not one of viewer, predictor, deployer, admin", name.substr(0, 64)));
  }
  return *role;
}

// expireTime (a timestamp) or ttl (a duration from now), not both.
absl::Status ReadExpiry(JsonObjectReader& reader, absl::Time now, absl::Time& out) {
  std::string ttl;
  RETURN_IF_ERROR(reader.String("ttl", ttl));
  const bool has_expire_time = reader.Has("expireTime");
  RETURN_IF_ERROR(reader.Timestamp("expireTime", out));
  if (!ttl.empty()) {
    if (has_expire_time) return absl::InvalidArgumentError("give expireTime or ttl, not both");
    ASSIGN_OR_RETURN(absl::Duration d, ParseDuration(ttl));
    if (d <= absl::ZeroDuration()) return absl::InvalidArgumentError("ttl must be positive");
    out = now + d;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> KeyIdFromPath(const http::HttpRequest& request) {
  const std::string& id = request.PathParam("key");
  if (!auth::IsKeyId(id)) {
    // Not echoed: it may be a whole key, secret included.
    return absl::InvalidArgumentError(
        "the path does not name a key id (\"tsk_\" + 16 hex digits: the part of a key before its "
        "second underscore; never put a whole key in a URL)");
  }
  return id;
}

}  // namespace

http::HttpResponse AdminApi::CreateKey(const http::HttpRequest& request) {
  if (absl::Status s = RequireKeys(); !s.ok()) return Error(s);
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  JsonObjectReader reader(*body, "");
  auth::KeySpec spec;
  std::string role;
  for (absl::Status s : {reader.String("displayName", spec.display_name),
                         reader.String("role", role), reader.StringList("projects", spec.projects),
                         reader.StringList("endpoints", spec.endpoints)}) {
    if (!s.ok()) return Error(s);
  }
  if (absl::Status s = ReadExpiry(reader, absl::Now(), spec.expire_time); !s.ok()) return Error(s);
  absl::StatusOr<const json*> limit = reader.Object("rateLimit");
  if (!limit.ok()) return Error(limit.status());
  if (*limit != nullptr) {
    absl::StatusOr<registry::RateLimit> parsed = RateLimitFromJson(**limit, "rateLimit");
    if (!parsed.ok()) return Error(parsed.status());
    spec.rate_limit = *parsed;
  }
  if (absl::Status s = reader.Finish(); !s.ok()) return Error(s);
  absl::StatusOr<Role> parsed_role = RoleFrom(role);
  if (!parsed_role.ok()) return Error(parsed_role.status());
  spec.role = *parsed_role;
  absl::StatusOr<auth::CreatedKey> created = options_.keys->CreateKey(spec, *request.principal);
  if (!created.ok()) return Error(created.status());
  json j = KeyJson(created->record, *options_.keys);
  j["keyString"] = created->key;  // the only time the secret leaves the server
  return Ok(j);
}

http::HttpResponse AdminApi::ListKeys(const http::HttpRequest& request) {
  if (absl::Status s = RequireKeys(); !s.ok()) return Error(s);
  for (const char* unsupported : {"pageSize", "page_size", "pageToken", "page_token", "filter"}) {
    if (request.QueryParam(unsupported)) {
      return Error(absl::InvalidArgumentError(fmt::format(
          "keys.list has no {}: it returns every key within reach in one response", unsupported)));
    }
  }
  const std::string show = request.QueryParam("showRevoked").value_or("false");
  if (show != "true" && show != "false") {
    return Error(absl::InvalidArgumentError(
        fmt::format("showRevoked must be true or false, got \"{}\"", show.substr(0, 32))));
  }
  const bool show_revoked = show == "true";
  json keys = json::array();
  for (const registry::ApiKeyRecord& key : options_.keys->ListKeys(*request.principal)) {
    if (!show_revoked && key.revoke_time != absl::InfiniteFuture()) continue;
    keys.push_back(KeyJson(key, *options_.keys));
  }
  return Ok(json{{"keys", std::move(keys)}});
}

absl::StatusOr<registry::ApiKeyRecord> AdminApi::KeyInReach(
    const http::HttpRequest& request) const {
  RETURN_IF_ERROR(RequireKeys());
  ASSIGN_OR_RETURN(std::string id, KeyIdFromPath(request));
  // Reach first: a key outside the caller's projects gets its 403 whatever the request says.
  return options_.keys->GetKey(id, *request.principal);
}

http::HttpResponse AdminApi::GetKey(const http::HttpRequest& request) {
  absl::StatusOr<registry::ApiKeyRecord> key = KeyInReach(request);
  if (!key.ok()) return Error(key.status());
  return Ok(KeyJson(*key, *options_.keys));
}

http::HttpResponse AdminApi::UpdateKey(const http::HttpRequest& request) {
  absl::StatusOr<registry::ApiKeyRecord> current = KeyInReach(request);
  if (!current.ok()) return Error(current.status());
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  const std::vector<std::string> mask = UpdateMaskFromRequest(request);
  if (mask.empty()) {
    return Error(absl::InvalidArgumentError(
        "updateMask is required (displayName, expireTime, rateLimit; e.g. ?updateMask=rateLimit)"));
  }
  JsonObjectReader reader(*body, "key");
  // Output-only fields a client may send back from a GET, and fields the mask leaves out.
  for (const char* field :
       {"name", "keyId", "role", "projects", "endpoints", "state", "createTime", "revokeTime",
        "createdBy", "displayName", "expireTime", "ttl", "rateLimit"}) {
    reader.Ignore(field);
  }
  auth::KeyUpdate update;
  for (const std::string& path : mask) {
    if (path == "displayName" || path == "display_name") {
      std::string name;
      if (absl::Status s = reader.String("displayName", name); !s.ok()) return Error(s);
      update.display_name = name;
    } else if (path == "expireTime" || path == "expire_time") {
      absl::Time expire = absl::InfiniteFuture();  // absent: never expires
      if (absl::Status s = ReadExpiry(reader, absl::Now(), expire); !s.ok()) return Error(s);
      update.expire_time = expire;
    } else if (path == "rateLimit" || path == "rate_limit") {
      absl::StatusOr<const json*> limit = reader.Object("rateLimit");
      if (!limit.ok()) return Error(limit.status());
      update.rate_limit = std::optional<registry::RateLimit>();  // absent: removed
      if (*limit != nullptr) {
        absl::StatusOr<registry::RateLimit> parsed = RateLimitFromJson(**limit, "key.rateLimit");
        if (!parsed.ok()) return Error(parsed.status());
        update.rate_limit = *parsed;
      }
    } else {
      return Error(absl::InvalidArgumentError(fmt::format(
          "updateMask path \"{}\" cannot be changed; one of displayName, expireTime, rateLimit "
          "(a key's role and scope are fixed: create a new key)",
          path.substr(0, 64))));
    }
  }
  if (absl::Status s = reader.Finish(); !s.ok()) return Error(s);
  absl::StatusOr<registry::ApiKeyRecord> key =
      options_.keys->UpdateKey(current->key_id, update, *request.principal);
  if (!key.ok()) return Error(key.status());
  return Ok(KeyJson(*key, *options_.keys));
}

http::HttpResponse AdminApi::RevokeKey(const http::HttpRequest& request) {
  absl::StatusOr<registry::ApiKeyRecord> current = KeyInReach(request);
  if (!current.ok()) return Error(current.status());
  absl::StatusOr<json> body = ParseJsonObjectBody(request.body);
  if (!body.ok()) return Error(body.status());
  JsonObjectReader reader(*body, "");
  reader.Ignore("name");
  if (absl::Status s = reader.Finish(); !s.ok()) return Error(s);
  absl::StatusOr<registry::ApiKeyRecord> key =
      options_.keys->RevokeKey(current->key_id, *request.principal);
  if (!key.ok()) return Error(key.status());
  return Ok(KeyJson(*key, *options_.keys));
}

}  // namespace tessera::serving::rest
