"""Endpoints and the model registry survive a restart of the local AWS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local.aws import LocalAws
from local.home import StateDirectory
from tests.support.polling import wait_until
from tests.support.sagemaker import INFERENCE_SCRIPT, SageMakerWorld, targz

pytestmark = pytest.mark.local


@pytest.fixture
def own_local_aws(tmp_path: Path) -> Iterator[LocalAws]:
    """A local AWS of this test's own: it is stopped and started again, which the shared one must not be."""
    aws = LocalAws(StateDirectory(tmp_path / "home"), port=0)
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()


def test_a_restart_keeps_endpoints_answering(own_local_aws: LocalAws) -> None:
    process = own_local_aws.running()
    assert process is not None
    world = SageMakerWorld(process.endpoint, "restart-test")
    world.client("s3").create_bucket(Bucket=world.bucket)
    world.put("code/inference.tar.gz", targz({"inference.py": INFERENCE_SCRIPT}))
    world.create_model("model-v1", "v1", factor=3)
    world.create_config("config-v1", "model-v1")
    world.sm.create_endpoint(EndpointName="survivor", EndpointConfigName="config-v1")
    world.endpoint_status("survivor", "InService")
    world.sm.create_model_package_group(ModelPackageGroupName="survivors")
    world.sm.create_model_package(
        ModelPackageGroupName="survivors",
        InferenceSpecification={
            "Containers": [{"Image": "sklearn"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    assert world.invoke("survivor", {"x": 2}) == {"version": "v1", "score": 6}

    own_local_aws.stop()
    restarted = own_local_aws.start()
    world = SageMakerWorld(restarted.endpoint, "restart-test")

    def answers() -> dict[str, object] | None:
        try:
            return world.invoke("survivor", {"x": 2})
        except ClientError as error:  # 503 while its model server starts again
            if error.response["Error"]["Code"] != "ServiceUnavailable":
                raise
            return None

    assert wait_until(answers, 60, "the endpoint to answer after the restart") == {"version": "v1", "score": 6}
    endpoint = world.sm.describe_endpoint(EndpointName="survivor")
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == "config-v1"
    packages = world.sm.list_model_packages(ModelPackageGroupName="survivors")["ModelPackageSummaryList"]
    assert [package["ModelPackageVersion"] for package in packages] == [1]
