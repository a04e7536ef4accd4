// Machine types: Vertex AI's machineSpec.machineType names (and Tessera's local ones) mapped to
// what a replica gets on this host: CPU threads for its engine and the memory admission counts.
// docs/machine-types.md has the table.
//
//   family        vCPUs (threads)                    memory per vCPU
//   n1-standard   1 2 4 8 16 32 64 96                3.75 GiB
//   n1-highmem    2 4 8 16 32 64 96                  6.5 GiB
//   n1-highcpu    2 4 8 16 32 64 96                  0.9 GiB
//   e2-standard   2 4 8 16 32                        4 GiB
//   e2-highmem    2 4 8 16                           8 GiB
//   e2-highcpu    2 4 8 16 32                        1 GiB
//   n2-standard   2 4 8 16 32 48 64 80 96 128        4 GiB
//   n2-highmem    2 4 8 16 32 48 64 80 96 128        8 GiB
//   n2-highcpu    2 4 8 16 32 48 64 80 96            1 GiB
//   c2-standard   4 8 16 30 60                       4 GiB
//   tessera-cpu   1 2 4 8 16 32 64                   1 GiB   (local names)
//
// Admission rule (DeployModel): minReplicaCount x memory must fit in the host's physical memory,
// else FAILED_PRECONDITION; threads may exceed the host's cores (replicas then share cores, which
// works, only slower). Memory is an admission figure, not an enforced limit. GPU machine types
// (a2-, a3-, g2-) and any accelerator are refused: Tessera serves on CPUs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::control {

struct MachineType {
  std::string name;
  int cpu_threads = 0;
  int64_t memory_bytes = 0;
};

// Used for automaticResources and deployments that name no resources.
inline constexpr std::string_view kDefaultMachineType = "n1-standard-2";

// Every known machine type, in table order.
const std::vector<MachineType>& MachineTypes();

// INVALID_ARGUMENT for unknown names (listing the families) and GPU types.
absl::StatusOr<MachineType> LookupMachineType(std::string_view name);

// What this host offers.
struct HostResources {
  int cpu_count = 0;
  int64_t memory_bytes = 0;
  // The engine precisions this host runs natively, and its instruction set (for the refusal):
  // the engine knows them, so the CLI fills them in (engine::DetectHostSupport); fp32 alone
  // until then.
  std::vector<std::string> native_precisions = {"fp32"};
  std::string isa = "unknown";
  // From sysconf (online CPUs, physical pages).
  static HostResources Detect();
};

// OK when `host` runs `precision` natively; FAILED_PRECONDITION naming what it runs otherwise.
absl::Status CheckHostRunsPrecision(std::string_view precision, const HostResources& host);

// OK when `min_replica_count` replicas of `type` fit `host` by the admission rule above, else
// FAILED_PRECONDITION saying how much is needed and how much there is.
absl::Status CheckFitsHost(const MachineType& type, int min_replica_count,
                           const HostResources& host);

}  // namespace tessera::control
