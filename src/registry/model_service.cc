#include "registry/model_service.h"

#include <algorithm>
#include <set>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "registry/file_util.h"
#include "registry/runtimes.h"
#include "registry/validation.h"
#include "spdlog/spdlog.h"

namespace tessera::registry {
namespace {

namespace fs = std::filesystem;

// Removes a folder when leaving scope unless released.
class DirCleanup {
 public:
  explicit DirCleanup(fs::path dir) : dir_(std::move(dir)) {}
  ~DirCleanup() {
    if (!dir_.empty()) RemoveTreeQuietly(dir_);
  }
  void Release() { dir_.clear(); }

 private:
  fs::path dir_;
};

absl::Status ValidateNewAliases(const std::vector<std::string>& aliases) {
  for (const std::string& alias : aliases) {
    if (!alias.empty() && alias.front() == '-') {
      return absl::InvalidArgumentError(fmt::format(
          "model.versionAliases: \"{}\" removes an alias, which only mergeVersionAliases can do",
          alias));
    }
    RETURN_IF_ERROR(ValidateVersionAlias(alias));
  }
  return absl::OkStatus();
}

std::vector<std::string> Dedup(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelService>> ModelService::Create(const Options& options) {
  if (options.store == nullptr || options.artifacts == nullptr || options.operations == nullptr ||
      options.validator == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError(
        "ModelService: store, artifacts, operations, validator and clock are required");
  }
  std::unique_ptr<ModelService> service(new ModelService(options));
  std::set<std::string> referenced;
  std::vector<ModelName> versions;
  RETURN_IF_ERROR(options.store->Transact([&](MetadataTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(referenced, txn.ReferencedBlobDigests());
    ASSIGN_OR_RETURN(versions, txn.ListAllModelVersions());
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(options.artifacts->Sweep(referenced, versions));
  ASSIGN_OR_RETURN(service->runner_,
                   OperationRunner::Create({.operations = options.operations,
                                            .threads = std::max(1, options.upload_threads),
                                            .name = "uploads"}));
  return service;
}

ModelService::~ModelService() { runner_.reset(); }

void ModelService::WaitIdle() { runner_->WaitIdle(); }

absl::StatusOr<Operation> ModelService::UploadModel(const UploadModelRequest& request) {
  ASSIGN_OR_RETURN(LocationName parent, LocationName::Parse(request.parent));
  const Model& m = request.model;
  std::string target = parent.ToString();
  if (!request.parent_model.empty()) {
    if (!request.model_id.empty()) {
      return absl::InvalidArgumentError(
          "set either parentModel (to add a version) or modelId (to name a new model), not both");
    }
    ASSIGN_OR_RETURN(ModelName parent_model, ModelName::Parse(request.parent_model));
    if (!parent_model.version.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("parentModel \"{}\" must name a model, not a version", request.parent_model));
    }
    if (!(parent_model.parent == parent)) {
      return absl::InvalidArgumentError(
          fmt::format("parentModel {} is not in {}", request.parent_model, parent.ToString()));
    }
    RETURN_IF_ERROR(options_.store->Transact(
        [&](MetadataTxn& txn) { return txn.GetModel(parent_model).status(); }));
    target = parent_model.ToString();
  } else {
    RETURN_IF_ERROR(ValidateDisplayName(m.display_name, "model.displayName"));
    if (!request.model_id.empty()) {
      RETURN_IF_ERROR(ValidateUserResourceId(request.model_id, "modelId"));
      ModelName wanted{parent, request.model_id, ""};
      absl::Status exists =
          options_.store->Transact([&](MetadataTxn& txn) { return txn.GetModel(wanted).status(); });
      if (exists.ok()) {
        return absl::AlreadyExistsError(fmt::format("model {} already exists", wanted.ToString()));
      }
      if (!absl::IsNotFound(exists)) return exists;
    }
  }
  RETURN_IF_ERROR(ValidateDescription(m.description, "model.description"));
  RETURN_IF_ERROR(ValidateDescription(m.version_description, "model.versionDescription"));
  RETURN_IF_ERROR(ValidateLabels(m.labels));
  RETURN_IF_ERROR(ValidateNewAliases(m.version_aliases));
  RETURN_IF_ERROR(RuntimeForImage(m.container_spec.image_uri).status());
  ASSIGN_OR_RETURN(ArtifactLocation location, ResolveArtifactUri(m.artifact_uri, options_.source));

  ASSIGN_OR_RETURN(Operation op,
                   options_.operations->Begin(parent, OperationKind::kUploadModel, target));
  absl::Status submitted =
      runner_->Submit(op, [this, request, parent, location](OperationContext& ctx) {
        return RunUpload(ctx, request, parent, location);
      });
  if (!submitted.ok()) {
    (void)options_.operations->Finish(op.name, submitted);
    return submitted;
  }
  return op;
}

absl::StatusOr<OperationResult> ModelService::RunUpload(OperationContext& ctx,
                                                        const UploadModelRequest& request,
                                                        const LocationName& parent,
                                                        const ArtifactLocation& location) {
  const Model& m = request.model;
  ASSIGN_OR_RETURN(std::string runtime, RuntimeForImage(m.container_spec.image_uri));
  ASSIGN_OR_RETURN(fs::path scratch, options_.artifacts->NewScratchDir());
  DirCleanup scratch_cleanup(scratch);

  ctx.SetProgress(5, location.kind == ArtifactLocation::Kind::kLocalFolder ? "LISTING_ARTIFACT"
                                                                           : "FETCHING_ARTIFACT");
  ASSIGN_OR_RETURN(UploadBudget budget, options_.artifacts->Budget());
  ASSIGN_OR_RETURN(CollectedArtifact collected,
                   CollectArtifactFiles(location, options_.source, scratch, ctx.cancel(), budget,
                                        options_.validator));
  const std::vector<SourceFile>& files = collected.files;
  // Sizes first (cheap, and a sparse file's size counts): the store is not touched past its cap
  // or its free-space reserve. Ingest checks again with a fresh look at the disk.
  int64_t total_bytes = 0;
  for (const SourceFile& f : files) {
    std::error_code ec;
    const auto size = static_cast<int64_t>(fs::file_size(f.source, ec));
    if (ec) return ErrnoStatus(ec.value(), "stat " + f.source.string());
    total_bytes += size;
  }
  RETURN_IF_ERROR(budget.Check(total_bytes, "the artifact"));

  // A checkpoint the runtime would refuse is refused now, before gigabytes are copied into the
  // store (the check reads the configs and the safetensors header, not the weights). The staged
  // copy is validated again below: that is what will be served.
  ctx.SetProgress(8, "VALIDATING");
  if (absl::Status valid = options_.validator->Validate(collected.root); !valid.ok()) {
    return absl::InvalidArgumentError(fmt::format("artifact {} is not a servable model: {}",
                                                  m.artifact_uri, std::string(valid.message())));
  }
  RETURN_IF_ERROR(ctx.cancel().Check());

  ctx.SetProgress(10, "COPYING_ARTIFACT");
  int last_percent = 10;
  auto progress = [&](int64_t done, int64_t total) {
    int percent = 10 + static_cast<int>(70 * done / std::max<int64_t>(total, 1));
    if (percent >= last_percent + 5) {
      last_percent = percent;
      ctx.SetProgress(percent, "COPYING_ARTIFACT");
    }
  };
  absl::StatusOr<IngestResult> ingested = options_.artifacts->Ingest(files, ctx.cancel(), progress);
  bool wrote_blobs = ingested.ok() && ingested->bytes_copied > 0;
  absl::StatusOr<OperationResult> result = [&]() -> absl::StatusOr<OperationResult> {
    if (!ingested.ok()) return ingested.status();
    ASSIGN_OR_RETURN(fs::path staged, options_.artifacts->Stage(ingested->manifest));
    DirCleanup staged_cleanup(staged);

    ctx.SetProgress(85, "VALIDATING");
    absl::Status valid = options_.validator->Validate(staged);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(fmt::format("artifact {} is not a servable model: {}",
                                                    m.artifact_uri, std::string(valid.message())));
    }
    RETURN_IF_ERROR(ctx.cancel().Check());

    ctx.SetProgress(95, "COMMITTING");
    NewModelVersion version;
    version.version_description = m.version_description;
    version.artifact_uri = m.artifact_uri;
    version.container_spec = m.container_spec;
    version.runtime = runtime;
    version.artifact = ingested->manifest;
    version.aliases = Dedup(m.version_aliases);
    version.create_time = options_.clock->Now();
    ASSIGN_OR_RETURN(OperationName op_name, OperationName::Parse(ctx.name()));
    ASSIGN_OR_RETURN(
        Model committed,
        options_.store->TransactValue<Model>([&](MetadataTxn& txn) -> absl::StatusOr<Model> {
          // Last check inside the transaction: a cancel after this point loses the race.
          RETURN_IF_ERROR(ctx.cancel().Check());
          absl::StatusOr<Model> model;
          if (request.parent_model.empty()) {
            NewModel fresh{request.model_id, m.display_name, m.description, m.labels};
            model = txn.CreateModel(parent, fresh, version);
          } else {
            version.labels = m.labels;
            ASSIGN_OR_RETURN(ModelName parent_model, ModelName::Parse(request.parent_model));
            model = txn.AddModelVersion(parent_model, version);
          }
          if (!model.ok()) return model.status();
          OperationResult done{model->name, model->version_id, "", ""};
          RETURN_IF_ERROR(
              txn.CompleteOperation(op_name, absl::OkStatus(), done, version.create_time).status());
          return model;
        }));
    ASSIGN_OR_RETURN(ModelName version_name, ModelName::Parse(committed.name));
    version_name.version = committed.version_id;
    staged_cleanup.Release();
    absl::StatusOr<fs::path> promoted = options_.artifacts->Promote(staged, version_name);
    if (!promoted.ok()) {
      // Committed already; ArtifactDir() assembles the folder on demand.
      spdlog::warn("upload {}: version committed but its folder was not placed: {}", ctx.name(),
                   promoted.status().ToString());
    }
    spdlog::info("uploaded {}@{} ({} files, {} bytes, {} new)", committed.name,
                 committed.version_id, committed.artifact.files.size(),
                 committed.artifact.TotalBytes(), ingested->bytes_copied);
    return OperationResult{committed.name, committed.version_id, "", ""};
  }();
  if (!result.ok()) {
    if (ingested.ok()) ingested->pins = BlobPins();  // release before collecting
    if (wrote_blobs) CollectGarbage();
  }
  return result;
}

absl::StatusOr<Model> ModelService::GetModel(std::string_view name) {
  ASSIGN_OR_RETURN(ModelName parsed, ModelName::Parse(name));
  return options_.store->TransactValue<Model>(
      [&](MetadataTxn& txn) { return txn.GetModel(parsed); });
}

absl::StatusOr<ListPage<Model>> ModelService::ListModels(std::string_view parent,
                                                         const ListQuery& query) {
  ASSIGN_OR_RETURN(LocationName location, LocationName::Parse(parent));
  ListArgs args;
  ASSIGN_OR_RETURN(args.filter, ParseListFilter(query.filter, FilterFields{.display_name = true,
                                                                           .labels = true}));
  ASSIGN_OR_RETURN(args.page_size, EffectivePageSize(query.page_size));
  args.page_token = query.page_token;
  return options_.store->TransactValue<ListPage<Model>>(
      [&](MetadataTxn& txn) { return txn.ListModels(location, args); });
}

absl::StatusOr<ListPage<Model>> ModelService::ListModelVersions(std::string_view name,
                                                                const ListQuery& query) {
  ASSIGN_OR_RETURN(ModelName model, ModelName::Parse(name));
  if (!model.version.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("listVersions takes a model name without '@': {}", name));
  }
  ListArgs args;
  ASSIGN_OR_RETURN(args.filter, ParseListFilter(query.filter, FilterFields{.display_name = true,
                                                                           .labels = true}));
  ASSIGN_OR_RETURN(args.page_size, EffectivePageSize(query.page_size));
  args.page_token = query.page_token;
  return options_.store->TransactValue<ListPage<Model>>(
      [&](MetadataTxn& txn) { return txn.ListModelVersions(model, args); });
}

absl::StatusOr<Model> ModelService::MergeVersionAliases(
    std::string_view name, const std::vector<std::string>& version_aliases) {
  ASSIGN_OR_RETURN(ModelName version, ModelName::Parse(name));
  if (version.version.empty() || version.version == "-") {
    return absl::InvalidArgumentError(fmt::format(
        "mergeVersionAliases needs a version in the name (e.g. {}@1)", version.ToString()));
  }
  if (version_aliases.empty()) return absl::InvalidArgumentError("versionAliases is required");
  std::set<std::string> add, remove;
  for (const std::string& entry : version_aliases) {
    bool removal = !entry.empty() && entry.front() == '-';
    std::string alias = removal ? entry.substr(1) : entry;
    RETURN_IF_ERROR(ValidateVersionAlias(alias));
    if (removal && alias == "default") {
      return absl::InvalidArgumentError(
          "the default alias cannot be removed; add \"default\" to another version to move it");
    }
    (removal ? remove : add).insert(alias);
  }
  // Vertex: adding and removing the same alias in one request cancel out.
  for (auto it = add.begin(); it != add.end();) {
    if (remove.erase(*it)) {
      it = add.erase(it);
    } else {
      ++it;
    }
  }
  absl::Time now = options_.clock->Now();
  return options_.store->TransactValue<Model>([&](MetadataTxn& txn) {
    return txn.UpdateVersionAliases(version, {add.begin(), add.end()},
                                    {remove.begin(), remove.end()}, now);
  });
}

absl::StatusOr<Model> ModelService::UpdateModel(const Model& model,
                                                const std::vector<std::string>& update_mask) {
  ASSIGN_OR_RETURN(ModelName name, ModelName::Parse(model.name));
  bool version_scope = !name.version.empty() && name.version != "-";
  if (update_mask.empty()) {
    return absl::InvalidArgumentError(
        "updateMask is required (displayName, description, labels; or versionDescription, "
        "labels with model@version)");
  }
  ModelFieldsUpdate update;
  for (const std::string& path : update_mask) {
    auto wrong_scope = [&](std::string_view field) {
      return absl::InvalidArgumentError(fmt::format(
          "updateMask: {} is a {} field; {}", field, version_scope ? "model" : "version",
          version_scope ? "name the model without @version" : "name the version as model@version"));
    };
    if (path == "displayName" || path == "display_name") {
      if (version_scope) return wrong_scope("displayName");
      RETURN_IF_ERROR(ValidateDisplayName(model.display_name, "model.displayName"));
      update.display_name = model.display_name;
    } else if (path == "description") {
      if (version_scope) return wrong_scope("description");
      RETURN_IF_ERROR(ValidateDescription(model.description, "model.description"));
      update.description = model.description;
    } else if (path == "versionDescription" || path == "version_description") {
      if (!version_scope) return wrong_scope("versionDescription");
      RETURN_IF_ERROR(ValidateDescription(model.version_description, "model.versionDescription"));
      update.version_description = model.version_description;
    } else if (path == "labels") {
      RETURN_IF_ERROR(ValidateLabels(model.labels));
      update.labels = model.labels;
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "updateMask: \"{}\" cannot be updated (updatable: displayName, description, labels, "
          "versionDescription)",
          path));
    }
  }
  absl::Time now = options_.clock->Now();
  return options_.store->TransactValue<Model>(
      [&](MetadataTxn& txn) { return txn.UpdateModelFields(name, update, now); });
}

absl::StatusOr<Operation> ModelService::CreateDoneOperation(MetadataTxn& txn,
                                                            const LocationName& parent,
                                                            OperationKind kind,
                                                            const std::string& target) {
  Operation op;
  op.kind = kind;
  op.target = target;
  op.create_time = op.update_time = options_.clock->Now();
  op.done = true;
  op.progress_percent = 100;
  op.stage = "DONE";
  return txn.CreateOperation(parent, op);
}

absl::StatusOr<Operation> ModelService::DeleteModel(std::string_view name) {
  ASSIGN_OR_RETURN(ModelName model, ModelName::Parse(name));
  if (!model.version.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("DeleteModel takes a model name without '@'; use deleteVersion for {}", name));
  }
  std::vector<ModelName> versions;
  ASSIGN_OR_RETURN(
      Operation op,
      options_.store->TransactValue<Operation>([&](MetadataTxn& txn) -> absl::StatusOr<Operation> {
        ListArgs all;
        all.page_size = 1000;
        do {
          ASSIGN_OR_RETURN(ListPage<Model> page, txn.ListModelVersions(model, all));
          for (const Model& v : page.items)
            versions.push_back({model.parent, model.model_id, v.version_id});
          all.page_token = page.next_page_token;
        } while (!all.page_token.empty());
        RETURN_IF_ERROR(txn.DeleteModel(model));
        return CreateDoneOperation(txn, model.parent, OperationKind::kDeleteModel,
                                   model.ToString());
      }));
  for (const ModelName& v : versions) {
    absl::Status removed = options_.artifacts->RemoveVersionDir(v);
    if (!removed.ok()) spdlog::warn("{}", removed.ToString());
  }
  CollectGarbage();
  return op;
}

