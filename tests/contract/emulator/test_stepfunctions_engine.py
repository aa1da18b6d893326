"""The Step Functions features the pipeline's definition uses, as the local engine runs them.

Some work in the emulator as shipped (pinned here so an upgrade cannot break them unnoticed); the
rest are fixed by `StepFunctionsFixes` (RedriveCount, TimeoutSecondsPath, MaxDelaySeconds and
JitterStrategy, IsPresent on null).
"""

from __future__ import annotations

import json
import random
import threading

import pytest
from botocore.exceptions import ClientError

from local.emulator.stepfunctions import RetryBackoff
from tests.support.emulator import FunctionFactory, StateMachineRunner
from tests.support.polling import wait_until

pytestmark = pytest.mark.local

FAILS_TWICE = """
import boto3, os

def handler(event, context):
    # Counts its calls in a DynamoDB-free way: an S3 object per attempt.
    s3 = boto3.client("s3")
    key = "attempt-" + str(len(s3.list_objects_v2(Bucket=event["bucket"]).get("Contents", [])))
    s3.put_object(Bucket=event["bucket"], Key=key, Body=b"x")
    if key != "attempt-2":
        raise ConnectionError("flaky")
    return {"attempts": 3}
"""

STORES_TOKEN = """
import boto3

def handler(event, context):
    boto3.client("s3").put_object(Bucket=event["bucket"], Key="token", Body=event["token"].encode())
    return {}
"""


def test_context_object_intrinsics_and_result_selector(machines: StateMachineRunner) -> None:
    machine = machines.create(
        {
            "StartAt": "Context",
            "States": {
                "Context": {
                    "Type": "Pass",
                    "Parameters": {
                        "name.$": "$$.Execution.Name",
                        "id.$": "$$.Execution.Id",
                        "start.$": "$$.Execution.StartTime",
                        "input.$": "$$.Execution.Input",
                        "redrives.$": "$$.Execution.RedriveCount",
                        "label.$": "States.Format('run {} of {}', $$.Execution.Name, $.pipeline)",
                        "text.$": "States.JsonToString($.payload)",
                        "parsed.$": "States.StringToJson('{\"a\": 1}')",
                        "next.$": "States.MathAdd($.count, 1)",
                        "list.$": "States.Array($.pipeline, $.count)",
                    },
                    "ResultPath": "$.context",
                    "Next": "Select",
                },
                "Select": {
                    "Type": "Pass",
                    "Parameters": {"Payload": {"kept": 1, "dropped": 2}, "StatusCode": 200},
                    "ResultSelector": {"kept.$": "$.Payload.kept"},
                    "ResultPath": "$.selected",
                    "End": True,
                },
            },
        }
    )
    execution = machines.wait(
        machines.start(machine, {"pipeline": "fraud", "payload": {"b": [1, 2]}, "count": 41}, name="run-7")
    )
    assert execution.status == "SUCCEEDED", execution.cause
    context = execution.output["context"]
    assert context["name"] == "run-7"
    assert context["id"] == execution.arn
    assert context["start"].endswith("Z") and "T" in context["start"]
    assert context["input"] == {"pipeline": "fraud", "payload": {"b": [1, 2]}, "count": 41}
    assert context["redrives"] == 0
    assert context["label"] == "run run-7 of fraud"
    assert json.loads(context["text"]) == {"b": [1, 2]}
    assert context["parsed"] == {"a": 1}
    assert context["next"] == 42
    assert context["list"] == ["fraud", 41]
    assert execution.output["selected"] == {"kept": 1}


def test_choice_is_present_counts_a_null_field_as_present(machines: StateMachineRunner) -> None:
    definition = {
        "StartAt": "Has?",
        "States": {
            "Has?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.override", "IsPresent": True, "Next": "Present"}],
                "Default": "Absent",
            },
            "Present": {"Type": "Pass", "Result": "present", "End": True},
            "Absent": {"Type": "Pass", "Result": "absent", "End": True},
        },
    }
    machine = machines.create(definition)
    outputs = [
        machines.wait(machines.start(machine, given)).output
        for given in ({"override": None}, {"x": 1}, {"override": 3})
    ]
    assert outputs == ["present", "absent", "present"]


def test_wait_seconds_path_and_fail_error_and_cause_paths(machines: StateMachineRunner) -> None:
    execution = machines.run(
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Fail"},
                "Fail": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"},
            },
        },
        {"seconds": 1, "error": "DeploymentRolledBack", "cause": "alarm fraud-detector-invocation-errors fired"},
    )
    assert execution.status == "FAILED"
    assert (execution.error, execution.cause) == (
        "DeploymentRolledBack",
        "alarm fraud-detector-invocation-errors fired",
    )
    assert execution.events("WaitStateEntered") and execution.events("WaitStateExited")


def test_retry_with_full_jitter_and_max_delay(
    functions: FunctionFactory, machines: StateMachineRunner, aws_clients, unique_name: str
) -> None:
    aws_clients.client("s3").create_bucket(Bucket=unique_name)
    arn = functions.create("flaky", FAILS_TWICE)
    # Without MaxDelaySeconds these retries would wait 30 + 60 seconds: the bounded wait catches that.
    execution = machines.run(
        {
            "StartAt": "Flaky",
            "States": {
                "Flaky": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload": {"bucket": unique_name}},
                    "ResultSelector": {"attempts.$": "$.Payload.attempts"},
                    "Retry": [
                        {
                            "ErrorEquals": ["ConnectionError"],
                            "IntervalSeconds": 30,
                            "BackoffRate": 2.0,
                            "MaxAttempts": 3,
                            "MaxDelaySeconds": 1,
                            "JitterStrategy": "FULL",
                        }
                    ],
                    "End": True,
                }
            },
        },
        timeout=20,
    )
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"attempts": 3}
    assert len(execution.events("TaskFailed")) == 2


