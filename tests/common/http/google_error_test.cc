#include "common/http/google_error.h"

#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera::http {
namespace {

TEST(GoogleErrorTest, CodeToHttpStatusTable) {
  const std::vector<std::pair<absl::StatusCode, int>> table = {
      {absl::StatusCode::kOk, 200},
      {absl::StatusCode::kInvalidArgument, 400},
      {absl::StatusCode::kFailedPrecondition, 400},
      {absl::StatusCode::kOutOfRange, 400},
      {absl::StatusCode::kUnauthenticated, 401},
      {absl::StatusCode::kPermissionDenied, 403},
      {absl::StatusCode::kNotFound, 404},
      {absl::StatusCode::kAlreadyExists, 409},
      {absl::StatusCode::kAborted, 409},
      {absl::StatusCode::kResourceExhausted, 429},
      {absl::StatusCode::kCancelled, 499},
      {absl::StatusCode::kUnimplemented, 501},
      {absl::StatusCode::kUnavailable, 503},
      {absl::StatusCode::kDeadlineExceeded, 504},
      {absl::StatusCode::kInternal, 500},
      {absl::StatusCode::kUnknown, 500},
      {absl::StatusCode::kDataLoss, 500},
  };
  for (const auto& [code, http] : table) {
    EXPECT_EQ(HttpStatusFromCode(code), http) << CodeName(code);
  }
}

TEST(GoogleErrorTest, HttpStatusToCodeTable) {
  const std::vector<std::pair<int, absl::StatusCode>> table = {
      {200, absl::StatusCode::kOk},
      {204, absl::StatusCode::kOk},
      {400, absl::StatusCode::kInvalidArgument},
      {401, absl::StatusCode::kUnauthenticated},
      {403, absl::StatusCode::kPermissionDenied},
      {404, absl::StatusCode::kNotFound},
      {405, absl::StatusCode::kUnimplemented},
      {409, absl::StatusCode::kAborted},
      {413, absl::StatusCode::kInvalidArgument},
      {418, absl::StatusCode::kFailedPrecondition},
      {429, absl::StatusCode::kResourceExhausted},
      {499, absl::StatusCode::kCancelled},
      {500, absl::StatusCode::kInternal},
      {501, absl::StatusCode::kUnimplemented},
      {502, absl::StatusCode::kUnavailable},
      {503, absl::StatusCode::kUnavailable},
      {504, absl::StatusCode::kDeadlineExceeded},
      {599, absl::StatusCode::kInternal},
      {302, absl::StatusCode::kUnknown},
  };
  for (const auto& [http, code] : table) EXPECT_EQ(CodeFromHttpStatus(http), code) << http;
}

TEST(GoogleErrorTest, CodeNamesRoundTrip) {
  for (int i = 0; i <= 16; ++i) {
    const auto code = static_cast<absl::StatusCode>(i);
    absl::StatusCode back;
    ASSERT_TRUE(CodeFromName(CodeName(code), &back)) << i;
    EXPECT_EQ(back, code);
  }
  EXPECT_EQ(CodeName(absl::StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  absl::StatusCode ignored;
  EXPECT_FALSE(CodeFromName("invalid_argument", &ignored));
}

TEST(GoogleErrorTest, ResponseHasGoogleShape) {
  const HttpResponse r = GoogleErrorResponse(absl::NotFoundError("model 7 not found"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body),
            nlohmann::json::parse(
                R"({"error":{"code":404,"message":"model 7 not found","status":"NOT_FOUND"}})"));
  const HttpResponse big = GoogleErrorResponse(413, absl::InvalidArgumentError("too big"));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(nlohmann::json::parse(big.body)["error"]["code"], 413);
  // An OK status is a caller bug: never a 200-coded error.
  const HttpResponse ok = GoogleErrorResponse(absl::OkStatus());
  EXPECT_EQ(ok.status, 500);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["error"]["status"], "INTERNAL");
}

TEST(GoogleErrorTest, StatusFromGoogleErrorBodyRoundTrips) {
  for (const absl::Status& s :
       {absl::InvalidArgumentError("bad \"b64\"\nline two"), absl::NotFoundError("nope"),
        absl::FailedPreconditionError("deployed"), absl::UnavailableError("replica gone"),
        absl::AlreadyExistsError("dup"), absl::DataLossError("x")}) {
    const HttpResponse r = GoogleErrorResponse(s);
    EXPECT_EQ(StatusFromHttpResponse(r), s);
  }
}

TEST(GoogleErrorTest, StatusFromNonGoogleBodies) {
  EXPECT_TRUE(StatusFromHttpResponse(200, "whatever").ok());
  const absl::Status plain = StatusFromHttpResponse(502, "<html>bad gateway</html>");
  EXPECT_EQ(plain.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(plain.message(), "HTTP 502: <html>bad gateway</html>");
  EXPECT_EQ(StatusFromHttpResponse(404, "").message(), "HTTP 404");
  const std::string long_body(1000, 'x');
  EXPECT_LT(StatusFromHttpResponse(500, long_body).message().size(), 260u);
  // JSON of another shape, or a Google shape with junk inside, falls back to the HTTP status.
  EXPECT_EQ(StatusFromHttpResponse(403, R"({"message":"no"})").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromHttpResponse(400, R"({"error":"plain string"})").code(),
            absl::StatusCode::kInvalidArgument);
  const absl::Status unknown_name =
      StatusFromHttpResponse(409, R"({"error":{"code":409,"message":"m","status":"WHAT"}})");
  EXPECT_EQ(unknown_name.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(unknown_name.message(), "m");
  // A 2xx is OK even with an error-looking body; an error body never yields OK.
  EXPECT_EQ(StatusFromHttpResponse(500, R"({"error":{"message":"m","status":"OK"}})").code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace tessera::http
