"""The local AWS enforces IAM unless told off, and refuses a switch it cannot read before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws import LocalAws, LocalAwsError
from local.emulator.iam import ENFORCEMENT_ENV, Session, enforced
from local.emulator.task_permissions import requirements
from local.home import StateDirectory


def test_on_by_default_and_off_only_when_asked() -> None:
    assert enforced({}) is True
    assert enforced({ENFORCEMENT_ENV: "on"}) is True
    assert enforced({ENFORCEMENT_ENV: " OFF "}) is False


def test_a_switch_that_is_neither_on_nor_off_is_refused_before_the_local_aws_starts(tmp_path: Path) -> None:
    home = StateDirectory(tmp_path / "home")
    with pytest.raises(LocalAwsError, match=f"^{ENFORCEMENT_ENV}='no': use 'on'"):
        LocalAws(home, port=0, environment={ENFORCEMENT_ENV: "no"}).start()
    assert not home.root.exists()


def test_the_session_is_the_roles_assumed_role_arn() -> None:
    session = Session.of("arn:aws:iam::123456789012:role/service/Machine-Role-X", "arn:aws:states:::execution:m:e")
    assert session.arn.startswith("arn:aws:sts::123456789012:assumed-role/Machine-Role-X/")
    assert len(session.name) == 32 and session.name.isalpha()


def test_a_sync_training_job_needs_what_sagemaker_iam_lists() -> None:
    # Step Functions developer guide, sagemaker-iam: CreateTrainingJob (.sync).
    needed = requirements(
        "arn:aws:states:::sagemaker:createTrainingJob.sync",
        {"TrainingJobName": "Fraud-1", "RoleArn": "arn:aws:iam::1:role/exec"},
        "eu-west-1",
        "1",
    )
    job = "arn:aws:sagemaker:eu-west-1:1:training-job/fraud-1"
    rule = "arn:aws:events:eu-west-1:1:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    assert {(r.action, r.resource) for r in needed} == {
        ("sagemaker:CreateTrainingJob", job),
        ("sagemaker:AddTags", job),
        ("sagemaker:DescribeTrainingJob", job),
        ("iam:PassRole", "arn:aws:iam::1:role/exec"),
        ("events:PutTargets", rule),
        ("events:PutRule", rule),
        ("events:DescribeRule", rule),
    }
    [passed] = [r for r in needed if r.action == "iam:PassRole"]
    assert passed.context == {"iam:passedtoservice": "sagemaker.amazonaws.com"}


@pytest.mark.parametrize("action", ["createMonitoringSchedule", "updateMonitoringSchedule"])
def test_a_monitoring_schedule_call_needs_the_schedule_and_its_jobs_role(action: str) -> None:
    # Service Authorization Reference: the monitoring-schedule resource type; the job definition's
    # RoleArn is passed to SageMaker, which runs the schedule's jobs with it.
    needed = requirements(
        f"arn:aws:states:::aws-sdk:sagemaker:{action}",
        {
            "MonitoringScheduleName": "Fraud-Detector-data-quality",
            "MonitoringScheduleConfig": {"MonitoringJobDefinition": {"RoleArn": "arn:aws:iam::1:role/exec"}},
        },
        "eu-west-1",
        "1",
    )
    schedule = "arn:aws:sagemaker:eu-west-1:1:monitoring-schedule/fraud-detector-data-quality"
    api = action[0].upper() + action[1:]
    assert {(r.action, r.resource) for r in needed} == {
        (f"sagemaker:{api}", schedule),
        ("iam:PassRole", "arn:aws:iam::1:role/exec"),
    }
