// The tessera binary: every subcommand (serve, replica, classify, models, endpoints, ...).
#include <cstdio>

#include "CLI/CLI.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Tessera: self-hosted serving for vision transformers"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
