"""The fault matrix at contract level (docs/fault-matrix.md, cells **S**): every Task state of the committed
definition, alone, on the local Step Functions engine, each fault injected through the local AWS's fault rules.

Each case runs one Task state as it is committed (Resource, Parameters, ResultSelector, ResultPath, Retry,
Catch, TimeoutSeconds) in a small state machine: the Choice and Pass states its Next and Catch routes reach
are kept as committed, and the first state of any other kind on a route (a Task, Wait, Succeed or Fail) is a
marker, a Pass state of that name recording that the route reached it. The state's services are the local
AWS's own, with real resources (a package group, a registered package, models, endpoint configs, an
endpoint InService, a DynamoDB table, a Glue Python shell job, trained and evaluated jobs); a Lambda state
invokes a small function standing in for the pipeline's (it answers every field the state's ResultSelector
reads; the pipeline's own functions are proven by the whole cycles in tests/local/).

- transient: the state's first call throttled, its second failing with a 5xx (as its service names them):
  retried, the state succeeds (its real call answered) and takes its Next route.
- permanent: AccessDeniedException in IAM's words: after the attempts the Retry allows (it names the
  optimized integrations' generic client exception, which throttling arrives as too), the Catch route the
  definition names, with the error as Step Functions reports it.
- timeout: the call hangs until the state's TimeoutSeconds fires (on the rule's faster clock):
  States.Timeout, not retried, to the Catch route.
- a domain error (Lambda states: the function fails with one of `retrain.errors`): not retried, to the
  Catch route.

The expected routes, errors and attempts are written here, not read from the definition: a Retry or Catch
removed from it fails its cases. A Task state the table has no row for fails `test_every_task_state_has_a_row`.
What this does not prove: what the routes then do (the undo's effects: tests/contract/emulator/test_undeploy.py
and the whole cycle X; the rollback branch: test_rollback_cause.py; NotifyFailure's message: the P cases).

The module runs its own local AWS with Step Functions' retry intervals scaled (SFN_WAIT_SCALE), so the
committed intervals (2 s, doubling) do not make the permanent cases wait half a minute each.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.aws import LocalAws
from local.clients import LocalClients
from local.emulator.faults import clear_rules, write_rules
from local.home import StateDirectory
from retrain.config import load_config
from retrain.contracts import ValidateInputEvent
from retrain.planning import plan_run
from retrain.state_table import PARTITION_KEY, SORT_KEY
from tests.support.definition import TASKS, definition_states
from tests.support.emulator import Execution, FunctionFactory, StateMachineRunner
from tests.support.local_aws import RunningLocalAws
from tests.support.polling import wait_until
from tests.support.sagemaker import IMAGE, INFERENCE_SCRIPT, ROLE_ARN, SageMakerWorld, targz

pytestmark = pytest.mark.local

ROOT = Path(__file__).resolve().parents[3]
STATES = definition_states()
# Retry intervals at 1/100: the committed 2 s, 4 s, 8 s, 16 s take 0.3 s in all.
WAIT_SCALE = "0.01"
# How long a faulted call hangs before the state's timer fires, whatever its TimeoutSeconds.
HANG_SECONDS = 1.0

LAMBDA_THROTTLE, LAMBDA_5XX = "Lambda.TooManyRequestsException", "Lambda.ServiceException"
LAMBDA_DENIED = "Lambda.AWSLambdaException"  # no AccessDeniedException in Lambda's model: retried (4x)
# SageMaker's optimized integrations: the Java client's generic exception for throttling, 5xx and denial alike.
SM_GENERIC = "SageMaker.AmazonSageMakerException"
SDK_THROTTLE, SDK_5XX = "SageMaker.ThrottlingException", "SageMaker.InternalFailure"
SDK_DENIED = "SageMaker.SageMakerException"  # aws-sdk: no AccessDeniedException in SageMaker's model
TIMEOUT = "States.Timeout"


@dataclass(frozen=True)
class Row:
    """A Task state's defined outcomes: its Next route (transient), the errors its transient faults fail
    with, and for a permanent fault the error, how many attempts fail with it and the route it takes."""

    succeeds_to: str
    transient: tuple[str, str]
    denied: str
    denied_attempts: int
    fails_to: str


def lambda_row(succeeds_to: str, fails_to: str = "NotifyFailure") -> Row:
    return Row(succeeds_to, (LAMBDA_THROTTLE, LAMBDA_5XX), LAMBDA_DENIED, 5, fails_to)


def optimized_row(succeeds_to: str, fails_to: str = "NotifyFailure") -> Row:
    return Row(succeeds_to, (SM_GENERIC, SM_GENERIC), SM_GENERIC, 4, fails_to)


def sdk_row(succeeds_to: str, fails_to: str = "NotifyFailure") -> Row:
    return Row(succeeds_to, (SDK_THROTTLE, SDK_5XX), SDK_DENIED, 1, fails_to)


# The matrix: each Task state's defined outcomes (docs/fault-matrix.md).
ROWS: dict[str, Row] = {
    "ValidateInput": lambda_row("CheckForNewData"),
    "CheckForNewData": lambda_row("PrepareData"),
    "PrepareData": Row(
        "TrainCandidate",
        ("Glue.ThrottlingException", "Glue.InternalServiceException"),
        "Glue.AccessDeniedException",
        1,
        "NotifyFailure",
    ),
    "TrainCandidate": optimized_row("EvaluateCandidate", fails_to="FindTrainingJob"),
    "FindTrainingJob": sdk_row("EvaluateCandidate"),
    "EvaluateCandidate": optimized_row("CompareWithChampion", fails_to="FindProcessingJob"),
    "FindProcessingJob": sdk_row("CompareWithChampion"),
    "CompareWithChampion": lambda_row("RegisterCandidate"),
    "AdvanceWatermark": Row(
        "KeptChampion",
        ("DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.InternalServerErrorException"),
        "DynamoDB.AmazonDynamoDBException",
        1,
        "NotifyFailure",
    ),
    "RegisterCandidate": sdk_row("RequestApproval"),
    # The approval's timeout rejects the candidate (its own Catch); a denied call withdraws the package
    # (marked Rejected, not left pending with no one able to answer), then fails the run.
    "RequestApproval": lambda_row("CreateModel", fails_to="WithdrawCandidate"),
    "WithdrawCandidate": sdk_row("NotifyFailure", fails_to="NotifyFailure"),
    "RejectCandidate": sdk_row("NotifyRejection"),
    # A notification that fails does not change how the run ends.
    "NotifyRejection": lambda_row("Rejected", fails_to="Rejected"),
    # The rollout before the endpoint takes the candidate: a failure is undone first.
    "CreateModel": optimized_row("CreateEndpointConfig", fails_to="FindCandidateOnEndpoint"),
    "CreateEndpointConfig": optimized_row("DescribeLiveEndpoint", fails_to="FindCandidateOnEndpoint"),
    # Any DescribeEndpoint error but a missing endpoint: EndpointLookupFailed keeps it as the run's error.
    "DescribeLiveEndpoint": sdk_row("UpdateEndpoint", fails_to="FindCandidateOnEndpoint"),
    "CreateEndpoint": optimized_row("WaitForEndpoint", fails_to="FindCandidateOnEndpoint"),
    "UpdateEndpoint": sdk_row("WaitForEndpoint", fails_to="FindCandidateOnEndpoint"),
    # From here on the endpoint may serve the candidate: nothing is undone.
    "CheckEndpoint": sdk_row("PromoteChampion"),
    "PromoteChampion": lambda_row("ScheduleMonitoring"),
    # Monitoring and the success notice are best effort: the run is promoted whatever they answer.
    "ScheduleMonitoring": sdk_row("NotifySuccess", fails_to="NotifySuccess"),
    "CreateMonitoringSchedule": sdk_row("NotifySuccess", fails_to="NotifySuccess"),
    "NotifySuccess": lambda_row("Promoted", fails_to="Promoted"),
    "NotifyFailure": lambda_row("PipelineFailed", fails_to="PipelineFailed"),
    # The rollback branch: an unreadable cause is said so; the run still fails DeploymentRolledBack.
    "ReadRollbackCause": sdk_row("RecordRollback", fails_to="RecordRollback"),
    "RecordRollback": sdk_row("DeploymentRolledBack", fails_to="DeploymentRolledBack"),
    # The undo: each step best effort, the run fails with the original error.
    "FindCandidateOnEndpoint": sdk_row("RejectUndeployedCandidate", fails_to="NotifyFailure"),
    "RejectUndeployedCandidate": sdk_row("DeleteCandidateEndpointConfig", fails_to="DeleteCandidateEndpointConfig"),
    "DeleteCandidateEndpointConfig": sdk_row("DeleteCandidateModel", fails_to="DeleteCandidateModel"),
    "DeleteCandidateModel": sdk_row("NotifyFailure", fails_to="NotifyFailure"),
}
# A timeout's route where it differs from a permanent fault's.
TIMEOUT_ROUTE = {"RequestApproval": "RejectCandidate"}
# The domain errors (retrain.errors) the pipeline's functions fail with: every function parses its event
# (tasks/_events.py: InvalidTaskInput; ValidateInput's own input: InvalidExecutionInput). No Retry names them.
DOMAIN_ERRORS = {
    name: "InvalidExecutionInput" if name == "ValidateInput" else "InvalidTaskInput"
    for name, row in ROWS.items()
    if row.denied == LAMBDA_DENIED
}

# --- the stand-ins for the pipeline's functions ---------------------------------------------------------

# Answers every field the Lambda states' ResultSelectors read, routing each state's Choice onward.
ANSWERS = """
import json

