// SqliteMetadataStore: settings, migrations, transactions, pagination, filters, operations.
#include <sqlite3.h>

#include <string>

#include "gtest/gtest.h"
#include "registry/operation_service.h"
#include "registry/sqlite/migrations.h"
#include "registry/sqlite/sqlite_metadata_store.h"
#include "testing/synthetic_checkpoint.h"

namespace tessera::registry::sqlite {
namespace {

using testing::ScopedTempDir;

const LocationName kParent{"p", "l"};

NewModelVersion Version(const std::string& digest_seed) {
  NewModelVersion v;
  v.artifact_uri = "/models/" + digest_seed;
  v.container_spec.image_uri = "tessera/vit";
  v.runtime = "vit";
  v.artifact.files = {{"config.json", std::string(63, 'a') + digest_seed.substr(0, 1), 10}};
  v.create_time = absl::FromUnixSeconds(1000);
  return v;
}

// Runs SQL on the file directly, as an older binary or an operator would.
void RawExec(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

std::string RawQuery(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr), SQLITE_OK);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

TEST(SqliteStoreTest, OpensWithWalAndForeignKeysAtLatestSchema) {
  ScopedTempDir dir;
  auto store = SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->SchemaVersion(), LatestSchemaVersion());
  EXPECT_EQ(RawQuery(dir.path() / "t.db", "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(RawQuery(dir.path() / "t.db", "SELECT COUNT(*) FROM schema_version"),
            std::to_string(Migrations().size()));
}

TEST(SqliteStoreTest, ReopeningIsIdempotent) {
  ScopedTempDir dir;
  for (int i = 0; i < 3; ++i) {
    auto store = SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
    ASSERT_TRUE(store.ok()) << store.status();
  }
  EXPECT_EQ(RawQuery(dir.path() / "t.db", "SELECT COUNT(*) FROM schema_version"),
            std::to_string(Migrations().size()));
}

TEST(SqliteStoreTest, MigratesAnOldDatabaseKeepingItsRows) {
  ScopedTempDir dir;
  auto path = dir.path() / "old.db";
  {
    auto old = SqliteMetadataStore::Open({.path = path, .max_schema_version = 1});
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(*(*old)->SchemaVersion(), 1);
  }
  // Rows written by a version-1 binary (which had no endpoint tables).
  RawExec(path,
          "INSERT INTO models (pk, project, location, model_id, display_name, next_version, "
          "create_time_us, update_time_us) VALUES (7, 'p', 'l', '7', 'legacy', 2, 1, 1);"
          "INSERT INTO model_versions (model_pk, version, artifact_uri, container_spec, runtime, "
          "artifact_digest, create_time_us, update_time_us) VALUES (7, 1, '/m', "
          "'{\"imageUri\":\"tessera/vit\",\"command\":[],\"args\":[],\"env\":[],\"ports\":[],"
          "\"predictRoute\":\"\",\"healthRoute\":\"\"}', 'vit', 'd', 1, 1);"
          "INSERT INTO model_version_aliases VALUES (7, 1, 'default');");
  EXPECT_EQ(RawQuery(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'endpoints'"), "0");

  auto store = SqliteMetadataStore::Open({.path = path});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->SchemaVersion(), LatestSchemaVersion());
  auto model = (*store)->TransactValue<Model>([](MetadataTxn& txn) {
    return txn.GetModel(*ModelName::Parse("projects/p/locations/l/models/7"));
  });
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->display_name, "legacy");
  EXPECT_EQ(model->version_aliases, std::vector<std::string>{"default"});
  // The new tables work.
  auto ep = (*store)->TransactValue<Endpoint>([](MetadataTxn& txn) {
    Endpoint e;
    e.display_name = "ep";
    return txn.CreateEndpoint(kParent, "", e, absl::Now());
  });
  EXPECT_TRUE(ep.ok()) << ep.status();
}

TEST(SqliteStoreTest, RefusesANewerSchema) {
  ScopedTempDir dir;
  auto path = dir.path() / "new.db";
  ASSERT_TRUE(SqliteMetadataStore::Open({.path = path}).ok());
  RawExec(path, "INSERT INTO schema_version VALUES (999, 'from the future', 0)");
  auto store = SqliteMetadataStore::Open({.path = path});
  ASSERT_TRUE(absl::IsFailedPrecondition(store.status())) << store.status();
  EXPECT_NE(std::string(store.status().message()).find("newer"), std::string::npos);
}

TEST(SqliteStoreTest, FailedCallbackRollsBack) {
  ScopedTempDir dir;
  auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  absl::Status s = store->Transact([](MetadataTxn& txn) -> absl::Status {
    auto m = txn.CreateModel(kParent, NewModel{"", "x", "", {}}, Version("a"));
    if (!m.ok()) return m.status();
    return absl::InternalError("boom");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  auto page = store->TransactValue<ListPage<Model>>(
      [](MetadataTxn& txn) { return txn.ListModels(kParent, ListArgs{}); });
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
}

TEST(SqliteStoreTest, AllocatesNumericIdsAndRefusesTakenOnes) {
  ScopedTempDir dir;
  auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  auto a = store->TransactValue<Model>([](MetadataTxn& t) {
    return t.CreateModel(kParent, NewModel{"", "a", "", {}}, Version("a"));
  });
  auto b = store->TransactValue<Model>([](MetadataTxn& t) {
    return t.CreateModel(kParent, NewModel{"named", "b", "", {}}, Version("b"));
  });
  auto c = store->TransactValue<Model>([](MetadataTxn& t) {
    return t.CreateModel(kParent, NewModel{"named", "c", "", {}}, Version("c"));
  });
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->name, "projects/p/locations/l/models/1");
  EXPECT_EQ(b->name, "projects/p/locations/l/models/named");
  EXPECT_TRUE(absl::IsAlreadyExists(c.status())) << c.status();
  EXPECT_EQ(a->version_id, "1");
  EXPECT_EQ(a->version_aliases, std::vector<std::string>{"default"});
}

TEST(SqliteStoreTest, PaginatesAndFiltersModels) {
  ScopedTempDir dir;
  auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(
        store
            ->Transact([&](MetadataTxn& t) {
              std::map<std::string, std::string> labels = {{"team", i % 2 ? "odd" : "even"}};
              if (i == 3) labels["special"] = "yes";
              return t
                  .CreateModel(kParent, NewModel{"", i < 5 ? "first" : "second", "", labels},
                               Version(std::to_string(i)))
                  .status();
            })
            .ok());
  }
  auto list = [&](const ListArgs& args) {
    return store->TransactValue<ListPage<Model>>(
        [&](MetadataTxn& t) { return t.ListModels(kParent, args); });
  };
  // Pages of 3: 3 + 3 + 1, tokens chain, no duplicates.
  ListArgs args;
  args.page_size = 3;
  std::vector<std::string> seen;
  int pages = 0;
  do {
    auto page = list(args);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& m : page->items) seen.push_back(m.name);
    args.page_token = page->next_page_token;
    ++pages;
  } while (!args.page_token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(seen.front(), "projects/p/locations/l/models/1");
  EXPECT_EQ(seen.back(), "projects/p/locations/l/models/7");

  ListArgs f;
  f.filter.display_name = "second";
  EXPECT_EQ(list(f)->items.size(), 2u);
  f = {};
  f.filter.labels = {{"team", "odd"}};
  EXPECT_EQ(list(f)->items.size(), 3u);
  f.filter.labels.push_back({"special", std::nullopt});
  auto special = list(f);
  ASSERT_EQ(special->items.size(), 1u);
  EXPECT_EQ(special->items[0].name, "projects/p/locations/l/models/4");
  f = {};
  f.page_token = "not-a-token";
  EXPECT_TRUE(absl::IsInvalidArgument(list(f).status()));
  // Another project sees nothing.
  auto other = store->TransactValue<ListPage<Model>>([](MetadataTxn& t) {
    return t.ListModels(LocationName{"other", "l"}, ListArgs{});
  });
  EXPECT_TRUE(other->items.empty());
}

TEST(SqliteStoreTest, VersionLabelsOverrideModelLabelsInViewsAndFilters) {
  ScopedTempDir dir;
  auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  ASSERT_TRUE(store
                  ->Transact([](MetadataTxn& t) -> absl::Status {
                    auto m = t.CreateModel(kParent,
                                           NewModel{"", "m", "", {{"stage", "dev"}, {"team", "a"}}},
                                           Version("a"));
                    if (!m.ok()) return m.status();
                    NewModelVersion v2 = Version("b");
                    v2.labels = {{"stage", "prod"}};
                    v2.aliases = {"default"};
                    return t.AddModelVersion(*ModelName::Parse(m->name), v2).status();
                  })
                  .ok());
  auto m = store->TransactValue<Model>([](MetadataTxn& t) {
    return t.GetModel(*ModelName::Parse("projects/p/locations/l/models/1"));
  });
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->version_id, "2");  // default moved
  EXPECT_EQ(m->labels.at("stage"), "prod");
  EXPECT_EQ(m->labels.at("team"), "a");
  ListArgs f;
  f.filter.labels = {{"stage", "dev"}};
  auto page = store->TransactValue<ListPage<Model>>(
      [&](MetadataTxn& t) { return t.ListModels(kParent, f); });
  EXPECT_TRUE(page->items.empty()) << "the default version's stage is prod, not dev";
  auto versions = store->TransactValue<ListPage<Model>>([&](MetadataTxn& t) {
    return t.ListModelVersions(*ModelName::Parse("projects/p/locations/l/models/1"), f);
  });
  ASSERT_EQ(versions->items.size(), 1u);
  EXPECT_EQ(versions->items[0].version_id, "1");
}

TEST(SqliteStoreTest, OperationsListNewestFirstWithDoneFilterAndPages) {
  ScopedTempDir dir;
  auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  for (int i = 0; i < 5; ++i) {
    Operation op;
    op.kind = OperationKind::kUploadModel;
    op.done = i % 2 == 0;
    op.create_time = op.update_time = absl::FromUnixSeconds(i);
    ASSERT_TRUE(
        store->Transact([&](MetadataTxn& t) { return t.CreateOperation(kParent, op).status(); })
            .ok());
  }
  ListArgs args;
  args.page_size = 2;
  auto page = store->TransactValue<ListPage<Operation>>(
      [&](MetadataTxn& t) { return t.ListOperations(kParent, args); });
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].name, "projects/p/locations/l/operations/5");
  args.page_token = page->next_page_token;
  page = store->TransactValue<ListPage<Operation>>(
      [&](MetadataTxn& t) { return t.ListOperations(kParent, args); });
  EXPECT_EQ(page->items[0].name, "projects/p/locations/l/operations/3");
  ListArgs running;
  running.filter.done = false;
  page = store->TransactValue<ListPage<Operation>>(
      [&](MetadataTxn& t) { return t.ListOperations(kParent, running); });
  EXPECT_EQ(page->items.size(), 2u);
}

