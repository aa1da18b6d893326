"""Endpoints of the local SageMaker: serving, blue/green rollouts with guardrails, and rollback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.polling import wait_until
from tests.support.sagemaker import ROLE_ARN, Load, SageMakerWorld, StartGate, targz
from tests.support.stack_alarms import put_request, stack_alarms

pytestmark = pytest.mark.local


# Rollouts here use AWS's values (the stack's one-minute alarms, bakes of minutes): the session's
# local AWS runs them at its clock scale (`local.clock`, default 1/60: a minute in a second).


def stack_alarms_for(world: SageMakerWorld, endpoint: str, **thresholds: Any) -> tuple[str, str]:
    """The stack's error-rate (metric math) and latency (p99) alarms for `endpoint`, put in CloudWatch."""
    names = []
    for properties in stack_alarms(endpoint, **thresholds):
        world.client("cloudwatch").put_metric_alarm(**put_request(properties))
        names.append(properties["AlarmName"])
    return names[0], names[1]


def deployment(alarms: tuple[str, ...], routing: dict[str, Any], termination_wait: int = 0) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": termination_wait,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm} for alarm in alarms]},
    }


# 20 minutes (20 s at 1/60): longer than any alarm takes to fire, within the 3600 s execution timeout.
LONG_BAKE_SECONDS = 1200


def canary(percent: int, bake_seconds: int) -> dict[str, Any]:
    return {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
        "WaitIntervalInSeconds": bake_seconds,
    }


def serving_endpoint(world: SageMakerWorld, name: str, instances: int = 2, **behaviour: Any) -> str:
    """An InService endpoint; two instances by default, the fewest a canary can be half of."""
    world.create_model(f"{name}-v1", "v1", **behaviour)
    world.create_config(f"{name}-v1", f"{name}-v1", instances)
    world.sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1")
    world.endpoint_status(name, "InService")
    return name


def test_an_endpoint_serves_its_model_and_reports_model_errors(world: SageMakerWorld, unique_name: str) -> None:
    world.create_model(f"{unique_name}-v1", "v1", factor=2)
    world.create_config(f"{unique_name}-v1", f"{unique_name}-v1")
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=f"{unique_name}-v1")
    assert world.sm.describe_endpoint(EndpointName=unique_name)["EndpointStatus"] in ("Creating", "InService")
    endpoint = world.endpoint_status(unique_name, "InService")
    assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == 1

    response = world.runtime.invoke_endpoint(
        EndpointName=unique_name, Body=json.dumps({"x": 21}), ContentType="application/json", Accept="application/json"
    )
    assert json.loads(response["Body"].read()) == {"version": "v1", "score": 42}
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"

    # input_fn raises, with a status_code of 415: the scikit-learn 1.2-1 container answers 500 for any
    # exception of the script's functions (sagemaker-containers 2.8.6.post2 _functions.error_wrapper,
    # _transformer.py), ModelError (424) at the runtime API.
    with pytest.raises(ClientError) as unsupported:
        world.runtime.invoke_endpoint(EndpointName=unique_name, Body=b"21", ContentType="text/csv")
    error = unsupported.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert "Internal Server Error" in error["OriginalMessage"]
    with pytest.raises(ClientError) as missing_field:
        world.runtime.invoke_endpoint(EndpointName=unique_name, Body=b"{}", ContentType="application/json")
    assert missing_field.value.response["OriginalStatusCode"] == 500
    with pytest.raises(ClientError) as unknown:
        world.runtime.invoke_endpoint(EndpointName=f"{unique_name}-none", Body=b"{}", ContentType="application/json")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"

    # The invocations are in CloudWatch, per endpoint and variant, as SageMaker publishes them.
    dimensions = [{"Name": "EndpointName", "Value": unique_name}, {"Name": "VariantName", "Value": "AllTraffic"}]

    def invocations() -> float:
        points = world.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=dimensions,
            StartTime=time.time() - 300,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(point["Sum"] for point in points)

    wait_until(lambda: invocations() >= 3, 15, "the invocation metrics")
    assert invocations() == 3
    latency = world.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=dimensions,
        StartTime=time.time() - 300,
        EndTime=time.time() + 60,
        Period=60,
        ExtendedStatistics=["p99"],
    )["Datapoints"]
    assert latency and latency[0]["Unit"] == "Microseconds"
    # The model server's output reaches CloudWatch Logs by a shipper that flushes every second, as the
    # agent does on AWS: the group appears with its first flush, not with the first answer.
    groups = wait_until(
        lambda: world.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/sagemaker/Endpoints/{unique_name}")[
            "logGroups"
        ],
        15,
        "the endpoint's log group",
    )
    assert [group["logGroupName"] for group in groups] == [f"/aws/sagemaker/Endpoints/{unique_name}"]


