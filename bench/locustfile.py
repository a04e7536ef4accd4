"""The seed's load test: users posting the seed's COCO image (data/images/photos, vendored) as a
base64 Vertex `:predict` request, with no think time. bench/load_test.sh runs it headless against
Tessera and against the peers, with the same image, host and user count.

Environment: PREDICT_PATH (the path to POST, e.g. /v1/projects/p/locations/l/endpoints/1:predict),
TESSERA_API_KEY (sent as a Bearer token when set), IMAGE (default: the seed's cats).
"""
import base64
import json
import os
import pathlib

from locust import HttpUser, constant, task

IMAGE = pathlib.Path(os.environ.get(
    "IMAGE", pathlib.Path(__file__).parent.parent / "data/images/photos/coco-000000039769-cats.png"))
BODY = json.dumps({"instances": [{"string_input": {"b64": base64.b64encode(IMAGE.read_bytes()).decode()}}]})
HEADERS = {"Content-Type": "application/json"}
if os.environ.get("TESSERA_API_KEY"):
    HEADERS["Authorization"] = f"Bearer {os.environ['TESSERA_API_KEY']}"


class PredictUser(HttpUser):
    wait_time = constant(0)

    @task
    def predict(self):
        with self.client.post(os.environ["PREDICT_PATH"], data=BODY, headers=HEADERS,
                              name=":predict", catch_response=True) as response:
            if response.status_code != 200 or "predictions" not in response.text:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
