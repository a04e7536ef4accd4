// Storage encoding of the nested parts of records that SQL columns do not model one-to-one
// (container spec, deployment resources, serving options). This is the database's private
// format, not the REST API's JSON (that lives in serving/). Decoding a corrupt value is INTERNAL.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "registry/endpoint.h"
#include "registry/model.h"

namespace tessera::registry::sqlite {

std::string EncodeContainerSpec(const ContainerSpec& spec);
absl::StatusOr<ContainerSpec> DecodeContainerSpec(const std::string& text);

// DeployedModel.dedicated_resources / automatic_resources.
std::string EncodeResources(const DeployedModel& dm);
absl::Status DecodeResources(const std::string& text, DeployedModel& dm);

// DeployedModel batching, input_key, precision and logging flags.
std::string EncodeServing(const DeployedModel& dm);
absl::Status DecodeServing(const std::string& text, DeployedModel& dm);

}  // namespace tessera::registry::sqlite
