"""The fault matrix (docs/fault-matrix.md): faults injected into the Task states' service calls through the
local AWS's fault rules (`local/emulator/faults.py`), never by editing the pipeline, each with its defined
outcome.

- Transient (a throttle, then a 5xx, on every Task state the run reaches): retried, and the run still
  ends Promoted; the `.sync` job states lose their job's answer once more after it finished, and their
  retry finds the job by name (Find<Kind>Job) instead of running it twice.
- Permanent (AccessDeniedException in IAM's words, or a named domain error) and timeout (the call hangs
  until the state's TimeoutSeconds fires) at the states a run reaches before Spark: NotifyFailure names
  the cause, PipelineFailed; the champion, the watermark and the SageMaker resources are as they were.
- A permanent fault after training and evaluation (RegisterCandidate): the same, and no package.
- NotifyFailure itself is throttled and fails with a 5xx on each failure case above, and still tells.
- A permanent fault after the approval (CreateEndpointConfig): the run fails with the champion, watermark
  and endpoint untouched, and the rollout is undone: the candidate's model deleted, its package Rejected
  with the deploy error.
- An approval that no one answers (the RequestApproval timeout, on the rule's faster clock): the candidate
  is rejected as expired, with RejectCandidate and NotifyRejection each throttled and failing once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.emulator.faults import clear_rules, write_rules
from retrain.state_table import CHAMPION, PARTITION_KEY, SORT_KEY
from tests.support.cycles import FirstRun
from tests.support.definition import TASKS
from tests.support.faults import history, recovered, task_failures, transient
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline, started_pipeline
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.slow]

# The Task states a first run (no endpoint yet) passes through on its way to Promoted.
FIRST_RUN_TASKS = (
    "ValidateInput",
    "CheckForNewData",
    "PrepareData",
    "TrainCandidate",
    "FindTrainingJob",
    "EvaluateCandidate",
    "FindProcessingJob",
    "CompareWithChampion",
    "RegisterCandidate",
    "RequestApproval",
    "CreateModel",
    "CreateEndpointConfig",
    "DescribeLiveEndpoint",
    "CreateEndpoint",
    "CheckEndpoint",
    "PromoteChampion",
    "ScheduleMonitoring",
    "CreateMonitoringSchedule",
    "NotifySuccess",
)
JOB_STATES = ("TrainCandidate", "EvaluateCandidate")


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPipeline]:
    """The module's local AWS, with Step Functions' retry intervals and Wait states at a tenth (SFN_WAIT_SCALE), as
    the contract fault matrix runs them (tests/contract/emulator/test_fault_matrix_states.py): the first run alone
    retries every Task state twice, at the committed 2 s doubling with full jitter, about 3 s of waiting each.
    The rollout's clocks (SAGEMAKER_CLOCK_SCALE) and the states' timeouts are as in every other module."""
    root = tmp_path_factory.mktemp("retrain-faults")
    with started_pipeline(root, environment={"SFN_WAIT_SCALE": "0.1"}) as pipeline:
        yield pipeline


@pytest.fixture
def faults(local: LocalPipeline) -> Iterator[None]:
    yield
    clear_rules(local.aws.home)


@pytest.fixture(scope="module")
def first_run(local: LocalPipeline) -> Iterator[FirstRun]:
    """The module's first run (it deploys, lands demo data, promotes the champion the failure cases keep),
    with every Task state's first call throttled and its second failing with a 5xx; the job states also
    lose their finished job's answer once."""
    rules: list[dict[str, Any]] = []
    for state in sorted(TASKS):
        rules += transient(state)
    # The job finished, but the wait for it failed: the retry's create is refused, Find<Kind>Job takes it.
    rules += [{"state": state, "fault": "5xx", "count": 1, "after": True} for state in JOB_STATES]
    write_rules(local.aws.home, rules)
    try:
        code, summary, stderr = local.run("--approve", "auto")
    finally:
        clear_rules(local.aws.home)
    yield FirstRun(code, summary, stderr, local.endpoint() if code == 0 else {})


