// What the replicas of a server killed with kill -9 leave behind, removed when the next server
// starts on the same data dir (it holds the data dir lock, so no live server owns any of it).
//
// Replica processes themselves die with their server (PR_SET_PDEATHSIG, process_launcher.h);
// their unix sockets stay: DATA_DIR/run/<deployed model>-<slot>.sock and, for data dirs too deep
// for a socket path, <tmp>/tessera-<uid>/<server pid>-<replica>.sock. A stale socket would let a
// later reader mistake a dead replica for a configured one, and the /tmp ones pile up forever.
#pragma once

#include <filesystem>

namespace tessera::control {

// <tmp>/tessera-<uid>: where replica sockets go when DATA_DIR/run is too deep for a socket path.
std::filesystem::path ReplicaSocketFallbackDir();

// Removes every entry of `run_dir`, and the sockets in `fallback_dir` whose server pid no longer
// runs. Returns how many were removed. Never fails: what cannot be removed is logged.
int RemoveReplicaLeftovers(const std::filesystem::path& run_dir,
                           const std::filesystem::path& fallback_dir);

}  // namespace tessera::control