def handler(event, context):
    error = event.get("error") or {}
    data = {
        "enough": True, "keep_waiting": False, "settling": False, "checks_done": 1, "settle_checks_done": 0,
        "new_objects": 1, "new_bytes": 10, "previous_watermark": "", "new_watermark": "2025-01-31T00:00:00Z",
        "window_start": "2025-01-01T00:00:00Z", "window_end": "2025-01-31T00:00:00Z",
        "champion_model_uri": "none", "delivery_errors": {"until": ""}, "last_landed_at": "",
    }
    return {
        **data,
        "input": event.get("input"), "run": event.get("run"), "data": data,
        "promote": True, "metric": "average_precision", "candidate": {}, "champion": {}, "reasons": [],
        "report_uri": "s3://none/report.html",
        "error": error.get("Error", ""), "cause": error.get("Cause", ""), "message_id": "m-1",
        "model_data_url": "s3://none/model.tar.gz", "model_package_arn": "arn:pkg", "model_name": "m",
        "endpoint_config_name": "c", "execution_name": "e", "promoted_at": "2025-01-31T00:00:00Z", "metrics": {},
    }
"""

# Answers the approval request with its task token, as the approver's reply does.
APPROVES = """
import json
import boto3

def handler(event, context):
    answer = {"approved_by": "lead@example.com", "reason": "better", "approved_at": "2025-01-31T00:00:00Z"}
    boto3.client("stepfunctions").send_task_success(taskToken=event["task_token"], output=json.dumps(answer))
    return {}
