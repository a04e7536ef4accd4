// Model names for the protocols that have no endpoints (TF Serving REST, KServe v2 REST and gRPC).
//
// Those protocols address a model by a bare name and an optional version. Tessera maps them onto
// the registry (docs/protocols.md):
//   name     the model id (the last segment of projects/p/locations/l/models/{id}), or else the
//            model's displayName; it must name exactly one registry model deployed on some
//            endpoint (two projects using the same id or display name: FAILED_PRECONDITION,
//            naming both, so a request never reaches the wrong model).
//   version  a model version id ("2"); empty means the highest version that is deployed (TF
//            Serving's "latest available" policy) -- not Vertex's "default" alias, because that
//            would need the registry on every request.
//   label    (TF Serving /labels/{label}) a version alias, resolved through the registry.
//
// Only deployed versions exist here: a version that is in the registry but on no endpoint is
// NOT_FOUND, like a model TF Serving has not loaded.
//
// Tenancy: a name resolves only among the endpoints the caller's key reaches (its projects, and
// a predictor key's endpoint list; common/principal.h). A model of another project is NOT_FOUND
// exactly like a model that does not exist, and two projects may use the same model id without
// their keys ever seeing each other's; a key reaching both gets the ambiguity error.
//
// Thread-safe; Resolve reads an immutable snapshot and, for labels only, the registry.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/principal.h"
#include "control/routing_table.h"
#include "registry/model_service.h"

namespace tessera::serving {

// One deployed version of a model, as the protocols report it.
struct DeployedVersion {
  std::string version_id;
  int ready_replicas = 0;                  // summed over every endpoint it is deployed on
  std::string input_key = "string_input";  // of the first deployment found
};

struct ResolvedModel {
  std::string model_id;  // registry model id
  std::string model;     // resource name projects/p/locations/l/models/{id}
  std::string display_name;
  DeployedVersion version;                // the version the request addressed
  std::vector<DeployedVersion> versions;  // every deployed version, ascending by number
};

class ModelResolver {
 public:
  // `models` may be null: then labels cannot be resolved (FAILED_PRECONDITION).
  explicit ModelResolver(registry::ModelService* models) : models_(models) {}

  // Errors: NOT_FOUND (no deployed model of that name, or that version/label is not deployed),
  // FAILED_PRECONDITION (ambiguous name), INVALID_ARGUMENT (malformed version or both a version
  // and a label).
  // `caller` null: every endpoint (no authentication, or internal callers).
  absl::StatusOr<ResolvedModel> Resolve(const RoutingTable& table, std::string_view name,
                                        std::string_view version, std::string_view label,
                                        const Principal* caller) const;

 private:
  registry::ModelService* models_;
};

}  // namespace tessera::serving
