// Table tests of the registry's pure rules: resource names, field validation, list filters,
// page tokens, runtimes.
#include <string>

#include "gtest/gtest.h"
#include "registry/list_query.h"
#include "registry/model.h"
#include "registry/resource_name.h"
#include "registry/runtimes.h"
#include "registry/validation.h"

namespace tessera::registry {
namespace {

TEST(ResourceNameTest, ParsesAndFormats) {
  auto m = ModelName::Parse("projects/p1/locations/us-central1/models/123@prod");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->parent.project, "p1");
  EXPECT_EQ(m->parent.location, "us-central1");
  EXPECT_EQ(m->model_id, "123");
  EXPECT_EQ(m->version, "prod");
  EXPECT_EQ(m->ToString(), "projects/p1/locations/us-central1/models/123");
  EXPECT_EQ(m->ToStringWithVersion(), "projects/p1/locations/us-central1/models/123@prod");

  auto e = EndpointName::Parse("projects/p/locations/l/endpoints/my-ep");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ToString(), "projects/p/locations/l/endpoints/my-ep");
  auto o = OperationName::Parse("projects/p/locations/l/operations/42");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->operation_id, "42");
  EXPECT_TRUE(LocationName::Parse("projects/My_Project.1/locations/europe-west4").ok());
}

TEST(ResourceNameTest, RejectsMalformed) {
  for (const char* bad :
       {"", "projects/p", "projects/p/locations/l/models", "project/p/locations/l",
        "projects/p/locations/l/models/1/extra", "projects//locations/l/models/1",
        "projects/../locations/l/models/1", "projects/p/locations/l/models/a b",
        "projects/p/locations/l/models/1@", "projects/p/locations/l/endpoints/1",
        "projects/.hidden/locations/l/models/1"}) {
    auto m = ModelName::Parse(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(m.status())) << bad;
    if (!m.ok()) {
      EXPECT_NE(std::string(m.status().message()).find("expected projects/{project}"),
                std::string::npos);
    }
  }
  EXPECT_FALSE(OperationName::Parse("projects/p/locations/l/operations/abc").ok());
  EXPECT_FALSE(OperationName::Parse("projects/p/locations/l/operations/007").ok());
  EXPECT_FALSE(EndpointName::Parse("projects/p/locations/l/models/1").ok());
}

TEST(ResourceNameTest, UserIds) {
  EXPECT_TRUE(ValidateUserResourceId("my-model_2", "modelId").ok());
  for (const char* bad : {"", "1abc", "-x", "Upper", "has space", "x/y",
                          "a123456789012345678901234567890123456789012345678901234567890123"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateUserResourceId(bad, "modelId"))) << bad;
  }
  EXPECT_TRUE(IsNumericId("12"));
  EXPECT_FALSE(IsNumericId("012"));
  EXPECT_FALSE(IsNumericId("x"));
}

TEST(ValidationTest, VersionAliases) {
  for (const char* good : {"default", "prod", "v2", "canary-eu", "aB9", "ab"}) {
    EXPECT_TRUE(ValidateVersionAlias(good).ok()) << good;
  }
  for (const char* bad :
       {"", "a", "1", "42", "2prod", "Prod", "prod-", "pro_d", "pro d", "-prod", "prodZ"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateVersionAlias(bad))) << bad;
  }
  EXPECT_FALSE(ValidateVersionAlias(std::string(129, 'a')).ok());
  EXPECT_TRUE(ValidateVersionAlias(std::string(128, 'a')).ok());
}

