"""Your own data in, on the embedded local AWS: `retrain deploy` deploys the stack without a run, then
every command finds it from the stack (no environment variable: the README's `retrain demo-data`
step), and `retrain land` lands checked files in the layout the pipeline counts, or nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cli.main import main
from retrain.watermark import partition_date
from tests.support.datasets import transactions
from tests.support.local_aws import RunningLocalAws

pytestmark = [pytest.mark.local]

DAYS = [date(2026, 2, 1), date(2026, 2, 2)]


@pytest.fixture(scope="module")
def outputs(local_aws: RunningLocalAws) -> Iterator[dict[str, str]]:
    """The stack deployed by `retrain deploy` into the session's local AWS, its new-data rule disabled:
    landing here must not start a cycle (Spark) that no test follows."""
    with pytest.MonkeyPatch.context() as patch:
        local_aws.command_environment(patch)
        assert main(["deploy"]) == 0
        cloudformation = local_aws.clients().client("cloudformation")
        [stack] = cloudformation.describe_stacks(StackName="fraud-retrain")["Stacks"]
        found = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
        local_aws.clients().client("events").disable_rule(Name="fraud-retrain-new-data")
        yield found


def keys(local_aws: RunningLocalAws, bucket: str) -> list[str]:
    listing = local_aws.clients().client("s3").list_objects_v2(Bucket=bucket, Prefix="landing/")
    return [item["Key"] for item in listing.get("Contents", [])]


def body(local_aws: RunningLocalAws, bucket: str, key: str) -> Any:
    return local_aws.clients().client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_deploy_leaves_a_ready_pipeline_and_redeploys_nothing(
    outputs: dict[str, str], local_aws: RunningLocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = local_aws.clients().client("stepfunctions")
    assert sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])["status"] == "ACTIVE"
    assert sfn.list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"] == []  # no cycle ran
    capsys.readouterr()
    assert main(["deploy"]) == 0
    out, err = capsys.readouterr()
    assert f"data bucket    {outputs['DataBucketName']}" in out
    assert "synthesizing" not in err  # nothing changed: nothing synthesized


def test_demo_data_finds_the_bucket_from_the_stack(
    outputs: dict[str, str], local_aws: RunningLocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's step: `retrain demo-data --days 15` after a deploy, with no RETRAIN_BUCKET."""
    bucket = outputs["DataBucketName"]
    before = keys(local_aws, bucket)
    assert main(["demo-data", "--days", "2", "--rows-per-day", "20", "--start", "2025-01-01"]) == 0, (
        capsys.readouterr().err
    )
    added = sorted(set(keys(local_aws, bucket)) - set(before))
    assert len(added) == 2 and all(partition_date(key, "landing/") for key in added)


def test_land_uploads_checked_files_or_nothing(
    outputs: dict[str, str], local_aws: RunningLocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = outputs["DataBucketName"]
    good = tmp_path / "sales.csv"
    transactions(DAYS, per_day=3).to_csv(good, index=False)
    broken = transactions(DAYS[:1], per_day=2)
    broken.loc[1, "account_age_days"] = "old"
    bad = tmp_path / "broken.csv"
    broken.to_csv(bad, index=False)
    before = keys(local_aws, bucket)

    assert main(["land", str(good), str(bad)]) == 2
    assert f"{bad}, row 2, column account_age_days: 'old' is not a long" in capsys.readouterr().err
    assert keys(local_aws, bucket) == before

    assert main(["land", str(good)]) == 0
    expected = [f"landing/date={day.isoformat()}/sales.csv" for day in DAYS]
    assert sorted(set(keys(local_aws, bucket)) - set(before)) == expected
    landed = pd.read_csv(io.BytesIO(body(local_aws, bucket, expected[1])), dtype=str)
    assert landed["transaction_id"].tolist() == [f"t-20260202-{n}" for n in range(3)]
    assert "landed 1 file (6 rows) as 2 objects" in capsys.readouterr().out
