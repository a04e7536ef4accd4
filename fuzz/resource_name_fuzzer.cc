// Resource-name parsing (the strings become folder names and SQL keys): every accepted name
// must print back to a name that parses to the same value, and the parts must be safe path
// components.
#include "fuzz_util.h"
#include "registry/resource_name.h"

namespace {

using tessera::fuzz::Require;
namespace registry = tessera::registry;

bool SafeComponent(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\0') == std::string::npos;
}

template <typename Name>
void RoundTrip(std::string_view input) {
  absl::StatusOr<Name> name = Name::Parse(input);
  if (!name.ok()) {
    Require(absl::IsInvalidArgument(name.status()), "an error other than INVALID_ARGUMENT");
    return;
  }
  Require(SafeComponent(name->parent.project) && SafeComponent(name->parent.location),
          "project or location is not a safe path component");
  absl::StatusOr<Name> again = Name::Parse(name->ToString());
  Require(again.ok() && *again == *name, "ToString() of a parsed name does not parse back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = tessera::fuzz::AsView(data, size);
  absl::StatusOr<registry::LocationName> location = registry::LocationName::Parse(input);
  if (location.ok()) {
    Require(registry::LocationName::Parse(location->ToString()).ok(), "location round trip");
  }
  RoundTrip<registry::EndpointName>(input);
  RoundTrip<registry::OperationName>(input);
  absl::StatusOr<registry::ModelName> model = registry::ModelName::Parse(input);
  if (model.ok()) {
    Require(SafeComponent(model->model_id), "model id is not a safe path component");
    absl::StatusOr<registry::ModelName> again =
        registry::ModelName::Parse(model->ToStringWithVersion());
    Require(again.ok() && *again == *model, "model name round trip");
  }
  if (registry::ValidateUserResourceId(input, "modelId").ok()) {
    Require(SafeComponent(std::string(input)), "a valid user id is not a safe path component");
  }
  (void)registry::IsNumericId(input);
  return 0;
}