"""

TRAIN = """
import json, os
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
    json.dump({"version": "trained"}, out)
print("validation:roc_auc=0.9; validation:average_precision=0.8;")
"""

EVALUATE = """
import argparse, json, os
parser = argparse.ArgumentParser()
parser.add_argument("--output-dir")
args, _ = parser.parse_known_args()
os.makedirs(args.output_dir, exist_ok=True)
with open(os.path.join(args.output_dir, "evaluation.json"), "w") as out:
    json.dump({"average_precision": 0.8}, out)
"""

PREPARE = "print('prepared')\n"


# --- the module's local AWS and resources ----------------------------------------------------------------


@dataclass
class World:
    name: str
    clients: LocalClients
    aws: LocalAws
    sagemaker: SageMakerWorld
    functions: dict[str, str]
    table: str
    group: str
    glue_job: str
    live_endpoint: str
    live_config: str
    update_endpoint: str
    training_prefix: str
    processing_prefix: str
    model_data_url: str

    @property
    def sm(self) -> Any:
        return self.sagemaker.sm

    def package(self) -> str:
        """A package of the group, PendingManualApproval."""
        return str(
            self.sm.create_model_package(
                ModelPackageGroupName=self.group,
                ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": self.model_data_url}],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            )["ModelPackageArn"]
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    aws = LocalAws(
        StateDirectory(tmp_path_factory.mktemp("matrix-home")), port=0, environment={"SFN_WAIT_SCALE": WAIT_SCALE}
    )
    process = aws.start()
    try:
        clients = RunningLocalAws(aws, process).clients()
        yield _world(aws, clients, process.endpoint)
    finally:
        aws.stop()


def _world(aws: LocalAws, clients: LocalClients, endpoint_url: str) -> World:
    name = f"m-{uuid.uuid4().hex[:8]}"
    bucket = f"{name}-data"
    sagemaker = SageMakerWorld(endpoint_url, bucket)
    s3 = clients.client("s3")
    s3.create_bucket(Bucket=bucket)
    sagemaker.put("code/inference.tar.gz", targz({"inference.py": INFERENCE_SCRIPT}))
    sagemaker.put("code/sourcedir.tar.gz", targz({"train.py": TRAIN, "evaluate.py": EVALUATE}))
    sagemaker.put("code/prepare.py", PREPARE.encode())
    for split in ("train", "validation", "test"):
        sagemaker.put(f"processed/{name}/{split}/part-0.csv", b"amount,is_fraud\n1.0,0\n")
    model_data_url = sagemaker.put(f"models/{name}/model.tar.gz", targz({"model.json": json.dumps({"version": "v"})}))

    factory = FunctionFactory(clients, name)
    answers = factory.create("answers", ANSWERS)
    functions = {key: answers for key in ("ValidateInput", "CheckForNewData", "CompareWithChampion", "PromoteChampion")}
    functions["Notify"] = answers
    functions["RequestApproval"] = factory.create("approves", APPROVES)

    table = f"{name}-state"
    keys = ((PARTITION_KEY, "HASH"), (SORT_KEY, "RANGE"))
    clients.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    group = f"{name}-group"
    sagemaker.sm.create_model_package_group(ModelPackageGroupName=group)
    glue_job = f"{name}-prepare"
    clients.client("glue").create_job(
        Name=glue_job,
        Role=ROLE_ARN,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{bucket}/code/prepare.py", "PythonVersion": "3.9"},
        MaxCapacity=0.0625,
    )

    # An endpoint InService (the champion's), and one more for the update to take.
    live, update = f"{name}-live", f"{name}-upd"
    sagemaker.create_model(f"{name}-champion", "champion")
    sagemaker.create_config(f"{live}-config", f"{name}-champion", instances=2)
    sagemaker.create_config(f"{update}-config", f"{name}-champion", instances=2)
    sagemaker.sm.create_endpoint(EndpointName=live, EndpointConfigName=f"{live}-config")
    sagemaker.sm.create_endpoint(EndpointName=update, EndpointConfigName=f"{update}-config")

    world = World(
        name,
        clients,
        aws,
        sagemaker,
        functions,
        table,
        group,
        glue_job,
        live,
        f"{live}-config",
        update,
        f"{name}-train",
        f"{name}-eval",
        model_data_url,
    )
    # A finished training job and processing job, for the Find<Kind>Job states to find (their name: <prefix>-0).
    run = plan(world, f"{name}-jobs", live)
    run["names"]["training_job_prefix"], run["names"]["processing_job_prefix"] = (
        world.training_prefix,
        world.processing_prefix,
    )
    train, evaluate = substituted("TrainCandidate", world), substituted("EvaluateCandidate", world)
    for state in (train, evaluate):
        state.pop("Catch")
    train["Next"], evaluate["End"] = "EvaluateCandidate", True
    evaluate.pop("Next")
    jobs = {"StartAt": "TrainCandidate", "States": {"TrainCandidate": train, "EvaluateCandidate": evaluate}}
    execution = StateMachineRunner(clients, name).run(jobs, state_input(world, run), timeout=180)
    assert execution.status == "SUCCEEDED", execution.cause
    for endpoint in (live, update):
        sagemaker.endpoint_status(endpoint, "InService", timeout=120)
    return world


def plan(world: World, execution_name: str, endpoint: str) -> dict[str, Any]:
    """The run plan ValidateInput makes for an execution of that name (the pipeline's own planning)."""
    bucket = world.sagemaker.bucket
    event = ValidateInputEvent.model_validate(
        {
            "execution_name": execution_name,
            "execution_id": f"arn:aws:states:us-east-1:000000000000:execution:retrain:{execution_name}",
            "start_time": "2025-01-31T10:31:00Z",
            "input": {},
            "resources": {
                "bucket": bucket,
                "state_table": world.table,
                "sagemaker_role_arn": ROLE_ARN,
                "image_uri": IMAGE,
                "training_code_uri": f"s3://{bucket}/code/sourcedir.tar.gz",
                "model_package_group": world.group,
                "endpoint_name": endpoint,
                "code_version": "abc1234",
            },
        }
    )
    run = plan_run(event, load_config(ROOT / "retrain.toml"), "us-east-1").model_dump(mode="json")
    # The module's prepared data, whatever the execution's name.
    run["data"]["processed_uri"] = f"s3://{bucket}/processed/{world.name}/"
    return run


def state_input(world: World, run: dict[str, Any], package: str = "arn:none") -> dict[str, Any]:
    """What a Task state reads, as the states before it left it."""
    evaluation = run["evaluation"]["output_uri"]
    return {
        "input": {},
        "run": run,
        "data": {
            "window_start": "2025-01-01T00:00:00Z",
            "window_end": "2025-01-31T00:00:00Z",
            "new_watermark": "2025-01-31T00:00:00Z",
            "champion_model_uri": "none",
            "checks_done": 1,
            "settle_checks_done": 0,
            "delivery_errors": {"until": ""},
        },
        "attempts": {"training": {"redrive_count": 0}, "processing": {"redrive_count": 0}},
        "training": {"model_data_url": world.model_data_url, "job_name": "t", "status": "Completed"},
        "evaluation": {
            "evaluation_uri": f"{evaluation}/evaluation.json",
            "statistics_uri": f"{evaluation}/baseline/statistics.json",
            "constraints_uri": f"{evaluation}/baseline/constraints.json",
            "job_name": "e",
            "status": "Completed",
        },
        "decision": {"promote": True, "metric": "average_precision", "report_uri": f"{evaluation}/report.html"},
        "package": {"arn": package},
        "approval": {"approved_by": "lead@example.com", "reason": "better", "approved_at": "2025-01-31T00:00:00Z"},
        "error": {"Error": "SageMaker.AmazonSageMakerException", "Cause": "the rollout's error"},
        "deployment": {"wait": {"polls": 0}, "rollback": {"cause": "an alarm"}},
    }


# --- the state machine of one case -----------------------------------------------------------------------


def substituted(name: str, world: World, functions: dict[str, str] | None = None) -> dict[str, Any]:
    """The committed state with the deployment's substitutions filled in (the stack's own, by name)."""
    functions = functions or world.functions
    values = {
        "GlueJobName": world.glue_job,
        "NotifyFunctionArn": functions["Notify"],
        "DataBucketName": world.sagemaker.bucket,
        "StateTableName": world.table,
        "SageMakerRoleArn": ROLE_ARN,
        "SklearnImageUri": IMAGE,
        "TrainingCodeUri": f"s3://{world.sagemaker.bucket}/code/sourcedir.tar.gz",
        "ModelPackageGroupName": world.group,
        "EndpointName": world.live_endpoint,
        "CodeVersion": "abc1234",
        **{f"{state}FunctionArn": arn for state, arn in functions.items()},
    }
    text = re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], json.dumps(STATES[name]))
    return dict(json.loads(text))