def test_retry_backoff_follows_aws() -> None:
    backoff = RetryBackoff(random.Random(7))
    retrier = {"IntervalSeconds": 2, "BackoffRate": 3.0, "MaxDelaySeconds": 10}
    assert [backoff.delay(retrier, n) for n in range(4)] == [2.0, 6.0, 10.0, 10.0]
    jittered = [backoff.delay({**retrier, "JitterStrategy": "FULL"}, 3) for _ in range(50)]
    assert all(0.0 <= delay <= 10.0 for delay in jittered)
    assert len(set(jittered)) > 40


def callback_definition(function_arn: str, bucket: str) -> dict[str, object]:
    return {
        "StartAt": "RequestApproval",
        "States": {
            "RequestApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": function_arn,
                    "Payload": {"token.$": "$$.Task.Token", "bucket": bucket},
                },
                "TimeoutSecondsPath": "$.timeout",
                "ResultPath": "$.approval",
                "Catch": [{"ErrorEquals": ["ApprovalRejected"], "ResultPath": "$.rejection", "Next": "Rejected"}],
                "End": True,
            },
            "Rejected": {"Type": "Pass", "End": True},
        },
    }


def test_wait_for_task_token_with_send_task_success_and_failure(
    functions: FunctionFactory, machines: StateMachineRunner, aws_clients, unique_name: str
) -> None:
    s3, sfn = aws_clients.client("s3"), aws_clients.client("stepfunctions")
    s3.create_bucket(Bucket=unique_name)
    machine = machines.create(callback_definition(functions.create("store", STORES_TOKEN), unique_name))

    def token() -> str:
        return wait_until(
            lambda: (
                s3.list_objects_v2(Bucket=unique_name).get("KeyCount")
                and s3.get_object(Bucket=unique_name, Key="token")["Body"].read().decode()
            ),
            20,
            "the task token",
        )

    approved = machines.start(machine, {"timeout": 60})
    sfn.send_task_success(taskToken=token(), output=json.dumps({"approved_by": "lead@example.com"}))
    execution = machines.wait(approved)
    assert execution.status == "SUCCEEDED"
    assert execution.output["approval"] == {"approved_by": "lead@example.com"}

    s3.delete_object(Bucket=unique_name, Key="token")
    rejected = machines.start(machine, {"timeout": 60})
    sfn.send_task_failure(taskToken=token(), error="ApprovalRejected", cause="metrics too close to the champion")
    execution = machines.wait(rejected)
    assert execution.status == "SUCCEEDED"
    assert execution.output["rejection"] == {"Error": "ApprovalRejected", "Cause": "metrics too close to the champion"}


NOTIFY_FAILS = """
class NotificationFailed(Exception):
    pass


def handler(event, context):
    raise NotificationFailed("topic arn:aws:sns:us-east-1:000000000000:leads does not exist")
"""


def test_a_failing_callback_lambda_fails_the_state_at_once(
    functions: FunctionFactory, machines: StateMachineRunner, unique_name: str
) -> None:
    machine = machines.create(callback_definition(functions.create("notify", NOTIFY_FAILS), unique_name))
    # The state must not wait the 300 s for a token the failed function never handed out.
    execution = machines.wait(machines.start(machine, {"timeout": 300}), timeout=20)
    assert execution.status == "FAILED"
    assert execution.error == "NotificationFailed"
    assert json.loads(execution.cause or "{}")["errorMessage"].startswith("topic arn:aws:sns")


def test_timeout_seconds_path_times_the_callback_out(
    functions: FunctionFactory, machines: StateMachineRunner, aws_clients, unique_name: str
) -> None:
    aws_clients.client("s3").create_bucket(Bucket=unique_name)
    machine = machines.create(callback_definition(functions.create("store", STORES_TOKEN), unique_name))
    # Nobody answers: the state must end after the 2 s the input asks for, not the default year.
    execution = machines.wait(machines.start(machine, {"timeout": 2}), timeout=20)
    assert execution.status == "FAILED"
    assert execution.error == "States.Timeout"


def test_a_bad_timeout_seconds_path_fails_by_name(machines: StateMachineRunner) -> None:
    execution = machines.run(
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "nothing", "Payload": {}},
                    "TimeoutSecondsPath": "$.timeout",
                    "End": True,
                }
            },
        },
        {"timeout": "soon"},
    )
    assert execution.status == "FAILED"
    assert execution.error == "States.Runtime"
    assert "TimeoutSecondsPath" in (execution.cause or "")


def test_executions_run_concurrently(machines: StateMachineRunner) -> None:
    machine = machines.create({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "End": True}}})
    arns: list[str] = []
    starters = [threading.Thread(target=lambda: arns.append(machines.start(machine))) for _ in range(3)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    assert all(machines.wait(arn, timeout=15).status == "SUCCEEDED" for arn in arns)


def test_an_execution_input_over_256_kb_is_refused(machines: StateMachineRunner, aws_clients) -> None:
    # botocore `stepfunctions/2016-11-23/service-2.json`: StartExecution's input (SensitiveData) is at most
    # 262144 characters; the service refuses more with the model's constraint message.
    machine = machines.create({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    sfn = aws_clients.client("stepfunctions")
    too_large = json.dumps({"detail": "x" * 262_144})
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine, input=too_large)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 262144" in refused.value.response["Error"]["Message"]
    just_fits = json.dumps({"detail": "x" * (262_144 - 20)})
    assert machines.wait(machines.start(machine, json.loads(just_fits))).status == "SUCCEEDED"
