"""Start, stop, restart and wipe a local AWS; two of them side by side; the `retrain local` commands.

These tests start their own emulators (own state directories, own ports), not the session's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from local.aws import LocalAws, LocalAwsError
from local.home import StateDirectory
from tests.support.emulator import ROLE_ARN, StateMachineRunner
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.slow]

TEMPLATE = {
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "persisted-data"}},
        "State": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "persisted-state",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            },
        },
    }
}


@pytest.fixture
def own_aws(tmp_path: Path) -> Iterator[LocalAws]:
    aws = LocalAws(StateDirectory(tmp_path / "home"), port=0)
    yield aws
    aws.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_state_survives_a_restart(own_aws: LocalAws) -> None:
    own_aws.start()
    clients = own_aws.clients()
    cloudformation = clients.client("cloudformation")
    cloudformation.create_stack(StackName="persisted", TemplateBody=json.dumps(TEMPLATE))
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName="persisted", WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    clients.client("s3").put_object(Bucket="persisted-data", Key="landing/a.csv", Body=b"id\n1\n")
    clients.client("dynamodb").put_item(TableName="persisted-state", Item={"pk": {"S": "champion"}, "v": {"N": "3"}})
    machines = StateMachineRunner(clients, "persisted")
    finished = machines.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}})
    assert finished.status == "SUCCEEDED"
    # A one-time schedule that has fired must not fire again when the local AWS comes back.
    once = machines.create({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, name="once")
    due = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    clients.client("scheduler").create_schedule(
        Name="once",
        ScheduleExpression=f"at({due})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": once, "RoleArn": ROLE_ARN},
    )
    wait_until(lambda: machines.sfn.list_executions(stateMachineArn=once)["executions"], 20, "the schedule to fire")
    # A run in flight cannot continue after a stop: it ends FAILED with an ExecutionFailed event naming the
    # state it was in, as after a crash (test_crash_safety.py), under the emulator's own error name.
    hold = machines.create(
        {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 600, "End": True}}}, name="hold"
    )
    holding = machines.start(hold, name="holding")
    wait_until(
        lambda: machines.sfn.get_execution_history(executionArn=holding)["events"][-1]["type"] == "WaitStateEntered",
        20,
        "the Wait state",
    )

    assert own_aws.stop()
    assert own_aws.running() is None
    own_aws.start()
    clients = own_aws.clients()
    machines = StateMachineRunner(clients, "persisted")

    stack = clients.client("cloudformation").describe_stacks(StackName="persisted")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert clients.client("s3").get_object(Bucket="persisted-data", Key="landing/a.csv")["Body"].read() == b"id\n1\n"
    item = clients.client("dynamodb").get_item(TableName="persisted-state", Key={"pk": {"S": "champion"}})["Item"]
    assert item["v"] == {"N": "3"}
    stopped = machines.wait(holding)
    assert (stopped.status, stopped.error) == ("FAILED", "States.ServiceRestart")
    assert "was stopped while this execution was in state 'Hold'" in (stopped.cause or "")
    assert [event["type"] for event in stopped.history][-2:] == ["WaitStateEntered", "ExecutionFailed"]
    again = machines.wait(finished.arn)
    assert (again.status, again.output) == ("SUCCEEDED", {"ok": 1})
    assert [event["type"] for event in again.history] == [event["type"] for event in finished.history]
    # Schedules are checked every second: three seconds without a second run is three checks.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert len(machines.sfn.list_executions(stateMachineArn=once)["executions"]) == 1
        time.sleep(0.5)


def test_two_homes_run_side_by_side(tmp_path: Path) -> None:
    first = LocalAws(StateDirectory(tmp_path / "first"), port=0)
    second = LocalAws(StateDirectory(tmp_path / "second"), port=0)
    try:
        a, b = first.start(), second.start()
        assert a.port != b.port
        first.clients().client("s3").create_bucket(Bucket="only-in-first")
        assert [x["Name"] for x in second.clients().client("s3").list_buckets()["Buckets"]] == []
        with pytest.raises(LocalAwsError, match="already runs"):
            first.start()
        with pytest.raises(LocalAwsError, match=f"port {a.port} .* in use"):
            LocalAws(StateDirectory(tmp_path / "third"), port=a.port).start()
    finally:
        first.stop()
        second.stop()


def retrain(home: Path, port: int, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RETRAIN_HOME": str(home), "RETRAIN_LOCAL_PORT": str(port)}
    env.pop("SAGEMAKER_CLOCK_SCALE", None)  # the default scale, whatever the caller's shell sets
    return subprocess.run(
        [sys.executable, "-m", "cli", "local", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_the_local_commands(tmp_path: Path) -> None:
    home, port = tmp_path / "cli-home", free_port()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        down = retrain(home, port, "status")
        assert down.returncode == 1 and "down" in down.stdout

        up = retrain(home, port, "up", "--detach", "--no-deploy")  # the stack's deploy: tests/local
        assert up.returncode == 0, up.stderr
        assert (
            f"export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
            "AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1" in up.stdout
        )
        assert (home / "logs" / "emulator.log").exists()

        status = retrain(home, port, "status")
        assert (status.returncode, status.stdout.splitlines()[0]) == (0, endpoint)
        # SageMaker's rollout clocks run at the default scale (`local.clock`), and the line says so.
        assert status.stdout.splitlines()[1] == (
            "SageMaker rollout clock scale: 1/60 (SAGEMAKER_CLOCK_SCALE): a 300 s canary bake takes 5 s, "
            "a 60 s alarm period 1 s"
        )
        clients = LocalAws(StateDirectory(home), port=port).clients()
        clients.client("stepfunctions").create_state_machine(
            name="kept",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn=ROLE_ARN,
        )

        refused = retrain(home, port, "reset")
        assert refused.returncode != 0 and "--yes" in refused.stderr

        stopped = retrain(home, port, "down")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert retrain(home, port, "status").returncode == 1
        assert (home / "emulator" / "state" / "stepfunctions.json").exists()

        reset = retrain(home, port, "reset", "--yes")
        assert reset.returncode == 0, reset.stderr
        assert not (home / "emulator").exists()
    finally:
        retrain(home, port, "down")


def test_an_emulator_that_ignores_sigterm_is_killed_after_the_bounded_wait(own_aws: LocalAws) -> None:
    process = own_aws.start()
    os.kill(process.pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM, as after a hung deploy
    try:
        assert own_aws.stop(timeout=1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
    assert own_aws.running() is None
    assert not own_aws.home.pid_file.exists()
    own_aws.start()  # the port and the state directory are usable again
