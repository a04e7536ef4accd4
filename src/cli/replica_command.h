// `tessera replica`: one replica process of a deployed model (runtime/replica_server.h), started
// by `tessera serve`'s supervisor (or by hand, or as a Kubernetes pod):
//   tessera replica --model DIR --socket PATH [--threads N] [--max-batch-size N]
//     [--max-queue-delay-us N] [--max-queue-size N] [--max-instances N] [--input-key KEY]
//     [--max-image-pixels N] [--io-threads N] [--listen HOST:PORT] [--drain-timeout-s S]
//     [--parent-pid PID] [--log-level LEVEL]
// Exit status: 0 after a SIGTERM/SIGINT drain (or when --parent-pid's process is gone); 2 when
// the model cannot be loaded or the socket cannot be bound, with the error as the last line on
// stderr ("tessera replica: cannot load the model: ..."); CLI11's codes for bad flags.
#pragma once

#include "CLI/CLI.hpp"

namespace tessera::cli {

void AddReplicaCommand(CLI::App& app);

}  // namespace tessera::cli
