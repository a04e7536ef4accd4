// What /proc says about a replica process: its CPU time and memory. Linux only; every reader
// answers "unknown" (negative or 0) rather than failing for a process that is gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

namespace tessera::control {

// utime + stime of `pid` in seconds, from /proc/<pid>/stat; negative when unreadable.
double ProcessCpuSeconds(pid_t pid);

// A "<Field>:   12345 kB" line of /proc/<pid>/<file>, in bytes (0 when unknown), e.g.
// ("status", "VmRSS"), ("smaps_rollup", "Pss").
int64_t ReadProcKilobytes(pid_t pid, const char* file, std::string_view field);

}  // namespace tessera::control
