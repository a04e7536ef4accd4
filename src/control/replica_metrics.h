// The data plane's state as metrics, read from the supervisor at scrape time: per deployed model
// the replicas desired, ready and in each state, forward passes by batch size; per replica its
// CPU time and utilization, memory (resident and proportional), requests in flight (the router's
// leases), queue depth, restarts, model load time, and an info series naming its precision, ISA
// and kernels. docs/operations.md lists every name.
#pragma once

#include <functional>
#include <vector>

#include "common/metrics/metrics.h"
#include "control/supervisor.h"

namespace tessera::control {

using DeployedModelStatusSource = std::function<std::vector<DeployedModelStatus>()>;

// Registers the collector (`status` is called on every scrape, from the scraping thread).
void AddReplicaMetrics(metrics::MetricsRegistry& registry, DeployedModelStatusSource status);

// The samples it adds for `status` (for tests).
std::vector<metrics::FamilySnapshot> ReplicaMetricFamilies(
    const std::vector<DeployedModelStatus>& status);

}  // namespace tessera::control