def routes(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    return [target for target in targets if target]


def case_machine(name: str, world: World, case: str) -> dict[str, Any]:
    """The Task state, the Choice and Pass states its routes reach, and a marker for anything else."""
    functions = dict(world.functions)
    if case == "timeout":
        functions["RequestApproval"] = functions["Notify"]  # no one answers the approval
    machine: dict[str, Any] = {name: substituted(name, world, functions)}
    pending = routes(machine[name])
    while pending:
        target = pending.pop()
        if target in machine:
            continue
        committed = STATES[target]
        if committed["Type"] in ("Choice", "Pass"):
            machine[target] = committed
            pending += routes(committed)
        else:
            machine[target] = {"Type": "Pass", "Result": target, "ResultPath": "$.reached", "End": True}
    return {"StartAt": name, "States": machine}


def case_input(name: str, world: World, case: str) -> dict[str, Any]:
    """What the state reads, with the resources its real call needs."""
    execution_name = f"{case}-{uuid.uuid4().hex[:8]}"
    run = plan(world, execution_name, world.live_endpoint)
    deployment = run["deployment"]
    package = world.package() if name in PACKAGE_STATES else "arn:none"
    if name in ("FindTrainingJob", "FindProcessingJob"):
        run["names"]["training_job_prefix"] = world.training_prefix
        run["names"]["processing_job_prefix"] = world.processing_prefix
    if name == "CheckEndpoint":
        run["names"]["endpoint_config"] = world.live_config  # InService on the run's config: promote
    if name == "CreateEndpoint":
        deployment["endpoint_name"] = f"{execution_name}-ep"
    if name == "UpdateEndpoint":
        deployment["endpoint_name"] = world.update_endpoint
    if name in ("CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint", "DeleteCandidateModel"):
        world.sagemaker.create_model(run["names"]["model"], "candidate")
    if name in ("CreateEndpoint", "UpdateEndpoint", "DeleteCandidateEndpointConfig"):
        world.sagemaker.create_config(run["names"]["endpoint_config"], f"{world.name}-champion", instances=2)
    if name in ("ScheduleMonitoring", "CreateMonitoringSchedule"):
        # A schedule of its own per case (the pipeline names one per endpoint).
        deployment["monitoring"]["schedule_name"] = f"{execution_name}-dq"
    if name == "ScheduleMonitoring":
        world.sm.create_monitoring_schedule(
            MonitoringScheduleName=deployment["monitoring"]["schedule_name"],
            MonitoringScheduleConfig=deployment["monitoring"]["schedule_config"],
        )
    given = state_input(world, run, package)
    return given


PACKAGE_STATES = (
    "CreateModel",
    "RejectCandidate",
    "RecordRollback",
    "RejectUndeployedCandidate",
    "RequestApproval",
    "WithdrawCandidate",
)


def rules(name: str, case: str, given: dict[str, Any]) -> list[dict[str, Any]]:
    if case == "transient":
        return [{"state": name, "fault": "throttle", "count": 1}, {"state": name, "fault": "5xx", "count": 1}]
    if case == "permanent":
        return [{"state": name, "fault": "permanent"}]
    if case == "domain":
        return [
            {"state": name, "fault": "permanent", "error": DOMAIN_ERRORS[name], "cause": "event.run: Field required"}
        ]
    committed = STATES[name]
    # RequestApproval's timeout is the run's (TimeoutSecondsPath).
    seconds = committed.get("TimeoutSeconds") or given["run"]["approval_timeout_seconds"]
    scale = HANG_SECONDS / seconds
    return [{"state": name, "fault": "timeout", "timeout_scale": scale}]


def reached(execution: Execution) -> str | None:
    output = execution.output or {}
    return output.get("reached") if isinstance(output, dict) else None


def causes(execution: Execution) -> list[str]:
    return [event["taskFailedEventDetails"].get("cause", "") for event in execution.events("TaskFailed")]


def failures(execution: Execution) -> list[str]:
    return [event["taskFailedEventDetails"]["error"] for event in execution.events("TaskFailed")]


def caught(execution: Execution, error: str) -> bool:
    """Whether the route's input carries the error (at the Catch's ResultPath)."""
    return f'"Error": "{error}"' in json.dumps(execution.output)


@pytest.fixture
def faults(world: World) -> Iterator[StateDirectory]:
    yield world.aws.home
    clear_rules(world.aws.home)


# --- the tests -------------------------------------------------------------------------------------------


def test_every_task_state_has_a_row() -> None:
    assert sorted(TASKS) == sorted(ROWS), "a Task state of the definition without its row in the matrix (or a row left)"


def run_case(name: str, case: str, world: World, home: StateDirectory) -> Execution:
    given = case_input(name, world, case)
    write_rules(home, rules(name, case, given))
    machines = StateMachineRunner(world.clients, f"{name[:30]}-{case[:4]}-{uuid.uuid4().hex[:6]}")
    timeout = 180 if name in ("TrainCandidate", "EvaluateCandidate", "PrepareData") else 60
    return machines.run(case_machine(name, world, case), given, timeout=timeout)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_throttle_then_a_5xx_are_retried_and_the_state_succeeds(
    name: str, world: World, faults: StateDirectory
) -> None:
    row = ROWS[name]
    execution = run_case(name, "transient", world, faults)
    assert (execution.status, reached(execution)) == ("SUCCEEDED", row.succeeds_to), (
        execution.cause,
        causes(execution),
    )
    assert failures(execution) == list(row.transient)
    assert len(execution.events("TaskSucceeded")) == 1, "the third call got past the faults and its service answered"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_permanent_fault_takes_the_catch_route_after_the_retries(
    name: str, world: World, faults: StateDirectory
) -> None:
    row = ROWS[name]
    execution = run_case(name, "permanent", world, faults)
    assert (execution.status, reached(execution)) == ("SUCCEEDED", row.fails_to), (
        execution.error,
        execution.cause,
        failures(execution),
    )
    assert failures(execution) == [row.denied] * row.denied_attempts
    assert caught(execution, row.denied), execution.output


@pytest.mark.parametrize("name", sorted(ROWS))
def test_a_timeout_is_not_retried_and_takes_the_catch_route(name: str, world: World, faults: StateDirectory) -> None:
    row = ROWS[name]
    execution = run_case(name, "timeout", world, faults)
    route = TIMEOUT_ROUTE.get(name, row.fails_to)
    assert (execution.status, reached(execution)) == ("SUCCEEDED", route), (
        execution.error,
        execution.cause,
        failures(execution),
    )
    assert failures(execution) == [TIMEOUT]
    assert caught(execution, TIMEOUT), execution.output


@pytest.mark.parametrize("name", sorted(DOMAIN_ERRORS))
def test_a_domain_error_of_a_function_is_not_retried_and_takes_the_catch_route(
    name: str, world: World, faults: StateDirectory
) -> None:
    execution = run_case(name, "domain", world, faults)
    assert (execution.status, reached(execution)) == ("SUCCEEDED", ROWS[name].fails_to), (
        execution.error,
        execution.cause,
        failures(execution),
    )
    assert failures(execution) == [DOMAIN_ERRORS[name]]
    assert caught(execution, DOMAIN_ERRORS[name]), execution.output


# The Lambda service's transient errors, as Step Functions reports them (developer guide, "Handle Lambda service
# exceptions": invoking Lambda "results in a 500 error, such as ClientExecutionTimeoutException,
# ServiceException, AWSLambdaException, or SdkClientException"; the CDK's LambdaInvoke retries the same).
LAMBDA_SERVICE_EXCEPTIONS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
)


