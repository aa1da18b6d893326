"""Whole retrain cycles whose candidate never reaches production, on a local AWS of their own: a worse
candidate is kept out, a candidate that errors under traffic is rolled back, and a rejected candidate's
run ends by starting a follow-up for the data landed meanwhile (stopped and redriven while it waits).
Each arranges what it needs (a champion, the days it lands), so any one of them passes alone and in any
order; the champion is this module's first run (conftest.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cli.executions import read_timeline
from cli.landing import append_demo_days
from retrain.naming import run_names
from tests.support.cycles import Traffic, break_the_model, states
from tests.support.faults import faults_on, history, recovered, task_failures, transient
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline
from tests.support.polling import wait_until
from tests.support.starter import starter_decisions

pytestmark = [pytest.mark.local, pytest.mark.slow]


@pytest.mark.usefixtures("champion")
def test_a_worse_candidate_is_kept_out(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(5)
    weak = {"hyperparameters": {"max_iter": 1, "max_leaf_nodes": 2, "learning_rate": 0.01}}
    # The fault matrix's whole-cycle cell of AdvanceWatermark (docs/fault-matrix.md): its first write is
    # throttled and its second fails with a 5xx; the Retry takes both and the watermark still moves.
    with faults_on(local, transient("AdvanceWatermark")):
        code, summary, stderr = local.run("--approve", "auto", "--input", json.dumps(weak))
    assert code == 0, stderr
    assert summary["outcome"] == "KeptChampion"
    watermark_errors = task_failures(history(local, summary["execution_arn"]))["AdvanceWatermark"]
    assert recovered(watermark_errors) and len(watermark_errors) == 2, watermark_errors
    assert any("champion" in reason for reason in summary["reasons"])
    timeline = local.timeline(summary)
    visited = states(timeline)
    assert "AdvanceWatermark" in visited and "RegisterCandidate" not in visited
    assert local.endpoint()["EndpointConfigName"] == before
    # The mark of refused stream records moves with the watermark: the next run counts from this run's start.
    check = timeline.last_visit("CheckForNewData")
    assert check is not None
    assert local.watermark_item()["errors_until"]["S"] == check.output["data"]["delivery_errors"]["until"] != ""


@pytest.mark.usefixtures("champion")
def test_a_candidate_that_errors_under_traffic_is_rolled_back(local: LocalPipeline) -> None:
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(20)
    # The fault matrix's whole-cycle cells of the rollback's record (docs/fault-matrix.md): ReadRollbackCause
    # and RecordRollback each meet a throttle and a 5xx; retried, the rollback is recorded all the same.
    with faults_on(local, transient("ReadRollbackCause") + transient("RecordRollback")):
        # The README cycle's rollout timings and alarms, at the local AWS's clock scale.
        process = local.retrain("run", "--json", "--approve", "wait")
        # Fails at once, with what the run printed, if it ends without asking for approval.
        process.wait_for_stderr("retrain approve", RUN_TIMEOUT)
        name = local.pending_run()
        arn = local.pipeline.execution_arn(name)
        approval_input = read_timeline(local.pipeline, arn).last_visit("RequestApproval")
        assert approval_input is not None
        break_the_model(local, approval_input.input["training"]["model_data_url"])
        with Traffic(local, seconds=RUN_TIMEOUT) as traffic:
            approve = local.retrain("approve", name, "--reason", "ship it", "--as", "test-lead")
            assert approve.wait(timeout=60) == 0, approve.communicate()[1]
            # Answered as an ML lead: a session of the stack's MLLeads role, named after the person.
            role = local.pipeline.outputs["MLLeadsRoleArn"].rsplit("/", 1)[-1]
            assert local.approval_request(name)["answered_by"]["S"].endswith(f":assumed-role/{role}/test-lead)")
            stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
            ended = time.monotonic()
            # The champion keeps answering after the rollback.
            wait_until(lambda: len([a for a in traffic.answers if a[0] > ended]) >= 20, 60, "requests after the run")
    summary = json.loads(stdout)
    assert process.returncode != 0, stderr
    assert summary["outcome"] == "RolledBack" and summary["error"] == "DeploymentRolledBack"
    assert "RecordRollback" in states(local.timeline(summary))
    failures = task_failures(history(local, summary["execution_arn"]))
    for state in ("ReadRollbackCause", "RecordRollback"):
        assert recovered(failures[state]) and len(failures[state]) == 2, (state, failures[state])
    endpoint = local.endpoint()
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == before
    assert "alarm" in endpoint.get("FailureReason", "").lower()
    assert all(ok for at, ok in traffic.answers if at > ended)
    assert any(ok for at, ok in traffic.answers if at <= ended)


@pytest.mark.usefixtures("champion")
def test_a_rejection_leaves_production_untouched_and_data_landed_meanwhile_is_trained_by_a_follow_up(
    local: LocalPipeline,
) -> None:
    """An ML lead rejects a candidate: its run fails `Rejected` with the reason, the package is
    rejected and the endpoint keeps the champion. No schedule involved: days that land while the run
    waits for the lead are queued by the starter, and the run's end starts the follow-up run that
    trains on them. (One test: the rejected run is the one the follow-up follows, which saves a
    whole training cycle.)"""
    before = local.endpoint()["EndpointConfigName"]
    local.land_days(3)
    process = local.retrain("run", "--json", "--approve", "wait")
    # The run prints the commands when its follower sees RequestApproval waiting; an answer sent
    # before that ends the wait unseen, and they are never printed. Answer once they are.
    process.wait_for_stderr("retrain approve", RUN_TIMEOUT)
    first = local.pending_run()
    starter = local.pipeline.outputs["StarterFunctionName"]
    seen = len(starter_decisions(local.client("logs"), starter))
    local.new_data_trigger(enabled=True)  # the days above landed minutes ago: their events are long gone
    append_demo_days(local.client("s3"), local.pipeline.bucket, local.pipeline.config, days=2)
    newest = max(local.new_keys())

    def queued() -> list[dict[str, Any]]:
        fresh = starter_decisions(local.client("logs"), starter)[seen:]
        return [d for d in fresh if d["trigger"] == "new-data" and d["queued"]]

    assert [d["running"] for d in wait_until(lambda: len(queued()) >= 2 and queued(), 120, "the triggers")] == [
        [first],
        [first],
    ]
    reject = local.retrain("reject", first, "--reason", "candidate under review by risk team", "--as", "test-lead")
    assert reject.wait(timeout=60) == 0, reject.communicate()[1]
    stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    summary = json.loads(stdout)
    assert process.returncode != 0
    assert summary["outcome"] == "Rejected" and summary["error"] == "ApprovalRejected"
    assert "candidate under review by risk team" in summary["cause"]
    assert "retrain approve" in stderr  # --approve wait printed the commands
    assert local.endpoint()["EndpointConfigName"] == before
    assert local.approval_status(first) == "REJECTED"
    packages = local.client("sagemaker").list_model_packages(
        ModelPackageGroupName=local.pipeline.outputs["ModelPackageGroupName"]
    )["ModelPackageSummaryList"]
    [package] = [p for p in packages if f"execution {first} (" in p.get("ModelPackageDescription", "")]
    assert package["ModelApprovalStatus"] == "Rejected"

    follow_up = f"next-{first}"
    wait_until(lambda: local.approval_status(follow_up) == "PENDING", RUN_TIMEOUT, "the follow-up to ask for approval")
    arn = local.pipeline.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{follow_up}"
    timeline = read_timeline(local.pipeline, arn)
    assert json.loads(local.client("stepfunctions").describe_execution(executionArn=arn)["input"])["trigger"] == (
        "follow-up"
    )
    check = timeline.last_visit("CheckForNewData")
    assert check is not None and check.output["data"]["new_watermark"] == newest  # it trains on the newest day
    assert "TrainCandidate" in states(timeline)

    # Stopped while it waits for the lead, the follow-up resumes by `retrain redrive` at RequestApproval,
    # with a new task token: its training and evaluation jobs are not started again.
    token = local.approval_request(follow_up)["task_token"]["S"]
    local.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped to redrive")
    redrive = local.retrain("redrive", follow_up)
    printed, errors = redrive.communicate(timeout=60)
    assert redrive.returncode == 0, errors
    assert f"redriving {follow_up} (redrive 1): it resumes at RequestApproval " in printed
    wait_until(lambda: local.approval_request(follow_up)["task_token"]["S"] != token, 120, "the new approval request")
    redriven = read_timeline(local.pipeline, arn)
    assert (redriven.status, redriven.redrives) == ("RUNNING", 1)
    assert states(redriven).count("TrainCandidate") == states(redriven).count("EvaluateCandidate") == 1
    assert states(redriven).count("RequestApproval") == 2
    names = run_names(follow_up)
    sagemaker = local.client("sagemaker")
    trained = sagemaker.list_training_jobs(NameContains=names.training_job_prefix)["TrainingJobSummaries"]
    evaluated = sagemaker.list_processing_jobs(NameContains=names.processing_job_prefix)["ProcessingJobSummaries"]
    assert [job["TrainingJobName"] for job in trained] == [f"{names.training_job_prefix}-0"]
    assert [job["ProcessingJobName"] for job in evaluated] == [f"{names.processing_job_prefix}-0"]
    reject = local.retrain("reject", follow_up, "--reason", "test over", "--as", "test-lead")
    assert reject.wait(timeout=60) == 0, reject.communicate()[1]
    wait_until(lambda: read_timeline(local.pipeline, arn).status != "RUNNING", 120, "the follow-up to end")
    assert local.endpoint()["EndpointConfigName"] == before
