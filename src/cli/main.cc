// The tessera binary: every subcommand (serve, replica, classify, models, endpoints, ...).
#include <malloc.h>

#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/classify_command.h"
#include "cli/client_commands.h"
#include "cli/replica_command.h"
#include "cli/serve_command.h"

namespace {

// Predict bodies and decoded images are hundreds of KiB, allocated and freed per request, on many
// threads. With glibc's defaults each such buffer came from a fresh mmap, or from heap top memory
// that a free of its neighbour had just trimmed: every request paid page faults and zeroing of
// new pages (perf: ~4% of all CPU of a served fashion-vit prediction). Keep buffers up to 32 MiB
// in the heap and let a heap keep up to 64 MiB free before giving it back; a replica still
// returns its load-time memory explicitly (malloc_trim after loading).
void KeepRequestBuffersInTheHeap() {
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  KeepRequestBuffersInTheHeap();
  CLI::App app{"Tessera: self-hosted serving for vision transformers"};
  app.require_subcommand(1);
  tessera::cli::AddClassifyCommand(app);
  tessera::cli::AddServeCommand(app);
  tessera::cli::AddClientCommands(app);
  tessera::cli::AddReplicaCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