@pytest.mark.parametrize("name", sorted(DOMAIN_ERRORS))
def test_every_lambda_service_exception_is_retried_and_the_state_succeeds(
    name: str, world: World, faults: StateDirectory
) -> None:
    given = case_input(name, world, "service")
    write_rules(
        faults,
        [
            {"state": name, "fault": "permanent", "error": error, "cause": "500 from the Lambda service", "count": 1}
            for error in LAMBDA_SERVICE_EXCEPTIONS
        ],
    )
    machines = StateMachineRunner(world.clients, f"{name[:30]}-svc-{uuid.uuid4().hex[:6]}")
    execution = machines.run(case_machine(name, world, "service"), given, timeout=60)
    assert (execution.status, reached(execution)) == ("SUCCEEDED", ROWS[name].succeeds_to), (
        execution.cause,
        causes(execution),
    )
    assert failures(execution) == list(LAMBDA_SERVICE_EXCEPTIONS)


# --- a redrive after the job finished --------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    """A job state of the run, the lookup after it, the state before it, where the run goes once the job is
    done, where the job's result is kept and its name prefix in the run plan."""

    job: str
    lookup: str
    before: str
    then: str
    result: str
    prefix: str

    def jobs(self, world: World, prefix: str) -> dict[str, str]:
        """The kind's jobs of the run, by name: their status."""
        if self.job == "TrainCandidate":
            listed = world.sm.list_training_jobs(NameContains=prefix)["TrainingJobSummaries"]
            return {job["TrainingJobName"]: job["TrainingJobStatus"] for job in listed}
        listed = world.sm.list_processing_jobs(NameContains=prefix)["ProcessingJobSummaries"]
        return {job["ProcessingJobName"]: job["ProcessingJobStatus"] for job in listed}