def test_names_are_unique_and_updates_wait_for_the_endpoint(
    world: SageMakerWorld, unique_name: str, tmp_path: Path
) -> None:
    account_region = "us-east-1:000000000000"
    # The model server waits at the gate before it passes /ping: the endpoint is Creating until it opens.
    with StartGate(tmp_path) as gate:
        world.create_model(unique_name, "v1", environment=gate.environment)
        world.create_config(unique_name, unique_name)
        world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)
        assert world.sm.describe_endpoint(EndpointName=unique_name)["EndpointStatus"] == "Creating"
        with pytest.raises(ClientError) as busy:
            world.sm.update_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)
        assert busy.value.response["Error"]["Code"] == "ValidationException"
        assert busy.value.response["Error"]["Message"] == (
            f'Cannot update in-progress endpoint "arn:aws:sagemaker:{account_region}:endpoint/{unique_name}".'
        )
        for call, kind in (
            (lambda: world.create_model(unique_name, "v1"), "model"),
            (lambda: world.create_config(unique_name, unique_name), "endpoint-config"),
            (lambda: world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name), "endpoint"),
        ):
            with pytest.raises(ClientError) as error:
                call()
            assert error.value.response["Error"]["Code"] == "ValidationException"
            assert error.value.response["Error"]["Message"].startswith(
                f"Cannot create already existing {kind.replace('-config', ' configuration')} "
                f'"arn:aws:sagemaker:{account_region}:{kind}/{unique_name}"'
            )
        assert world.sm.describe_endpoint(EndpointName=unique_name)["EndpointStatus"] == "Creating"
    world.endpoint_status(unique_name, "InService")
    with pytest.raises(ClientError) as missing:
        world.sm.describe_endpoint(EndpointName=f"{unique_name}-none")
    assert missing.value.response["Error"]["Message"].startswith("Could not find endpoint")
    world.sm.delete_endpoint(EndpointName=unique_name)
    wait_until(
        lambda: (
            unique_name
            not in [e["EndpointName"] for e in world.sm.list_endpoints(NameContains=unique_name)["Endpoints"]]
        ),
        30,
        "the endpoint to be deleted",
    )


def test_a_model_that_cannot_load_fails_the_endpoint(world: SageMakerWorld, unique_name: str) -> None:
    bad_model = world.put(f"models/{unique_name}/model.tar.gz", targz({"weights.bin": b"not a model.json"}))
    world.sm.create_model(
        ModelName=unique_name,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={
            "Image": "sklearn",
            "ModelDataUrl": bad_model,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{world.bucket}/code/inference.tar.gz",
            },
        },
    )
    world.create_config(unique_name, unique_name)
    world.sm.create_endpoint(EndpointName=unique_name, EndpointConfigName=unique_name)

    failed = world.endpoint_status(unique_name, "Failed", "InService")

    assert failed["EndpointStatus"] == "Failed"
    assert failed["FailureReason"] == (
        "The primary container for production variant AllTraffic did not pass the "
        "ping health check. Please check CloudWatch logs for this endpoint."
    )
    with pytest.raises(ClientError) as error:
        world.invoke(unique_name, {"x": 1})
    assert error.value.response["Error"]["Code"] == "ValidationError"