TEST(SqliteStoreTest, CompleteOperationFirstCompletionWins) {
  ScopedTempDir dir;
  auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  Operation op;
  op.kind = OperationKind::kDeployModel;
  auto created = store->TransactValue<Operation>(
      [&](MetadataTxn& t) { return t.CreateOperation(kParent, op); });
  ASSERT_TRUE(created.ok());
  auto name = *OperationName::Parse(created->name);
  auto first = store->TransactValue<bool>([&](MetadataTxn& t) {
    return t.CompleteOperation(name, absl::OkStatus(), {"", "", "e", "9"}, absl::Now());
  });
  auto second = store->TransactValue<bool>([&](MetadataTxn& t) {
    return t.CompleteOperation(name, absl::CancelledError("late"), {}, absl::Now());
  });
  EXPECT_TRUE(*first);
  EXPECT_FALSE(*second);
  auto got = store->TransactValue<Operation>([&](MetadataTxn& t) { return t.GetOperation(name); });
  EXPECT_TRUE(got->done);
  EXPECT_TRUE(got->error.ok());
  EXPECT_EQ(got->result.deployed_model_id, "9");
  EXPECT_EQ(got->progress_percent, 100);
  // Wrong project: not found.
  auto wrong = store->TransactValue<Operation>([&](MetadataTxn& t) {
    return t.GetOperation(*OperationName::Parse("projects/x/locations/l/operations/1"));
  });
  EXPECT_TRUE(absl::IsNotFound(wrong.status()));
}

// Startup recovery: an operation left running by a killed server is failed, clearly.
TEST(SqliteStoreTest, ReopenFailsUnfinishedOperations) {
  ScopedTempDir dir;
  std::string name;
  {
    auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
    Operation op;
    op.kind = OperationKind::kUploadModel;
    name = store
               ->TransactValue<Operation>(
                   [&](MetadataTxn& t) { return t.CreateOperation(kParent, op); })
               ->name;
  }
  auto store = *SqliteMetadataStore::Open({.path = dir.path() / "t.db"});
  RealClock clock;
  auto ops = OperationService::Create({.store = store.get(), .clock = &clock});
  ASSERT_TRUE(ops.ok());
  auto op = (*ops)->GetOperation(name);
  ASSERT_TRUE(op.ok());
  EXPECT_TRUE(op->done);
  EXPECT_EQ(op->error.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(op->error.message()).find("interrupted by a server restart"),
            std::string::npos);
}

}  // namespace
}  // namespace tessera::registry::sqlite