TRAINING = JobKind("TrainCandidate", "FindTrainingJob", "PrepareData", "EvaluateCandidate", "training", "training")
PROCESSING = JobKind(
    "EvaluateCandidate", "FindProcessingJob", "TrainCandidate", "CompareWithChampion", "evaluation", "processing"
)


def job_states(start: str, world: World, real: tuple[str, ...]) -> dict[str, Any]:
    """The committed states from `start` on: the `real` Task states as committed, the Choice, Pass and Wait
    states their routes reach, and a marker for anything else."""
    machine: dict[str, Any] = {}
    pending = [start]
    while pending:
        target = pending.pop()
        if target in machine:
            continue
        committed = STATES[target]
        if target in real:
            machine[target] = substituted(target, world)
        elif committed["Type"] in ("Choice", "Pass", "Wait"):
            machine[target] = committed
        else:
            machine[target] = {"Type": "Pass", "Result": target, "ResultPath": "$.reached", "End": True}
            continue
        pending += routes(machine[target])
    return {"StartAt": start, "States": machine}


def stopped_while_looking_up_the_job(
    world: World, faults: StateDirectory, kind: JobKind, run: dict[str, Any], name: str
) -> str:
    """Runs the committed states of the kind's job: the job ends, its answer is lost, the retries meet the
    name taken and the lookup hangs; the run is stopped there (as a stop, a timeout or a crash of the local
    AWS leaves it). Answers the execution, ABORTED, with the faults cleared."""
    sfn = world.clients.client("stepfunctions")
    write_rules(
        faults,
        [
            {"state": kind.job, "fault": "permanent", "after": True, "count": 1},
            {"state": kind.lookup, "fault": "timeout"},
        ],
    )
    machines = StateMachineRunner(world.clients, f"redrive-{kind.result}-{uuid.uuid4().hex[:6]}")
    start = STATES[kind.before]["Next"]  # the states the run starts its job with, from the first on
    machine = machines.create(job_states(start, world, (kind.job, kind.lookup)))
    arn = machines.start(machine, state_input(world, run), name=name)

    def looking_up() -> bool:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return any(
            event["type"] == "TaskStateEntered" and event["stateEnteredEventDetails"]["name"] == kind.lookup
            for event in events
        )

    wait_until(looking_up, 180, f"the run to enter {kind.lookup}")
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped while looking up the job")
    assert machines.wait(arn).status == "ABORTED"
    clear_rules(faults)
    return arn


