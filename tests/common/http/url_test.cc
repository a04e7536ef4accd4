#include "common/http/url.h"

#include "common/http/http_types.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace tessera::http {
namespace {

TEST(UrlTest, PercentDecoding) {
  EXPECT_EQ(*PercentDecodePath("a%20b%2Fc+d"), "a b/c+d");
  EXPECT_EQ(*PercentDecodeQuery("a%20b+c"), "a b c");
  EXPECT_EQ(*PercentDecodePath("%e2%82%AC"), "\xe2\x82\xac");
  for (const char* bad : {"%", "%4", "%zz", "a%g0", "%%"}) {
    EXPECT_EQ(PercentDecodePath(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UrlTest, PercentEncodeRoundTrips) {
  const std::string raw = "m@2/x y:z?&=%\xff";
  EXPECT_EQ(PercentEncode("abc-._~XYZ09"), "abc-._~XYZ09");
  EXPECT_EQ(PercentEncode("123@2"), "123%402");
  EXPECT_EQ(*PercentDecodePath(PercentEncode(raw)), raw);
}

TEST(UrlTest, ParseQuery) {
  auto q = ParseQuery("a=1&b=x%20y&flag&&a=2&c=");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->count("a"), 2u);
  EXPECT_EQ(q->find("b")->second, "x y");
  EXPECT_EQ(q->find("flag")->second, "");
  EXPECT_EQ(q->find("c")->second, "");
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
}

TEST(UrlTest, ParseTarget) {
  auto t = ParseTarget("/v1/models/a%20b:predict?pageSize=10&filter=x%3D1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/models/a b:predict");
  EXPECT_EQ(t->query.find("pageSize")->second, "10");
  EXPECT_EQ(t->query.find("filter")->second, "x=1");
  EXPECT_FALSE(ParseTarget("v1/x").ok());
  EXPECT_FALSE(ParseTarget("*").ok());
  EXPECT_FALSE(ParseTarget("/a%2").ok());
}

TEST(UrlTest, ParseUrl) {
  auto u = ParseUrl("http://127.0.0.1:8080/v1/x?y=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, Url::Scheme::kHttp);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/v1/x?y=1");
  EXPECT_EQ(u->HostHeader(), "127.0.0.1:8080");

  auto v6 = ParseUrl("https://[::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->scheme, Url::Scheme::kHttps);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->target, "/");
  EXPECT_EQ(v6->ToString(), "https://[::1]:8443/");

  auto defaults = ParseUrl("https://example.com?q");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->port, 443);
  EXPECT_EQ(defaults->target, "/?q");
  EXPECT_EQ(defaults->HostHeader(), "example.com");

  auto unix_url = ParseUrl("unix:/run/tessera/replica-1.sock");
  ASSERT_TRUE(unix_url.ok());
  EXPECT_EQ(unix_url->scheme, Url::Scheme::kUnix);
  EXPECT_EQ(unix_url->unix_path, "/run/tessera/replica-1.sock");
  EXPECT_EQ(unix_url->HostHeader(), "localhost");

  for (const char* bad : {"", "ftp://x", "http://", "http://:80", "http://h:99999", "http://h:8x",
                          "http://u:p@h/", "unix:relative.sock", "http://::1/", "http://[::1/"}) {
    EXPECT_EQ(ParseUrl(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UrlTest, ResolveRedirect) {
  const Url base = *ParseUrl("http://h:1/a/b/c?q=1");
  EXPECT_EQ(ResolveRedirect(base, "https://o:2/x")->ToString(), "https://o:2/x");
  EXPECT_EQ(ResolveRedirect(base, "//o:3/y")->ToString(), "http://o:3/y");
  EXPECT_EQ(ResolveRedirect(base, "/root?z")->ToString(), "http://h:1/root?z");
  EXPECT_EQ(ResolveRedirect(base, "d.tar")->ToString(), "http://h:1/a/b/d.tar");
  EXPECT_FALSE(ResolveRedirect(base, "").ok());
}

TEST(UrlTest, ParseHostPort) {
  auto a = ParseHostPort("0.0.0.0:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 8080);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  EXPECT_EQ(ParseHostPort(":9000")->host, "0.0.0.0");
  EXPECT_EQ(ParseHostPort("localhost:1")->host, "127.0.0.1");
  for (const char* bad : {"8080", "h:", "h:-1", "h:70000", "::1:80", "[::1]"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(HttpTypesTest, HeadersAreCaseInsensitive) {
  HttpHeaders h;
  h.Add("Content-Type", "a");
  h.Add("X-Multi", "1");
  h.Add("x-multi", "2");
  EXPECT_EQ(*h.Find("content-type"), "a");
  EXPECT_EQ(h.GetOr("CONTENT-TYPE", "z"), "a");
  EXPECT_EQ(h.GetOr("missing", "z"), "z");
  EXPECT_EQ(h.GetAll("X-MULTI"), (std::vector<std::string>{"1", "2"}));
  h.Set("x-Multi", "3");
  EXPECT_EQ(h.GetAll("x-multi"), (std::vector<std::string>{"3"}));
  EXPECT_EQ(h.Remove("X-MULTI"), 1);
  EXPECT_FALSE(h.Contains("x-multi"));
  EXPECT_EQ(h.size(), 1u);
}

TEST(HttpTypesTest, JsonResponse) {
  const HttpResponse r = JsonResponse(201, {{"a", 1}, {"bad", std::string("\xff")}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body)["a"], 1);  // invalid UTF-8 replaced, not thrown
}

}  // namespace
}  // namespace tessera::http