absl::StatusOr<Operation> ModelService::DeleteModelVersion(std::string_view name) {
  ASSIGN_OR_RETURN(ModelName version, ModelName::Parse(name));
  if (!IsNumericId(version.version)) {
    return absl::InvalidArgumentError(
        fmt::format("deleteVersion needs a version id in the name (e.g. {}@2), got \"{}\"",
                    version.ToString(), name));
  }
  ASSIGN_OR_RETURN(
      Operation op,
      options_.store->TransactValue<Operation>([&](MetadataTxn& txn) -> absl::StatusOr<Operation> {
        ASSIGN_OR_RETURN(Model m, txn.GetModel(version));
        ModelName model{version.parent, version.model_id, ""};
        ListArgs two;
        two.page_size = 2;
        ASSIGN_OR_RETURN(ListPage<Model> page, txn.ListModelVersions(model, two));
        if (page.items.size() < 2) {
          return absl::FailedPreconditionError(
              fmt::format("version {} is the only version of {}; delete the model instead",
                          m.version_id, model.ToString()));
        }
        if (std::count(m.version_aliases.begin(), m.version_aliases.end(), "default")) {
          return absl::FailedPreconditionError(
              fmt::format("version {} of {} holds the default alias; move it to another version "
                          "(mergeVersionAliases) before deleting this one",
                          m.version_id, model.ToString()));
        }
        RETURN_IF_ERROR(txn.DeleteModelVersion(version, options_.clock->Now()));
        return CreateDoneOperation(txn, version.parent, OperationKind::kDeleteModelVersion,
                                   version.ToStringWithVersion());
      }));
  absl::Status removed = options_.artifacts->RemoveVersionDir(version);
  if (!removed.ok()) spdlog::warn("{}", removed.ToString());
  CollectGarbage();
  return op;
}

absl::StatusOr<fs::path> ModelService::ArtifactDir(std::string_view name) {
  ASSIGN_OR_RETURN(Model m, GetModel(name));
  ASSIGN_OR_RETURN(ModelName version, ModelName::Parse(m.name));
  version.version = m.version_id;
  return options_.artifacts->Materialize(version, m.artifact);
}

void ModelService::CollectGarbage() {
  absl::Status s = options_.artifacts->CollectGarbage([this]() {
    return options_.store->TransactValue<std::set<std::string>>(
        [](MetadataTxn& txn) { return txn.ReferencedBlobDigests(); });
  });
  if (!s.ok()) spdlog::warn("artifact garbage collection failed: {}", s.ToString());
}

}  // namespace tessera::registry