TEST(ValidationTest, LabelsAndNames) {
  EXPECT_TRUE(ValidateLabels({{"team", "vision"}, {"env", ""}}).ok());
  EXPECT_FALSE(ValidateLabels({{"Team", "x"}}).ok());
  EXPECT_FALSE(ValidateLabels({{"team", "Vision"}}).ok());
  EXPECT_FALSE(ValidateLabels({{"", "x"}}).ok());
  EXPECT_FALSE(ValidateLabels({{"9team", "x"}}).ok());
  std::map<std::string, std::string> many;
  for (int i = 0; i < 65; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_FALSE(ValidateLabels(many).ok());
  EXPECT_FALSE(ValidateDisplayName("", "displayName").ok());
  EXPECT_TRUE(ValidateDisplayName("Fashion ViT", "displayName").ok());
  EXPECT_FALSE(ValidateDisplayName(std::string(129, 'x'), "displayName").ok());
}

TEST(ListFilterTest, Accepted) {
  FilterFields all{.display_name = true, .labels = true, .done = true};
  struct Case {
    const char* filter;
    std::optional<std::string> display_name;
    std::vector<LabelCondition> labels;
    std::optional<bool> done;
  };
  std::vector<Case> cases = {
      {"", std::nullopt, {}, std::nullopt},
      {"display_name=\"my model\"", "my model", {}, std::nullopt},
      {"displayName=x", "x", {}, std::nullopt},
      {"labels.team=\"vision\"", std::nullopt, {{"team", "vision"}}, std::nullopt},
      {"labels.team:vision", std::nullopt, {{"team", "vision"}}, std::nullopt},
      {"labels.team:*", std::nullopt, {{"team", std::nullopt}}, std::nullopt},
      {"labels:team", std::nullopt, {{"team", std::nullopt}}, std::nullopt},
      {"display_name=\"a\" AND labels.env=\"prod\" AND labels.x:*",
       "a",
       {{"env", "prod"}, {"x", std::nullopt}},
       std::nullopt},
      {"done=true", std::nullopt, {}, true},
      {"  done = false  ", std::nullopt, {}, false},
      {"display_name=\"with \\\"quote\\\"\"", "with \"quote\"", {}, std::nullopt},
  };
  for (const Case& c : cases) {
    auto f = ParseListFilter(c.filter, all);
    ASSERT_TRUE(f.ok()) << c.filter << ": " << f.status();
    EXPECT_EQ(f->display_name, c.display_name) << c.filter;
    EXPECT_EQ(f->labels, c.labels) << c.filter;
    EXPECT_EQ(f->done, c.done) << c.filter;
  }
}

TEST(ListFilterTest, RejectedWithClearMessage) {
  FilterFields models{.display_name = true, .labels = true};
  for (const char* bad :
       {"display_name", "display_name=", "name=\"x\"", "display_name!=\"x\"",
        "labels.a=1 OR labels.b=2", "NOT labels.a:*", "(display_name=x)", "display_name=x AND",
        "display_name=x labels.a=b", "create_time>\"2020\"", "done=true",
        "display_name=\"unterminated", "labels.a=*", "display_name:*"}) {
    auto f = ParseListFilter(bad, models);
    ASSERT_TRUE(absl::IsInvalidArgument(f.status())) << bad;
    EXPECT_NE(std::string(f.status().message()).find("supported filters"), std::string::npos)
        << bad << ": " << f.status();
  }
  EXPECT_FALSE(ParseListFilter("done=maybe", {.done = true}).ok());
  EXPECT_FALSE(ParseListFilter("labels.a:*", {.done = true}).ok());
}

TEST(PageTokenTest, RoundTripAndRejection) {
  std::string token = EncodePageToken("models", 42);
  auto key = DecodePageToken(token, "models");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, 42);
  EXPECT_EQ(*DecodePageToken("", "models"), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodePageToken(token, "endpoints").status()));
  for (const char* bad :
       {"garbage!", "bW9kZWxzOg==" /* "models:" */, "bW9kZWxzOi0x" /* "models:-1" */, "eHl6"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(DecodePageToken(bad, "models").status())) << bad;
  }
  EXPECT_EQ(*EffectivePageSize(0), 100);
  EXPECT_EQ(*EffectivePageSize(5), 5);
  EXPECT_EQ(*EffectivePageSize(100000), 1000);
  EXPECT_TRUE(absl::IsInvalidArgument(EffectivePageSize(-1).status()));
}

TEST(RuntimesTest, MapsKnownImages) {
  for (const char* image :
       {"tessera/vit", "tessera/vit:1.2", "tessera/vit@sha256:abcd", "docker.io/tessera/vit:latest",
        "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest",
        "europe-docker.pkg.dev/vertex-ai/prediction/pytorch-gpu.1-13:latest",
        "asia-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-13:latest",
        "us-docker.pkg.dev/vertex-ai/prediction/tf2-gpu.2-12",
        "us-docker.pkg.dev/deeplearning-platform-release/gcr.io/"
        "huggingface-pytorch-inference-cu121.2-2.transformers.4-44.ubuntu2204.py311"}) {
    auto r = RuntimeForImage(image);
    ASSERT_TRUE(r.ok()) << image << ": " << r.status();
    EXPECT_EQ(*r, "vit");
  }
}

TEST(RuntimesTest, RefusesUnknownImagesNamingSupportedOnes) {
  for (const char* image : {"", "tessera/other", "nginx:latest",
                            "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-0:latest",
                            "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.1-7:latest",
                            "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.",
                            "gcr.io/my-project/my-custom-container:v1",
                            "evil.example/vertex-ai/prediction/pytorch-cpu.2-1"}) {
    auto r = RuntimeForImage(image);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << image;
    if (*image != '\0') {
      EXPECT_NE(std::string(r.status().message()).find("tessera/vit"), std::string::npos);
    }
  }
}

TEST(ManifestTest, DigestIsOrderIndependentAndContentSensitive) {
  ArtifactManifest a{{{"b", std::string(64, 'b'), 2}, {"a", std::string(64, 'a'), 1}}};
  ArtifactManifest b{{{"a", std::string(64, 'a'), 1}, {"b", std::string(64, 'b'), 2}}};
  EXPECT_EQ(a.Digest(), b.Digest());
  EXPECT_EQ(a.TotalBytes(), 3);
  b.files[1].size_bytes = 3;
  EXPECT_NE(a.Digest(), b.Digest());
}

}  // namespace
}  // namespace tessera::registry
