"""Data capture of the local SageMaker's endpoints: what the endpoint config's `DataCaptureConfig`
asks for lands in S3 in SageMaker's layout and format (`tests/support/capture_format.py` says where
the format is documented), sampled as configured, and only for invocations the model answered."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.capture_format import CAPTURE_KEY, capture_records
from tests.support.polling import wait_until
from tests.support.sagemaker import SageMakerWorld

pytestmark = pytest.mark.local

CAPTURE_TIMEOUT = 30.0  # the local platform writes its buffered records every second


def capture_config(world: SageMakerWorld, prefix: str, percent: int = 100, **extra: Any) -> dict[str, Any]:
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": f"s3://{world.bucket}/{prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        **extra,
    }


def capturing_endpoint(world: SageMakerWorld, name: str, capture: dict[str, Any]) -> str:
    world.create_model(f"{name}-v1", "v1", factor=2)
    world.create_config(f"{name}-v1", f"{name}-v1", DataCaptureConfig=capture)
    world.sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1")
    world.endpoint_status(name, "InService")
    return name


def captured(world: SageMakerWorld, prefix: str, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The (key, record) pairs under `prefix` once there are `count` of them."""

    def read() -> list[tuple[str, dict[str, Any]]] | None:
        listed = world.client("s3").list_objects_v2(Bucket=world.bucket, Prefix=prefix).get("Contents", [])
        found = [
            (item["Key"], record)
            for item in listed
            for record in capture_records(world.get(f"s3://{world.bucket}/{item['Key']}"))
        ]
        return found if len(found) >= count else None

    result = wait_until(read, CAPTURE_TIMEOUT, f"{count} captured invocation(s) under {prefix}")
    return result


def test_answered_invocations_are_captured_in_sagemakers_layout_and_format(
    world: SageMakerWorld, unique_name: str
) -> None:
    prefix = f"capture-{unique_name}"
    header = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}
    name = capturing_endpoint(world, unique_name, capture_config(world, prefix, CaptureContentTypeHeader=header))

    world.runtime.invoke_endpoint(
        EndpointName=name, Body=json.dumps({"x": 21}), ContentType="application/json", InferenceId="txn-1"
    )
    with pytest.raises(ClientError):  # the model answers 500: nothing to capture
        world.runtime.invoke_endpoint(EndpointName=name, Body=b"{}", ContentType="application/json")

    # DescribeEndpoint summarises the capture (botocore `DataCaptureConfigSummary`).
    summary = world.sm.describe_endpoint(EndpointName=name)["DataCaptureConfig"]
    assert summary["CaptureStatus"] == "Started" and summary["CurrentSamplingPercentage"] == 100
    assert summary["DestinationS3Uri"] == f"s3://{world.bucket}/{prefix}"

    [(key, record)] = captured(world, f"{prefix}/", 1)
    match = CAPTURE_KEY.match(key)
    assert match and match["prefix"] == f"{prefix}/" and match["endpoint"] == name and match["variant"] == "AllTraffic"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": json.dumps({"x": 21}),
        "encoding": "JSON",
    }
    output = record["captureData"]["endpointOutput"]
    assert (output["mode"], output["encoding"]) == ("OUTPUT", "JSON")
    assert json.loads(output["data"]) == {"version": "v1", "score": 42}
    assert record["eventMetadata"]["inferenceId"] == "txn-1"


def test_without_content_type_headers_payloads_are_base64_and_input_only_captures_no_output(
    world: SageMakerWorld, unique_name: str
) -> None:
    prefix = f"capture-{unique_name}"
    config = capture_config(world, prefix)
    config["CaptureOptions"] = [{"CaptureMode": "Input"}]
    name = capturing_endpoint(world, unique_name, config)
    body = json.dumps({"x": 1}).encode()

    world.runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="application/json")

    [(_, record)] = captured(world, f"{prefix}/", 1)
    assert set(record["captureData"]) == {"endpointInput"}
    assert record["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(record["captureData"]["endpointInput"]["data"]) == body
    assert "inferenceId" not in record["eventMetadata"]


def test_a_sampling_of_zero_or_capture_turned_off_writes_nothing(world: SageMakerWorld, unique_name: str) -> None:
    off_prefix, zero_prefix = f"capture-{unique_name}-off", f"capture-{unique_name}-zero"
    off = capturing_endpoint(world, f"{unique_name}-off", capture_config(world, off_prefix, EnableCapture=False))
    zero = capturing_endpoint(world, f"{unique_name}-zero", capture_config(world, zero_prefix, percent=0))
    for name in (off, zero):
        for value in range(5):
            world.runtime.invoke_endpoint(
                EndpointName=name, Body=json.dumps({"x": value}), ContentType="application/json"
            )
    # A third endpoint's capture, invoked after them, is written: by then theirs would have been too.
    on_prefix = f"capture-{unique_name}-on"
    on = capturing_endpoint(world, f"{unique_name}-on", capture_config(world, on_prefix))
    world.runtime.invoke_endpoint(EndpointName=on, Body=json.dumps({"x": 1}), ContentType="application/json")
    captured(world, f"{on_prefix}/", 1)

    for prefix in (off_prefix, zero_prefix):
        assert world.client("s3").list_objects_v2(Bucket=world.bucket, Prefix=f"{prefix}/").get("KeyCount", 0) == 0


def test_a_capture_config_aws_refuses_is_a_validation_exception(world: SageMakerWorld, unique_name: str) -> None:
    world.create_model(f"{unique_name}-v1", "v1")
    with pytest.raises(ClientError) as refused:
        world.create_config(
            f"{unique_name}-v1", f"{unique_name}-v1", DataCaptureConfig=capture_config(world, "capture", percent=101)
        )
    # botocore sagemaker/2017-07-24/service-2.json, SamplingPercentage: 0-100.
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "initialSamplingPercentage" in refused.value.response["Error"]["Message"]