def redriven(world: World, arn: str) -> Execution:
    world.clients.client("stepfunctions").redrive_execution(executionArn=arn)
    return StateMachineRunner(world.clients, "redriven").wait(arn, timeout=180)


def a_run(world: World, kind: JobKind) -> tuple[str, dict[str, Any], str]:
    """An execution name, its run plan and the prefix of the kind's job names."""
    name = f"redrive-{uuid.uuid4().hex[:8]}"
    run = plan(world, name, world.live_endpoint)
    return name, run, run["names"][f"{kind.prefix}_job_prefix"]


def assert_went_on(done: Execution, kind: JobKind) -> None:
    """The redriven run got past the kind's job, to the state after it."""
    assert (done.status, reached(done)) == ("SUCCEEDED", kind.then), (done.cause, failures(done))


@pytest.mark.parametrize("kind", [TRAINING, PROCESSING], ids=["training", "processing"])
def test_a_run_stopped_after_its_job_finished_is_redriven_without_running_the_job_again(
    kind: JobKind, world: World, faults: StateDirectory
) -> None:
    # A redrive resumes at the lookup (developer guide, "Redriving executions"): it must take the job the
    # first attempt started, not look for a job of the redrive's count and fail, nor start a second one.
    name, run, prefix = a_run(world, kind)
    done = redriven(world, stopped_while_looking_up_the_job(world, faults, kind, run, name))

    assert_went_on(done, kind)
    assert done.output[kind.result]["job_name"] == f"{prefix}-0"
    assert done.output[kind.result]["status"] == "Completed"
    assert kind.jobs(world, prefix) == {f"{prefix}-0": "Completed"}, "one job of the kind for the run"
    if kind == TRAINING:
        assert done.output["training"]["model_data_url"].endswith(f"/{prefix}-0/output/model.tar.gz")