def test_a_canary_rollout_promotes_a_good_model(world: SageMakerWorld, unique_name: str, tmp_path: Path) -> None:
    name = serving_endpoint(world, unique_name)
    alarms = stack_alarms_for(world, name)
    gate = StartGate(tmp_path)  # holds the new fleet starting
    world.create_model(f"{name}-v2", "v2", environment=gate.environment)
    world.create_config(f"{name}-v2", f"{name}-v2", 2)
    config = deployment(alarms, canary(25, 240), termination_wait=60)

    with Load(world, name, {"x": 1}) as load:
        wait_until(lambda: sum(load.versions.values()) > 20, 20, "traffic on the old model")
        with gate:
            world.sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2", DeploymentConfig=config)
            updating = world.sm.describe_endpoint(EndpointName=name)
            assert updating["EndpointStatus"] == "Updating"
            launching = wait_until(
                lambda: world.sm.describe_endpoint(EndpointName=name).get("PendingDeploymentSummary"),
                10,
                "the update's pending deployment",
            )
            assert launching["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Creating"
            assert world.sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
        baking = wait_until(
            lambda: (
                (d := world.sm.describe_endpoint(EndpointName=name))
                .get("PendingDeploymentSummary", {})
                .get("ProductionVariants", [{}])[0]
                .get("VariantStatus", [{}])[0]
                .get("Status")
                == "Baking"
                and d
            ),
            30,
            "the canary to bake",
        )
        assert baking["EndpointConfigName"] == f"{name}-v1"
        assert baking["PendingDeploymentSummary"]["EndpointConfigName"] == f"{name}-v2"
        done = world.endpoint_status(name, "InService", timeout=60)
        promoted_at = time.monotonic()
        wait_until(lambda: any(at > promoted_at for at, _ in load.timeline), 10, "traffic after the rollout")

    assert load.failures == []
    assert done["EndpointConfigName"] == f"{name}-v2"
    assert "FailureReason" not in done and "PendingDeploymentSummary" not in done
    assert done["LastDeploymentConfig"] == config
    assert load.versions["v1"] > 0 and load.versions["v2"] > 0
    assert {version for at, version in load.timeline if at > promoted_at} == {"v2"}


def test_a_model_that_errors_under_traffic_trips_the_error_rate_alarm_and_is_rolled_back(
    world: SageMakerWorld, unique_name: str
) -> None:
    name = serving_endpoint(world, unique_name)
    errors_alarm, latency_alarm = stack_alarms_for(world, name)
    # The new model answers ordinary requests but fails on a kind of transaction in the traffic.
    world.create_model(f"{name}-v2", "v2", fails_on_probe=True)
    world.create_config(f"{name}-v2", f"{name}-v2", 2)
    # A long baking period: only an alarm can end this canary early.
    config = deployment((errors_alarm, latency_alarm), canary(50, LONG_BAKE_SECONDS))

    with Load(world, name, {"x": 1}) as clients, Load(world, name, {"x": 1, "probe": True}, threads=1) as probes:
        wait_until(lambda: sum(clients.versions.values()) > 20, 20, "traffic on the old model")
        world.sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2", DeploymentConfig=config)
        rolled_back = world.update_refused(name, "the rollback", timeout=60)
        back_at = time.monotonic()
        wait_until(lambda: sum(1 for at, _ in clients.timeline if at > back_at) > 20, 10, "traffic after it")

    assert clients.failures == [], clients.failures[:3]
    assert probes.failures, "the probes hit the new model during the canary"
    assert rolled_back["EndpointConfigName"] == f"{name}-v1"
    reason = rolled_back["FailureReason"]
    assert f"CloudWatch alarm {errors_alarm} went into ALARM" in reason, reason
    assert "IF(invocations > 0, errors / invocations, 0)" in reason
    assert rolled_back["LastDeploymentConfig"] == config
    assert "PendingDeploymentSummary" not in rolled_back
    assert {version for at, version in clients.timeline if at > back_at} == {"v1"}
    state = world.client("cloudwatch").describe_alarms(AlarmNames=[errors_alarm])["MetricAlarms"][0]
    assert state["StateValue"] == "ALARM"


def test_a_slow_model_trips_the_latency_alarm_and_is_rolled_back(world: SageMakerWorld, unique_name: str) -> None:
    name = serving_endpoint(world, unique_name)
    errors_alarm, latency_alarm = stack_alarms_for(world, name, latency_ms=100)
    world.create_model(f"{name}-v2", "v2", delay_ms=300)  # answers, but slower than the p99 threshold
    world.create_config(f"{name}-v2", f"{name}-v2", 2)
    config = deployment((errors_alarm, latency_alarm), canary(50, LONG_BAKE_SECONDS))

    with Load(world, name, {"x": 1}) as clients:
        wait_until(lambda: sum(clients.versions.values()) > 20, 20, "traffic on the old model")
        world.sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2", DeploymentConfig=config)
        rolled_back = world.update_refused(name, "the rollback", timeout=60)

    assert clients.failures == [], clients.failures[:3]
    assert clients.versions["v2"] > 0
    assert rolled_back["EndpointConfigName"] == f"{name}-v1"
    assert f"CloudWatch alarm {latency_alarm} went into ALARM" in rolled_back["FailureReason"]
    assert "p99 of ModelLatency" in rolled_back["FailureReason"]


def test_an_alarm_that_cannot_be_evaluated_stops_the_rollout_before_any_traffic_moves(
    world: SageMakerWorld, unique_name: str
) -> None:
    name = serving_endpoint(world, unique_name)
    errors, _ = stack_alarms(name)
    unsupported = put_request(errors)
    unsupported["AlarmName"] = f"{name}-filled-errors"
    unsupported["Metrics"][0]["Expression"] = "FILL(errors, 0) / invocations"
    world.client("cloudwatch").put_metric_alarm(**unsupported)
    world.create_model(f"{name}-v2", "v2")
    world.create_config(f"{name}-v2", f"{name}-v2", 2)

    with Load(world, name, {"x": 1}) as clients:
        wait_until(lambda: sum(clients.versions.values()) > 5, 20, "traffic on the old model")
        world.sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=f"{name}-v2",
            DeploymentConfig=deployment((unsupported["AlarmName"],), canary(50, LONG_BAKE_SECONDS)),
        )
        failed = world.update_refused(name, "the update to end", timeout=60)

    assert clients.failures == [] and set(clients.versions) == {"v1"}
    assert failed["EndpointConfigName"] == f"{name}-v1"
    assert failed["FailureReason"].startswith(
        "Failed to update endpoint: the local SageMaker cannot evaluate its rollback alarms: "
    )
    assert "the metric math function FILL is not supported" in failed["FailureReason"]


