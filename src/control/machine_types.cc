#include "control/machine_types.h"

#include <unistd.h>

#include "absl/strings/str_join.h"
#include "fmt/format.h"

namespace tessera::control {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

struct Family {
  std::string_view prefix;
  std::vector<int> sizes;
  double gib_per_cpu;
};

std::vector<MachineType> BuildTable() {
  const std::vector<Family> families = {
      {"n1-standard", {1, 2, 4, 8, 16, 32, 64, 96}, 3.75},
      {"n1-highmem", {2, 4, 8, 16, 32, 64, 96}, 6.5},
      {"n1-highcpu", {2, 4, 8, 16, 32, 64, 96}, 0.9},
      {"e2-standard", {2, 4, 8, 16, 32}, 4},
      {"e2-highmem", {2, 4, 8, 16}, 8},
      {"e2-highcpu", {2, 4, 8, 16, 32}, 1},
      {"n2-standard", {2, 4, 8, 16, 32, 48, 64, 80, 96, 128}, 4},
      {"n2-highmem", {2, 4, 8, 16, 32, 48, 64, 80, 96, 128}, 8},
      {"n2-highcpu", {2, 4, 8, 16, 32, 48, 64, 80, 96}, 1},
      {"c2-standard", {4, 8, 16, 30, 60}, 4},
      {"tessera-cpu", {1, 2, 4, 8, 16, 32, 64}, 1},
  };
  std::vector<MachineType> table;
  for (const Family& f : families) {
    for (int n : f.sizes) {
      table.push_back({fmt::format("{}-{}", f.prefix, n), n,
                       static_cast<int64_t>(f.gib_per_cpu * n * static_cast<double>(kGiB))});
    }
  }
  return table;
}

std::string GiB(int64_t bytes) {
  return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / kGiB);
}

}  // namespace

const std::vector<MachineType>& MachineTypes() {
  static const std::vector<MachineType> kTable = BuildTable();
  return kTable;
}

absl::StatusOr<MachineType> LookupMachineType(std::string_view name) {
  for (const MachineType& t : MachineTypes()) {
    if (t.name == name) return t;
  }
  for (std::string_view gpu : {"a2-", "a3-", "g2-", "ct5", "ct4", "cloud-tpu"}) {
    if (name.starts_with(gpu)) {
      return absl::InvalidArgumentError(fmt::format(
          "machine type \"{}\" has GPUs or TPUs; this server serves on CPUs only (use e.g. "
          "n1-standard-4 or tessera-cpu-4)",
          name));
    }
  }
  return absl::InvalidArgumentError(fmt::format(
      "unknown machine type \"{}\"; known: n1-standard-N, n1-highmem-N, n1-highcpu-N, "
      "e2-standard-N, e2-highmem-N, e2-highcpu-N, n2-standard-N, n2-highmem-N, n2-highcpu-N, "
      "c2-standard-N (Vertex sizes) and tessera-cpu-{{1,2,4,8,16,32,64}}",
      name));
}

HostResources HostResources::Detect() {
  HostResources host;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGE_SIZE);
  host.cpu_count = cpus > 0 ? static_cast<int>(cpus) : 1;
  host.memory_bytes = (pages > 0 && page_size > 0) ? int64_t{pages} * page_size : 0;
  return host;
}

absl::Status CheckHostRunsPrecision(std::string_view precision, const HostResources& host) {
  for (const std::string& native : host.native_precisions) {
    if (native == precision) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(fmt::format(
      "deployedModel.tessera.precision \"{}\" does not run natively on this host (its CPU's "
      "instruction set is {}; it runs {}): deploy with one of those",
      precision, host.isa, absl::StrJoin(host.native_precisions, ", ")));
}

absl::Status CheckFitsHost(const MachineType& type, int min_replica_count,
                           const HostResources& host) {
  int64_t needed = type.memory_bytes * min_replica_count;
  if (host.memory_bytes > 0 && needed > host.memory_bytes) {
    return absl::FailedPreconditionError(fmt::format(
        "this host cannot hold the deployment: minReplicaCount {} x {} ({} each) needs {}, the "
        "host has {}; lower minReplicaCount or choose a smaller machine type",
        min_replica_count, type.name, GiB(type.memory_bytes), GiB(needed), GiB(host.memory_bytes)));
  }
  return absl::OkStatus();
}

}  // namespace tessera::control