def test_a_redriven_run_whose_training_job_failed_trains_once_more_under_the_new_attempt(
    world: World, faults: StateDirectory
) -> None:
    # The same stop, but the first attempt's job Failed (its code raised): the redrive finds it Failed and,
    # the run being redriven since the job started, records the new attempt and trains under its name.
    name, run, prefix = a_run(world, TRAINING)
    code_key = f"code/{name}/sourcedir.tar.gz"
    code_uri = world.sagemaker.put(code_key, targz({"train.py": "raise SystemExit('no data today')\n"}))
    run["training"]["hyperparameters"]["sagemaker_submit_directory"] = json.dumps(code_uri)
    arn = stopped_while_looking_up_the_job(world, faults, TRAINING, run, name)
    assert TRAINING.jobs(world, prefix) == {f"{prefix}-0": "Failed"}
    world.sagemaker.put(code_key, targz({"train.py": TRAIN, "evaluate.py": EVALUATE}))

    done = redriven(world, arn)

    assert_went_on(done, TRAINING)
    assert done.output["training"]["job_name"] == f"{prefix}-1"
    assert done.output["attempts"]["training"] == {"redrive_count": 1}
    assert TRAINING.jobs(world, prefix) == {f"{prefix}-0": "Failed", f"{prefix}-1": "Completed"}
