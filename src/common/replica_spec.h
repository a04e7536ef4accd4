// ReplicaSpec: the serving settings of one replica process, in one typed place with one
// validator. `tessera serve` builds it from a DeployedModel (control/deployment_rules.h) and
// validates it when the deploy request arrives; the supervisor turns it into the replica's flags
// (ReplicaSpecFlags); `tessera replica` parses those flags back into a ReplicaSpec and validates
// it again with the same function. So a deployment whose replicas would refuse to start is refused
// at deploy, naming the field, instead of failing later as an operation.
//
// Errors name the field the way the caller knows it (ReplicaSpecFieldNames): the deploy request's
// JSON path ("deployedModel.tessera.batching.maxQueueSize") or the replica's flag
// ("--max-queue-size").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace tessera {

inline constexpr int kMaxReplicaThreads = 4096;
inline constexpr int kMaxBatchSizeLimit = 1024;
inline constexpr int64_t kMaxQueueDelayUsLimit = 60'000'000;  // 60 s
inline constexpr int kMaxQueueSizeLimit = 1 << 20;
inline constexpr int kMaxInputKeyLength = 64;
// Most instances in one request, unless the queue is smaller (a request larger than the queue
// could never be admitted).
inline constexpr int kDefaultMaxInstancesPerRequest = 64;
// The share of calibration images on which a reduced precision must agree with fp32's top-1
// class at warm-up, unless the deployment says otherwise.
inline constexpr double kDefaultMinPrecisionAgreement = 0.9;

struct ReplicaSpec {
  int threads = 0;  // engine threads per forward pass; 0 = every CPU
  int max_batch_size = 8;
  int64_t max_queue_delay_us = 0;
  int max_queue_size = 128;  // instances waiting for a batch; beyond it 429
  int max_instances = kDefaultMaxInstancesPerRequest;  // per request; at most max_queue_size
  std::string input_key = "string_input";
  // The engine's precision: "fp32", "bf16" or "int8"; other names are refused by name.
  std::string precision = "fp32";
  // The share of calibration images a reduced precision must agree on with fp32, in [0, 1].
  double min_precision_agreement = kDefaultMinPrecisionAgreement;
};

// How the validator names each field in its messages.
struct ReplicaSpecFieldNames {
  std::string_view threads;
  std::string_view max_batch_size;
  std::string_view max_queue_delay_us;
  std::string_view max_queue_size;
  std::string_view max_instances;
  std::string_view input_key;
  std::string_view precision;
  std::string_view min_precision_agreement;
};
// The DeployModel request's fields.
extern const ReplicaSpecFieldNames kDeployFieldNames;
// `tessera replica`'s flags.
extern const ReplicaSpecFieldNames kReplicaFlagNames;

// OK, or INVALID_ARGUMENT naming the first bad field with `names`.
absl::Status ValidateReplicaSpec(const ReplicaSpec& spec, const ReplicaSpecFieldNames& names);

// The `tessera replica` flags that carry `spec` (every field, so the replica's defaults never
// decide a deployment's behaviour).
std::vector<std::string> ReplicaSpecFlags(const ReplicaSpec& spec);

}  // namespace tessera
