// The CLI against a real server: the seed's steps with `tessera models|endpoints|operations`,
// tables by default, --json for scripts, $TESSERA_SERVER, the key found the ways a user gives it
// (the server's data dir, --api-key-file, $TESSERA_API_KEY), and errors with exit status 1.
#include <signal.h>

#include "e2e/control_plane_server.h"
#include "gtest/gtest.h"
#include "testing/synthetic_checkpoint.h"
#include "testing/test_paths.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json ParseOut(const CliResult& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out << "\nstderr: " << r.err;
  return j;
}

TEST(ControlPlaneCliE2E, SeedStepsWithTheCli) {
  ScopedTempDir tmp;
  auto server = ServeProcess::Start(tmp.path() / "data");
  ASSERT_TRUE(server.ok()) << server.status();
  ServeProcess& s = **server;
  const std::string srv = s.url();
  const std::string model_dir = (VendoredDataDir() / "models" / "fashion-vit").string();

  // Upload (waits, shows progress, prints the new id). The CLI finds the admin key the server
  // wrote into its data dir, as on a newcomer's machine.
  CliResult up =
      RunCli({"models", "upload", "--server", srv, "--display-name", "fashion", "--artifact-uri",
              model_dir, "--model-id", "fashion", "--label", "team=vision"},
             {"TESSERA_DATA_DIR=" + (tmp.path() / "data").string()});
  ASSERT_EQ(up.exit_status, 0) << up.out << up.err;
  EXPECT_NE(up.out.find("uploaded model fashion version 1"), std::string::npos) << up.out;
  EXPECT_NE(up.err.find("waiting for operation"), std::string::npos) << up.err;

  // Second version, --json: the final operation.
  CliResult v2 = RunCli({"models", "upload", "--server", srv, "--artifact-uri", model_dir,
                         "--parent-model", "fashion", "--alias", "candidate", "--json",
                         "--api-key-file", (tmp.path() / "data" / "admin.key").string()});
  ASSERT_EQ(v2.exit_status, 0) << v2.out << v2.err;
  json v2_op = ParseOut(v2);
  EXPECT_EQ(v2_op["response"]["modelVersionId"], "2");

  // Tables. $TESSERA_SERVER instead of --server.
  const std::vector<std::string> env = {"TESSERA_SERVER=" + srv,
                                        "TESSERA_API_KEY=" + s.admin_key()};
  CliResult list = RunCli({"models", "list"}, env);
  ASSERT_EQ(list.exit_status, 0) << list.err;
  EXPECT_NE(list.out.find("DISPLAY NAME"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("fashion"), std::string::npos) << list.out;
  CliResult versions = RunCli({"models", "versions", "fashion"}, env);
  ASSERT_EQ(versions.exit_status, 0) << versions.err;
  EXPECT_NE(versions.out.find("candidate"), std::string::npos) << versions.out;
  CliResult alias = RunCli({"models", "set-alias", "fashion@2", "default"}, env);
  ASSERT_EQ(alias.exit_status, 0) << alias.err;
  CliResult get = RunCli({"models", "get", "fashion", "--json"}, env);
  ASSERT_EQ(get.exit_status, 0) << get.err;
  EXPECT_EQ(ParseOut(get)["versionId"], "2");

  // Endpoint, deploy, table.
  CliResult ep = RunCli(
      {"endpoints", "create", "--display-name", "fashion-ep", "--endpoint-id", "fashion-ep"}, env);
  ASSERT_EQ(ep.exit_status, 0) << ep.out << ep.err;
  EXPECT_NE(ep.out.find("created endpoint fashion-ep"), std::string::npos) << ep.out;
  CliResult dep = RunCli({"endpoints", "deploy", "fashion-ep", "--model", "fashion@1",
                          "--traffic-split", "0=100", "--json"},
                         env);
  ASSERT_EQ(dep.exit_status, 0) << dep.out << dep.err;
  const std::string dm_id = ParseOut(dep)["response"]["deployedModel"]["id"];
  CliResult show = RunCli({"endpoints", "get", "fashion-ep"}, env);
  ASSERT_EQ(show.exit_status, 0) << show.err;
  EXPECT_NE(show.out.find("DEPLOYED ID"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("100%"), std::string::npos) << show.out;
  CliResult eps = RunCli({"endpoints", "list", "--json"}, env);
  EXPECT_EQ(ParseOut(eps)["endpoints"].size(), 1u);

  // Refusals are errors with exit status 1.
  CliResult busy = RunCli({"models", "delete", "fashion"}, env);
  EXPECT_EQ(busy.exit_status, 1);
  EXPECT_NE(busy.err.find("error: FAILED_PRECONDITION"), std::string::npos) << busy.err;
  CliResult bad_split =
      RunCli({"endpoints", "set-traffic", "fashion-ep", "--traffic-split", dm_id + "=50"}, env);
  EXPECT_EQ(bad_split.exit_status, 1);
  EXPECT_NE(bad_split.err.find("INVALID_ARGUMENT"), std::string::npos) << bad_split.err;

  // Operations.
  CliResult ops = RunCli({"operations", "list"}, env);
  ASSERT_EQ(ops.exit_status, 0) << ops.err;
  EXPECT_NE(ops.out.find("DeployModelOperationMetadata"), std::string::npos) << ops.out;
  const std::string op_name = ParseOut(dep)["name"];
  CliResult wait = RunCli({"operations", "wait", op_name.substr(op_name.rfind('/') + 1)}, env);
  EXPECT_EQ(wait.exit_status, 0) << wait.err;

  // Undeploy, delete.
  CliResult undep =
      RunCli({"endpoints", "undeploy", "fashion-ep", "--deployed-model-id", dm_id}, env);
  ASSERT_EQ(undep.exit_status, 0) << undep.out << undep.err;
  EXPECT_EQ(RunCli({"endpoints", "delete", "fashion-ep"}, env).exit_status, 0);
  EXPECT_EQ(RunCli({"models", "delete", "fashion"}, env).exit_status, 0);
  CliResult gone = RunCli({"models", "get", "fashion"}, env);
  EXPECT_EQ(gone.exit_status, 1);
  EXPECT_NE(gone.err.find("error: NOT_FOUND"), std::string::npos) << gone.err;
}

TEST(ControlPlaneCliE2E, FailedUploadAndUnreachableServer) {
  ScopedTempDir tmp;
  auto server = ServeProcess::Start(tmp.path() / "data");
  ASSERT_TRUE(server.ok()) << server.status();
  const fs::path bad = tmp.path() / "bad";
  WriteTinyCheckpoint(bad, 1);
  CorruptSafetensorsHeader(bad);
  const std::vector<std::string> env = {"TESSERA_API_KEY=" + (*server)->admin_key()};
  CliResult up = RunCli({"models", "upload", "--server", (*server)->url(), "--display-name", "x",
                         "--artifact-uri", bad.string()},
                        env);
  EXPECT_EQ(up.exit_status, 1) << up.out;
  EXPECT_NE(up.err.find("error: INVALID_ARGUMENT"), std::string::npos) << up.err;
  // --async returns the running operation at once.
  CliResult async = RunCli({"models", "upload", "--server", (*server)->url(), "--display-name", "y",
                            "--artifact-uri", bad.string(), "--async", "--json"},
                           env);
  EXPECT_EQ(async.exit_status, 0) << async.err;
  EXPECT_TRUE(ParseOut(async).contains("name"));

  ASSERT_EQ(*(*server)->Stop(SIGTERM), 0);
  CliResult down = RunCli({"models", "list", "--server", (*server)->url()});
  EXPECT_EQ(down.exit_status, 1);
  EXPECT_NE(down.err.find("cannot reach the Tessera server"), std::string::npos) << down.err;
}

}  // namespace
}  // namespace tessera::testing
