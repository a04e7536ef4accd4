// What the front door costs each request (serving/front_door/front_door.h): reading the key from
// the headers, authenticating it (a map lookup and an HMAC-SHA256), the role and scope check and,
// when the key has one, its rate limit -- through FrontDoor::Guard exactly as a route runs it,
// with a handler that answers at once. Against the same handler unguarded and with
// authentication off. Prints ns per request for 1 and 2 threads; compare with a served
// prediction (milliseconds, docs/performance.md).
//
//   front_door_bench [--seconds 2]
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/time/clock.h"
#include "auth/key_service.h"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "serving/front_door/front_door.h"

namespace tessera::serving {
namespace {

struct Setup {
  RealClock clock;
  std::unique_ptr<registry::sqlite::SqliteMetadataStore> store;
  std::unique_ptr<auth::KeyService> keys;
  std::unique_ptr<auth::RateLimiter> limits;
  std::unique_ptr<FrontDoor> door;
  std::unique_ptr<FrontDoor> open_door;  // --auth=none
  std::string key;                       // a predictor key for project p
  std::string limited_key;               // the same with a rate limit it never reaches
};

void Make(Setup& s, const std::filesystem::path& dir) {
  s.store = *registry::sqlite::SqliteMetadataStore::Open({.path = dir / "bench.db"});
  s.keys = *auth::KeyService::Create(
      {.store = s.store.get(), .clock = &s.clock, .pepper = std::string(64, 'p')});
  std::string admin_key;
  (void)*s.keys->CreateFirstAdminKey([&](const std::string& key) {
    admin_key = key;
    return absl::OkStatus();
  });
  const Principal admin = *s.keys->Authenticate(admin_key)->principal;
  s.key = s.keys->CreateKey({.role = Role::kPredictor, .projects = {"p"}}, admin)->key;
  s.limited_key =
      s.keys
          ->CreateKey(
              {.role = Role::kPredictor,
               .projects = {"p"},
               .rate_limit = registry::RateLimit{.requests_per_second = 1e6, .burst = 1000000}},
              admin)
          ->key;
  s.limits = std::make_unique<auth::RateLimiter>(&s.clock);
  s.door = std::make_unique<FrontDoor>(
      FrontDoor::Options{.keys = s.keys.get(), .key_limits = s.limits.get(), .clock = &s.clock});
  s.open_door = std::make_unique<FrontDoor>(FrontDoor::Options{.clock = &s.clock});
}

http::HttpRequest PredictRequest(const std::string& key) {
  http::HttpRequest r;
  r.method = "POST";
  r.path = "/v1/projects/p/locations/l/endpoints/e:predict";
  r.path_params = {{"project", "p"}, {"location", "l"}, {"endpoint", "e"}};
  r.headers.Set("Content-Type", "application/json");
  r.headers.Set("User-Agent", "bench");
  if (!key.empty()) r.headers.Set("Authorization", "Bearer " + key);
  return r;
}

// ns per request of `handler` over `threads` threads for `seconds`.
double Measure(const http::Handler& handler, const std::string& key, int threads, double seconds) {
  std::atomic<int64_t> total{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      const http::HttpRequest prototype = PredictRequest(key);
      int64_t n = 0;
      const absl::Time stop = start + absl::Seconds(seconds);
      while ((n & 255) != 0 || absl::Now() < stop) {
        http::HttpRequest request = prototype;
        int status = 0;
        handler(std::move(request),
                http::Responder([&status](http::HttpResponse&& r) { status = r.status; }));
        if (status != 200) failures.fetch_add(1);
        ++n;
      }
      total.fetch_add(n);
    });
  }
  for (std::thread& w : workers) w.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  if (failures.load() > 0) std::fprintf(stderr, "%d requests failed\n", failures.load());
  return elapsed * 1e9 * threads / static_cast<double>(total.load());
}

}  // namespace
}  // namespace tessera::serving

int main(int argc, char** argv) {
  using namespace tessera;
  using namespace tessera::serving;
  CLI::App app{"front door cost per request"};
  double seconds = 2;
  app.add_option("--seconds", seconds, "seconds per measurement")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("front_door_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Setup s;
  Make(s, dir);
  const http::Handler answer = [](http::HttpRequest&&, http::Responder r) {
    r.Respond(http::JsonResponse(200, nlohmann::json::object()));
  };
  const RouteAccess predict{auth::Action::kPredict, Scope::kEndpoint};
  struct Case {
    const char* name;
    http::Handler handler;
    std::string key;
  };
  const Case cases[] = {
      {"unguarded handler (baseline)", answer, ""},
      {"guarded, --auth=none", s.open_door->Guard(predict, answer), ""},
      {"guarded, API key", s.door->Guard(predict, answer), s.key},
      {"guarded, API key with a rate limit", s.door->Guard(predict, answer), s.limited_key},
  };
  std::printf("%-40s %14s %14s\n", "case", "1 thread ns", "2 threads ns");
  for (const Case& c : cases) {
    const double one = Measure(c.handler, c.key, 1, seconds);
    const double two = Measure(c.handler, c.key, 2, seconds);
    std::printf("%-40s %14.0f %14.0f\n", c.name, one, two);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
