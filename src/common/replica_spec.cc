#include "common/replica_spec.h"

#include "fmt/format.h"

namespace tessera {

const ReplicaSpecFieldNames kDeployFieldNames{
    .threads = "deployedModel.dedicatedResources.machineSpec.machineType",
    .max_batch_size = "deployedModel.tessera.batching.maxBatchSize",
    .max_queue_delay_us = "deployedModel.tessera.batching.maxQueueDelayUs",
    .max_queue_size = "deployedModel.tessera.batching.maxQueueSize",
    // Not a request field: derived from maxQueueSize (see ReplicaSpecFor).
    .max_instances = "deployedModel.tessera.batching.maxQueueSize",
    .input_key = "deployedModel.tessera.inputKey",
    .precision = "deployedModel.tessera.precision",
    .min_precision_agreement = "deployedModel.tessera.minPrecisionAgreement",
};

const ReplicaSpecFieldNames kReplicaFlagNames{
    .threads = "--threads",
    .max_batch_size = "--max-batch-size",
    .max_queue_delay_us = "--max-queue-delay-us",
    .max_queue_size = "--max-queue-size",
    .max_instances = "--max-instances",
    .input_key = "--input-key",
    .precision = "--precision",
    .min_precision_agreement = "--min-precision-agreement",
};

namespace {

absl::Status OutOfRange(std::string_view field, int64_t value, int64_t low, int64_t high,
                        std::string_view why = "") {
  return absl::InvalidArgumentError(
      fmt::format("{} must be in [{}, {}], got {}{}", field, low, high, value, why));
}

}  // namespace

absl::Status ValidateReplicaSpec(const ReplicaSpec& s, const ReplicaSpecFieldNames& names) {
  if (s.threads < 0 || s.threads > kMaxReplicaThreads) {
    return OutOfRange(names.threads, s.threads, 0, kMaxReplicaThreads, " engine threads");
  }
  if (s.max_batch_size < 1 || s.max_batch_size > kMaxBatchSizeLimit) {
    return OutOfRange(names.max_batch_size, s.max_batch_size, 1, kMaxBatchSizeLimit);
  }
  if (s.max_queue_delay_us < 0 || s.max_queue_delay_us > kMaxQueueDelayUsLimit) {
    return OutOfRange(names.max_queue_delay_us, s.max_queue_delay_us, 0, kMaxQueueDelayUsLimit,
                      " (microseconds, at most 60 s)");
  }
  if (s.max_queue_size < 1 || s.max_queue_size > kMaxQueueSizeLimit) {
    return OutOfRange(names.max_queue_size, s.max_queue_size, 1, kMaxQueueSizeLimit);
  }
  if (s.max_queue_size < s.max_batch_size) {
    return absl::InvalidArgumentError(fmt::format(
        "{} ({}) must be at least {} ({}): a full batch could never form", names.max_queue_size,
        s.max_queue_size, names.max_batch_size, s.max_batch_size));
  }
  if (s.max_instances < 1 || s.max_instances > s.max_queue_size) {
    return absl::InvalidArgumentError(fmt::format(
        "{} must be in [1, {}] (the queue size), got {}: a larger request could never be queued",
        names.max_instances, s.max_queue_size, s.max_instances));
  }
  if (s.input_key.empty() || s.input_key.size() > kMaxInputKeyLength) {
    return absl::InvalidArgumentError(fmt::format("{} must be 1-{} characters, got {}",
                                                  names.input_key, kMaxInputKeyLength,
                                                  s.input_key.size()));
  }
  if (s.precision != "fp32" && s.precision != "bf16" && s.precision != "int8") {
    return absl::InvalidArgumentError(
        fmt::format("{} must be \"fp32\", \"bf16\" or \"int8\", got \"{}\"", names.precision,
                    s.precision.substr(0, 32)));
  }
  if (!(s.min_precision_agreement >= 0.0 && s.min_precision_agreement <= 1.0)) {
    return absl::InvalidArgumentError(fmt::format(
        "{} must be in [0, 1], got {}", names.min_precision_agreement, s.min_precision_agreement));
  }
  return absl::OkStatus();
}

std::vector<std::string> ReplicaSpecFlags(const ReplicaSpec& s) {
  // "--flag=value": a value that starts with '-' (an input key) stays a value.
  return {fmt::format("--threads={}", s.threads),
          fmt::format("--max-batch-size={}", s.max_batch_size),
          fmt::format("--max-queue-delay-us={}", s.max_queue_delay_us),
          fmt::format("--max-queue-size={}", s.max_queue_size),
          fmt::format("--max-instances={}", s.max_instances),
          fmt::format("--input-key={}", s.input_key),
          fmt::format("--precision={}", s.precision),
          fmt::format("--min-precision-agreement={}", s.min_precision_agreement)};
}

}  // namespace tessera
