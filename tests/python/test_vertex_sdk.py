"""The official Vertex AI SDK (google-cloud-aiplatform from PyPI) against a real `tessera serve`.

Runs the seed's steps unchanged apart from client options and credentials: the GAPIC clients
(`google.cloud.aiplatform_v1`) with their REST transport pointed at http://127.0.0.1:PORT and a
token credential holding a Tessera API key (`google.oauth2.credentials.Credentials(token=KEY)`:
the SDK sends it as "Authorization: Bearer KEY", as it sends an OAuth token to Vertex). The REST transport keeps an explicit "http://" scheme in api_endpoint, and
its operations client polls `GET /v1/{name=projects/*/locations/*/operations/*}` and parses the
Operation with unknown fields refused, so this also checks that our JSON is strictly valid proto
JSON (the "@type"d metadata and responses included).

The seed's predict call goes through PredictionServiceClient (REST) and must give the labels and
confidences `tessera classify` gives on the same images.

Environment: TESSERA_BINARY (the tessera binary) and TESSERA_SOURCE_DIR (the checkout), set by
CTest (tests/python/CMakeLists.txt).
"""
import base64
import json
import os
import pathlib
import subprocess
import tempfile

import pytest
from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.cloud import aiplatform_v1
from google.oauth2.credentials import Credentials
from google.protobuf import json_format, struct_pb2

from tessera_process import Serve

PROJECT = "my-project"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-1:latest"


@pytest.fixture(scope="module")
def server():
    """{"url": ..., "key": the admin key} of a real server."""
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(tmp)
        yield {"url": serve.url, "key": serve.admin_key}
        assert serve.stop() == 0, serve.log()[-4000:]


def client_kwargs(server, key=None):
    return dict(client_options=ClientOptions(api_endpoint=server["url"]),
                credentials=Credentials(token=server["key"] if key is None else key),
                transport="rest")


def clients(server, key=None):
    kwargs = client_kwargs(server, key)
    return (aiplatform_v1.ModelServiceClient(**kwargs),
            aiplatform_v1.EndpointServiceClient(**kwargs))


