// The tessera binary: every subcommand (serve, replica, classify, models, endpoints, ...).
#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/classify_command.h"
#include "cli/client_commands.h"
#include "cli/replica_command.h"
#include "cli/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{"Tessera: self-hosted serving for vision transformers"};
  app.require_subcommand(1);
  tessera::cli::AddClassifyCommand(app);
  tessera::cli::AddServeCommand(app);
  tessera::cli::AddClientCommands(app);
  tessera::cli::AddReplicaCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