def test_cloudwatch_keeps_the_queries_of_a_metric_math_alarm(world: SageMakerWorld, unique_name: str) -> None:
    cloudwatch = world.client("cloudwatch")
    errors, _ = stack_alarms(unique_name)
    cloudwatch.put_metric_alarm(**put_request(errors))

    described = cloudwatch.describe_alarms(AlarmNames=[errors["AlarmName"]])["MetricAlarms"][0]

    assert described["Metrics"] == errors["Metrics"]
    assert not {"MetricName", "Namespace", "Statistic", "Period", "Dimensions"} & described.keys()
    assert (described["EvaluationPeriods"], described["DatapointsToAlarm"], described["Threshold"]) == (3, 2, 0.05)
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_metric_alarm(**put_request(errors), MetricName="Invocations")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "Metrics cannot be combined with MetricName" in refused.value.response["Error"]["Message"]
    # A single-metric alarm of the same name replaces it, queries and all.
    cloudwatch.put_metric_alarm(
        AlarmName=errors["AlarmName"],
        Namespace="AWS/SageMaker",
        MetricName="Invocations",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    replaced = cloudwatch.describe_alarms(AlarmNames=[errors["AlarmName"]])["MetricAlarms"][0]
    assert "Metrics" not in replaced and replaced["MetricName"] == "Invocations"


# Cross-field rules of a blue/green update, refused by UpdateEndpoint before anything starts: botocore
# `sagemaker/2017-07-24/service-2.json` (`TrafficRoutingConfig`: CanarySize "less than or equal to 50% of
# the variant's total instance count", LinearStepSize "10-50%"; `BlueGreenUpdatePolicy`: the timeout "larger
# than the total waiting time") and deployment-guardrails-exclusions ("the same variant name").
@pytest.mark.parametrize(
    ("instances", "routing", "variant", "timeout", "message"),
    [
        (1, canary(10, 300), "AllTraffic", 3600, "CanarySize {Type: CAPACITY_PERCENT, Value: 10} is 1 of the"),
        (2, canary(60, 300), "AllTraffic", 3600, "less than or equal to 50% of the variant's total instance count"),
        (
            1,
            {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 60,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            },
            "AllTraffic",
            3600,
            "LinearStepSize {Type: CAPACITY_PERCENT, Value: 25} is 1 of the variant's 1 instance(s); the value must "
            "be 10-50% of the variant's total instance count.",
        ),
        (2, canary(50, 600), "AllTraffic", 600, "MaximumExecutionTimeoutInSeconds (600) must be larger"),
        (2, canary(50, 300), "Blue", 3600, "must be the same as those of the endpoint's current configuration"),
    ],
)
def test_a_blue_green_update_aws_refuses_is_a_validation_exception(
    world: SageMakerWorld,
    unique_name: str,
    instances: int,
    routing: dict[str, Any],
    variant: str,
    timeout: int,
    message: str,
) -> None:
    name = serving_endpoint(world, unique_name, instances=instances)
    world.create_model(f"{name}-v2", "v2")
    world.sm.create_endpoint_config(
        EndpointConfigName=f"{name}-v2",
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": f"{name}-v2",
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    config = deployment((), routing)
    config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] = timeout
    del config["AutoRollbackConfiguration"]
    with pytest.raises(ClientError) as refused:
        world.sm.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2", DeploymentConfig=config)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]
    endpoint = world.sm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == f"{name}-v1"
    assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == instances


def test_a_payload_over_6_mb_is_refused(world: SageMakerWorld, unique_name: str) -> None:
    # botocore `sagemaker-runtime/2017-05-13/service-2.json`: InvokeEndpoint's Body (BodyBlob) is at most
    # 6291456 bytes. The client does not check it (blob lengths are the service's); the service refuses.
    name = serving_endpoint(world, unique_name, instances=1)
    with pytest.raises(ClientError) as refused:
        world.runtime.invoke_endpoint(EndpointName=name, Body=b" " * (6291456 + 1), ContentType="application/json")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "Member must have length less than or equal to 6291456" in refused.value.response["Error"]["Message"]
    assert world.invoke(name, {"x": 1})["version"] == "v1"