def create_key(server, role, projects, **fields):
    """A new key's secret, made with the admin key through the admin API (POST /v1/keys)."""
    import requests
    r = requests.post(f"{server['url']}/v1/keys", json={"role": role, "projects": projects, **fields},
                      headers={"Authorization": f"Bearer {server['key']}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["keyString"]


def fashion_vit():
    return str(pathlib.Path(os.environ["TESSERA_SOURCE_DIR"]) / "data" / "models" / "fashion-vit")


def seed_images():
    """Every vendored image the seed scenario sends: the Fashion-MNIST samples and the photos."""
    data = pathlib.Path(os.environ["TESSERA_SOURCE_DIR"]) / "data" / "images"
    images = sorted((data / "fashion").glob("*.png")) + sorted((data / "photos").iterdir())
    assert len(images) >= 9, images
    return images


def classify(images):
    """`tessera classify`'s top-1 (label, confidence) per image: the engine alone."""
    out = subprocess.run([os.environ["TESSERA_BINARY"], "classify", "--model", fashion_vit(),
                          *map(str, images)], check=True, capture_output=True, text=True).stdout
    return [(r["predictions"][0]["label"], r["predictions"][0]["confidence"])
            for r in json.loads(out)]


def test_seed_steps_with_the_official_sdk(server):
    models, endpoints = clients(server)

    # 1. Upload; .result() polls the operation through the SDK's operations client.
    upload = models.upload_model(
        parent=PARENT,
        model=aiplatform_v1.Model(
            display_name="fashion-vit",
            artifact_uri=fashion_vit(),
            container_spec=aiplatform_v1.ModelContainerSpec(image_uri=IMAGE),
            labels={"team": "vision"}))
    uploaded = upload.result(timeout=120)
    assert uploaded.model.startswith(f"{PARENT}/models/")
    assert uploaded.model_version_id == "1"
    assert isinstance(upload.metadata, aiplatform_v1.UploadModelOperationMetadata)

    model = models.get_model(name=uploaded.model)
    assert model.display_name == "fashion-vit"
    assert model.version_id == "1"
    assert list(model.version_aliases) == ["default"]
    assert model.container_spec.image_uri == IMAGE
    assert model.labels["team"] == "vision"
    assert model.create_time.year >= 2024

    # A second version with parentModel, an alias, listVersions, get by @alias.
    v2 = models.upload_model(request=aiplatform_v1.UploadModelRequest(
        parent=PARENT,
        parent_model=uploaded.model,
        model=aiplatform_v1.Model(
            artifact_uri=fashion_vit(), version_aliases=["candidate"],
            container_spec=aiplatform_v1.ModelContainerSpec(image_uri=IMAGE)))).result(timeout=120)
    assert v2.model_version_id == "2"
    versions = list(models.list_model_versions(name=uploaded.model))
    assert [v.version_id for v in versions] == ["1", "2"]
    assert models.get_model(name=f"{uploaded.model}@candidate").version_id == "2"
    merged = models.merge_version_aliases(name=f"{uploaded.model}@2", version_aliases=["prod"])
    assert sorted(merged.version_aliases) == ["candidate", "prod"]

    listed = list(models.list_models(parent=PARENT))
    assert [m.name for m in listed] == [uploaded.model]
    assert list(models.list_models(request=aiplatform_v1.ListModelsRequest(
        parent=PARENT, filter='labels.team="vision"')))
    assert not list(models.list_models(request=aiplatform_v1.ListModelsRequest(
        parent=PARENT, filter='display_name="other"')))

    # 2. Create an endpoint.
    endpoint = endpoints.create_endpoint(
        parent=PARENT, endpoint=aiplatform_v1.Endpoint(display_name="fashion-endpoint")
    ).result(timeout=60)
    assert endpoint.name.startswith(f"{PARENT}/endpoints/")
    assert endpoint.display_name == "fashion-endpoint"

    # 3. Deploy with traffic_split={"0": 100}.
    deploy = endpoints.deploy_model(
        endpoint=endpoint.name,
        deployed_model=aiplatform_v1.DeployedModel(
            model=uploaded.model,
            display_name="fashion-v1",
            dedicated_resources=aiplatform_v1.DedicatedResources(
                machine_spec=aiplatform_v1.MachineSpec(machine_type="n1-standard-2"),
                min_replica_count=1, max_replica_count=1)),
        traffic_split={"0": 100})
    deployed = deploy.result(timeout=300).deployed_model
    assert deployed.id
    assert deployed.model == uploaded.model
    assert deployed.model_version_id == "1"

    # 4. Predict, as the seed does: PredictionServiceClient.predict with every image as a
    # {"string_input": {"b64": ...}} instance, answered with what `tessera classify` says.
    predictions = aiplatform_v1.PredictionServiceClient(**client_kwargs(server))
    images = seed_images()
    instances = [json_format.ParseDict(
        {"string_input": {"b64": base64.b64encode(p.read_bytes()).decode()}},
        struct_pb2.Value()) for p in images]
    response = predictions.predict(endpoint=endpoint.name, instances=instances)
    # A predictor key limited to this endpoint predicts too; a viewer key may not.
    predictor = create_key(server, "predictor", [PROJECT], endpoints=[endpoint.name])
    as_predictor = aiplatform_v1.PredictionServiceClient(**client_kwargs(server, predictor))
    assert as_predictor.predict(endpoint=endpoint.name, instances=instances[:1]).predictions
    viewer = create_key(server, "viewer", [PROJECT])
    with pytest.raises(exceptions.Forbidden, match="role viewer"):
        aiplatform_v1.PredictionServiceClient(**client_kwargs(server, viewer)).predict(
            endpoint=endpoint.name, instances=instances[:1])
    assert response.deployed_model_id == deployed.id
    assert response.model == uploaded.model
    assert response.model_display_name == "fashion-vit"
    assert response.model_version_id == "1"
    got = [json_format.MessageToDict(v) for v in response._pb.predictions]
    expected = classify(images)
    assert len(got) == len(expected) == len(images)
    for image, prediction, (label, confidence) in zip(images, got, expected):
        assert prediction["label"] == label, image
        assert prediction["confidence"] == pytest.approx(confidence, abs=1e-5), image
    # Fashion-MNIST file names carry the true label: real predictions, not constants.
    right = sum(p["label"].lower().replace(" ", "-").replace("/", "-") in i.name
                for i, p in zip(images, got) if i.parent.name == "fashion")
    assert right >= 7, got

    got = endpoints.get_endpoint(name=endpoint.name)
    assert dict(got.traffic_split) == {deployed.id: 100}
    assert [d.id for d in got.deployed_models] == [deployed.id]
    assert got.deployed_models[0].dedicated_resources.machine_spec.machine_type == "n1-standard-2"
    assert [e.name for e in endpoints.list_endpoints(parent=PARENT)] == [endpoint.name]

    # Update (PATCH with an update mask).
    renamed = endpoints.update_endpoint(
        endpoint=aiplatform_v1.Endpoint(name=endpoint.name, display_name="renamed"),
        update_mask={"paths": ["display_name"]})
    assert renamed.display_name == "renamed"

    # Errors come back as the SDK's exceptions (over REST they are classed by HTTP status, as with
    # Vertex itself: INVALID_ARGUMENT and FAILED_PRECONDITION are both 400 BadRequest).
    with pytest.raises(exceptions.NotFound):
        models.get_model(name=f"{PARENT}/models/424242")
    with pytest.raises(exceptions.BadRequest, match="undeploy it first"):
        models.delete_model(name=uploaded.model).result(timeout=60)
    with pytest.raises(exceptions.BadRequest, match="100"):
        endpoints.deploy_model(
            endpoint=endpoint.name,
            deployed_model=aiplatform_v1.DeployedModel(model=uploaded.model),
            traffic_split={"0": 50}).result(timeout=60)

    # Undeploy and clean up.
    endpoints.undeploy_model(endpoint=endpoint.name, deployed_model_id=deployed.id).result(
        timeout=300)
    assert not endpoints.get_endpoint(name=endpoint.name).deployed_models
    endpoints.delete_endpoint(name=endpoint.name).result(timeout=60)
    models.delete_model(name=uploaded.model).result(timeout=60)
    with pytest.raises(exceptions.NotFound):
        models.get_model(name=uploaded.model)


def test_bad_artifact_fails_the_operation(server):
    models, _ = clients(server)
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "config.json").write_text("{}")
        op = models.upload_model(
            parent=PARENT,
            model=aiplatform_v1.Model(
                display_name="broken", artifact_uri=tmp,
                container_spec=aiplatform_v1.ModelContainerSpec(image_uri=IMAGE)))
        with pytest.raises(exceptions.GoogleAPICallError) as failure:
            op.result(timeout=60)
        assert "servable" in str(failure.value) or "missing" in str(failure.value)


def test_high_level_sdk(server):
    """`aiplatform.init(api_endpoint=..., api_transport="rest")` and the high-level classes.

    `aiplatform.Model.upload` itself cannot be used: for a local artifact_uri it stages the files
    to Cloud Storage first (and refuses non-TF/sklearn files for prebuilt images), which Tessera
    does not emulate. The model is therefore uploaded with the GAPIC client, as in the test above;
    everything after that is the high-level SDK.
    """
    from google.cloud import aiplatform

    models, _ = clients(server)
    uploaded = models.upload_model(
        parent=PARENT,
        model=aiplatform_v1.Model(
            display_name="high-level", artifact_uri=fashion_vit(),
            container_spec=aiplatform_v1.ModelContainerSpec(image_uri=IMAGE))).result(timeout=120)

    aiplatform.init(project=PROJECT, location=LOCATION, api_endpoint=server["url"],
                    credentials=Credentials(token=server["key"]), api_transport="rest")
    assert uploaded.model in [m.resource_name for m in aiplatform.Model.list()]
    model = aiplatform.Model(uploaded.model)
    assert model.display_name == "high-level"
    endpoint = aiplatform.Endpoint.create(display_name="high-level-endpoint")
    endpoint.deploy(model=model, machine_type="n1-standard-2", min_replica_count=1,
                    max_replica_count=1, traffic_split={"0": 100})
    deployed = endpoint.list_models()
    assert len(deployed) == 1
    assert endpoint.traffic_split == {deployed[0].id: 100}
    endpoint.undeploy_all()
    endpoint.delete()
    assert endpoint.resource_name not in [e.resource_name for e in aiplatform.Endpoint.list()]


def test_the_sdk_sees_401_and_403(server):
    """A 401 makes the SDK's authorized session try to refresh its credential (as against
    Google), which a bare token or anonymous credential cannot: the error is google.auth's.
    A 403 is the SDK's own Forbidden, with the server's message."""
    from google.auth import exceptions as auth_exceptions
    from google.auth.credentials import AnonymousCredentials

    anonymous = aiplatform_v1.ModelServiceClient(
        client_options=ClientOptions(api_endpoint=server["url"]),
        credentials=AnonymousCredentials(), transport="rest")
    with pytest.raises(auth_exceptions.InvalidOperation, match="cannot be refreshed"):
        list(anonymous.list_models(parent=PARENT))
    models, _ = clients(server, key="tsk_0123456789abcdef_" + "x" * 43)
    with pytest.raises(auth_exceptions.RefreshError):
        list(models.list_models(parent=PARENT))

    viewer = create_key(server, "viewer", [PROJECT])
    models, endpoints = clients(server, viewer)
    list(models.list_models(parent=PARENT))  # reading is allowed
    with pytest.raises(exceptions.Forbidden, match="role viewer"):
        endpoints.create_endpoint(parent=PARENT, endpoint=aiplatform_v1.Endpoint(display_name="x"))
    # Another project: the same 403 whether or not anything exists there.
    with pytest.raises(exceptions.Forbidden, match="may not act in project"):
        list(models.list_models(parent="projects/other/locations/us-central1"))
    with pytest.raises(exceptions.Forbidden, match="may not act in project"):
        models.get_model(name="projects/other/locations/us-central1/models/1")
