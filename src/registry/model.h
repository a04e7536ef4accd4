// The Model resource (Vertex AI v1 `Model`): one value describes one model *version*, exactly as
// Vertex returns it (GetModel without '@' returns the version that holds the `default` alias).
// Plain data: the REST layer converts it to and from camelCase JSON; the registry stores it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tessera::registry {

// Vertex `EnvVar`.
struct EnvVar {
  std::string name;
  std::string value;
  bool operator==(const EnvVar&) const = default;
};

// Vertex `ModelContainerSpec`. `image_uri` selects the runtime (registry/runtimes.h); the other
// fields are kept as given and returned unchanged (the built-in runtime ignores them).
struct ContainerSpec {
  std::string image_uri;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::vector<int32_t> ports;  // containerPort of each `ports[]` entry
  std::string predict_route;
  std::string health_route;
  bool operator==(const ContainerSpec&) const = default;
};

// One file of a version's artifact, as stored in the content-addressed store.
struct ArtifactFile {
  std::string path;    // relative, '/'-separated, normalized ("config.json", "sub/x.bin")
  std::string sha256;  // lowercase hex
  int64_t size_bytes = 0;
  bool operator==(const ArtifactFile&) const = default;
};

// The files of one model version, sorted by path.
struct ArtifactManifest {
  std::vector<ArtifactFile> files;

  int64_t TotalBytes() const;
  // sha256 over the sorted (path, sha256, size) lines: names the artifact as a whole.
  std::string Digest() const;
  bool operator==(const ArtifactManifest&) const = default;
};

// Vertex `DeployedModelRef`: where a model version is deployed.
struct DeployedModelRef {
  std::string endpoint;  // endpoint resource name
  std::string deployed_model_id;
  bool operator==(const DeployedModelRef&) const = default;
};

struct Model {
  // --- Vertex fields ---
  std::string name;                          // projects/p/locations/l/models/{id}, no '@'
  std::string version_id;                    // "1", "2", ... (never reused within a model)
  std::vector<std::string> version_aliases;  // sorted; exactly one version has "default"
  absl::Time version_create_time = absl::InfinitePast();
  absl::Time version_update_time = absl::InfinitePast();
  std::string display_name;         // model-level
  std::string description;          // model-level
  std::string version_description;  // version-level
  std::string artifact_uri;         // as given at upload
  ContainerSpec container_spec;
  // Model labels merged with this version's labels (a version label wins), as Vertex returns
  // them. UploadModel's labels become model labels for a new model, version labels otherwise.
  std::map<std::string, std::string> labels;
  absl::Time create_time = absl::InfinitePast();  // of the model (version 1)
  absl::Time update_time = absl::InfinitePast();  // latest change of model or this version
  std::string etag;
  std::vector<DeployedModelRef> deployed_models;  // of this version

  // --- Tessera fields ---
  std::string runtime;  // "vit": chosen from container_spec.image_uri at upload
  ArtifactManifest artifact;
  std::string artifact_digest;  // == artifact.Digest()
};

}  // namespace tessera::registry