def snapshot(local: LocalPipeline) -> dict[str, Any]:
    """What a failed run must leave as it was: the champion, the watermark, what serves, what the
    registry holds and the SageMaker resources a rollout creates."""
    sagemaker, pipeline = local.client("sagemaker"), local.pipeline
    champion = (
        local.client("dynamodb")
        .get_item(
            TableName=pipeline.state_table,
            Key={PARTITION_KEY: {"S": pipeline.config.pipeline.name}, SORT_KEY: {"S": CHAMPION}},
        )
        .get("Item", {})
    )
    packages = sagemaker.list_model_packages(ModelPackageGroupName=pipeline.outputs["ModelPackageGroupName"])
    return {
        "champion": champion,
        "watermark": local.watermark_item(),
        "endpoint_config": local.endpoint()["EndpointConfigName"],
        "packages": sorted(
            (p["ModelPackageArn"], p["ModelApprovalStatus"]) for p in packages["ModelPackageSummaryList"]
        ),
        "models": sorted(m["ModelName"] for m in sagemaker.list_models(MaxResults=100)["Models"]),
        "endpoint_configs": sorted(
            c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]
        ),
    }


def manual_run(local: LocalPipeline, **given: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A manual run (the new-data rule is off), once it has ended: its description and its history."""
    sfn = local.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=local.pipeline.state_machine_arn,
        name=f"fault-{uuid.uuid4().hex[:8]}",
        input=json.dumps({"trigger": "manual", **given}),
    )["executionArn"]
    described: dict[str, Any] = wait_until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        RUN_TIMEOUT,
        "the run to end",
    )
    return described, history(local, execution)


def test_every_task_recovers_from_a_throttle_and_a_5xx(local: LocalPipeline, first_run: FirstRun) -> None:
    assert first_run.code == 0 and first_run.summary["outcome"] == "Promoted", first_run.stderr
    failures = task_failures(history(local, first_run.summary["execution_arn"]))
    assert set(FIRST_RUN_TASKS) <= set(failures), f"states not reached: {set(FIRST_RUN_TASKS) - set(failures)}"
    for state, errors in failures.items():
        assert recovered(errors), (state, errors)
    # One training job and one evaluation job: the lost answers did not run either twice.
    for state in JOB_STATES:
        assert len(failures[state]) >= 4, failures[state]  # throttle, 5xx, lost answer, the refused create
    sagemaker = local.client("sagemaker")
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == 1
    assert len(sagemaker.list_processing_jobs()["ProcessingJobSummaries"]) == 1


FAILURES = [
    pytest.param(
        "ValidateInput",
        {"fault": "permanent", "error": "InvalidExecutionInput", "cause": "trigger 'manual' is not allowed here"},
        "InvalidExecutionInput",
        id="ValidateInput-domain-error",
    ),
    pytest.param("CheckForNewData", {"fault": "permanent"}, "Lambda.AWSLambdaException", id="CheckForNewData-denied"),
    pytest.param("PrepareData", {"fault": "permanent"}, "Glue.AccessDeniedException", id="PrepareData-denied"),
    pytest.param(
        "ValidateInput", {"fault": "timeout", "timeout_scale": 0.02}, "States.Timeout", id="ValidateInput-timeout"
    ),
    pytest.param(
        "CheckForNewData", {"fault": "timeout", "timeout_scale": 0.02}, "States.Timeout", id="CheckForNewData-timeout"
    ),
    pytest.param(
        "PrepareData", {"fault": "timeout", "timeout_scale": 1e-4}, "States.Timeout", id="PrepareData-timeout"
    ),
]


@pytest.fixture(scope="module")
def new_data(local: LocalPipeline, first_run: FirstRun) -> None:
    """Days no run has used yet, so a run reaches PrepareData (the new-data rule stays off)."""
    assert first_run.code == 0, first_run.stderr
    local.ensure_new_days(3)


@pytest.mark.parametrize(("state", "rule", "error"), FAILURES)
def test_a_permanent_fault_or_a_timeout_fails_the_run_cleanly(
    local: LocalPipeline, new_data: None, faults: None, state: str, rule: dict[str, Any], error: str
) -> None:
    before = snapshot(local)
    glue, job = local.client("glue"), local.pipeline.outputs["GlueJobName"]
    job_runs = len(glue.get_job_runs(JobName=job)["JobRuns"])
    write_rules(local.aws.home, [{"state": state, **rule}, *transient("NotifyFailure")])

    described, events = manual_run(local)

    assert_failed_cleanly(local, described, events, state, error, before)
    # Nothing reached Spark: the faulted call never started a job run.
    assert len(glue.get_job_runs(JobName=job)["JobRuns"]) == job_runs


def test_a_permanent_fault_after_evaluation_registers_nothing(
    local: LocalPipeline, new_data: None, faults: None
) -> None:
    before = snapshot(local)
    write_rules(local.aws.home, [{"state": "RegisterCandidate", "fault": "permanent"}, *transient("NotifyFailure")])

    described, events = manual_run(local)

    assert_failed_cleanly(local, described, events, "RegisterCandidate", "SageMaker.SageMakerException", before)


def assert_failed_cleanly(
    local: LocalPipeline,
    described: dict[str, Any],
    events: list[dict[str, Any]],
    state: str,
    error: str,
    before: dict[str, Any],
) -> None:
    failures = task_failures(events)
    assert failures[state] and set(failures[state]) == {error}, failures
    # The failure path ran: NotifyFailure (retried) told the team, PipelineFailed ended the run with the named error.
    assert recovered(failures.get("NotifyFailure", [])) and len(failures["NotifyFailure"]) == 2, failures
    assert described["status"] == "FAILED"
    assert described.get("error") == error, described
    assert described.get("cause"), described
    assert snapshot(local) == before


def test_an_unanswered_approval_expires_and_rejects_the_candidate(
    local: LocalPipeline, new_data: None, faults: None
) -> None:
    before = snapshot(local)
    # The shortest approval timeout a run plan takes (60 s), on a clock 20 times faster: no one answers.
    rules = [{"state": "RequestApproval", "fault": "timeout", "timeout_scale": 0.05}]
    write_rules(local.aws.home, rules + transient("RejectCandidate") + transient("NotifyRejection"))

    described, events = manual_run(local, approval_timeout_seconds=60)

    failures = task_failures(events)
    assert failures["RequestApproval"] == ["States.Timeout"], failures
    assert recovered(failures["RejectCandidate"]) and recovered(failures["NotifyRejection"]), failures
    assert (described["status"], described.get("error")) == ("FAILED", "States.Timeout"), described
    assert local.approval_status(described["name"]) == "EXPIRED"
    after = snapshot(local)
    [(_, status)] = set(after.pop("packages")) - set(before.pop("packages"))
    assert status == "Rejected"  # the candidate's package, no one's champion
    assert after == before


def test_a_permanent_fault_after_approval_leaves_nothing_half_done(
    local: LocalPipeline, new_data: None, faults: None
) -> None:
    before = snapshot(local)
    # The undo's own states meet a throttle and a 5xx each (their whole-cycle transient cells): retried.
    undo = (
        "FindCandidateOnEndpoint",
        "RejectUndeployedCandidate",
        "DeleteCandidateEndpointConfig",
        "DeleteCandidateModel",
    )
    rules = [rule for state in undo for rule in transient(state)]
    write_rules(local.aws.home, [{"state": "CreateEndpointConfig", "fault": "permanent"}, *rules])

    code, summary, stderr = local.run("--approve", "auto")

    assert code == 1 and summary["outcome"] == "Failed", stderr
    failures = task_failures(history(local, summary["execution_arn"]))
    # SageMaker's optimized integrations report AccessDenied as the Java client's generic exception, which the
    # Retry names (throttling arrives as the same class): retried, then failed.
    assert set(failures["CreateEndpointConfig"]) == {"SageMaker.AmazonSageMakerException"}, failures
    assert "sagemaker:CreateEndpointConfig" in summary["cause"]
    # The undo ran before NotifyFailure, each state retried past its transient faults: the config was never
    # created (its delete, once retried, fails with ValidationException, and the undo goes on).
    assert set(undo) <= set(failures)
    for state in undo:
        assert recovered(failures[state]), (state, failures[state])
    assert len(failures["RejectUndeployedCandidate"]) == len(failures["DeleteCandidateModel"]) == 2, failures
    assert failures["DeleteCandidateEndpointConfig"][2:] == ["SageMaker.ValidationException"], failures
    after = snapshot(local)
    added = set(after.pop("packages")) - set(before.pop("packages"))
    assert all(status == "Rejected" for _, status in added), f"the candidate's package is left {added}"
    assert after == before, "the candidate's model is left"
    # The package says why: not deployed, with the error that stopped the rollout.
    [(package, _)] = added
    reason = local.client("sagemaker").describe_model_package(ModelPackageName=package)["ApprovalDescription"]
    assert reason.startswith("Not deployed:") and "sagemaker:CreateEndpointConfig" in reason, reason
