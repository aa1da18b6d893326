"""The catalog on the embedded local AWS: the stack's Glue job, run on a few landed days, registers its splits in
the stack's Glue database, and `retrain query` reads them through Athena (the emulator's DuckDB engine) from the
partitions' S3 locations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from cli.main import main
from retrain.config import load_config
from tests.support.datasets import transactions
from tests.support.emulator import finished_job_run
from tests.support.local_aws import RunningLocalAws

pytestmark = [pytest.mark.local, pytest.mark.spark, pytest.mark.slow]
pytest.importorskip("duckdb", reason="the local extra installs duckdb, on which the emulator runs Athena queries")

# Days no other test lands, so the job's window holds exactly these rows.
DAYS = [date(2023, 6, 1), date(2023, 6, 2)]
ROWS_PER_DAY = 80
RUN = "catalog-test"


def landed_csv(day: date) -> bytes:
    frame = transactions([day], per_day=ROWS_PER_DAY)
    frame["event_time"] = [f"{day.isoformat()}T{n // 60:02d}:{n % 60:02d}:00Z" for n in range(ROWS_PER_DAY)]
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def prepared(local_aws: RunningLocalAws) -> Iterator[dict[str, Any]]:
    """The stack deployed by `retrain deploy` (its new-data rule disabled: no cycle starts), and one run of its
    Glue job on two landed days."""
    with pytest.MonkeyPatch.context() as patch:
        local_aws.command_environment(patch)
        assert main(["deploy"]) == 0
        clients = local_aws.clients()
        [stack] = clients.client("cloudformation").describe_stacks(StackName="fraud-retrain")["Stacks"]
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
        clients.client("events").disable_rule(Name="fraud-retrain-new-data")
        bucket, glue, job = outputs["DataBucketName"], clients.client("glue"), outputs["GlueJobName"]
        for day in DAYS:
            key = f"landing/date={day.isoformat()}/catalog.csv"
            clients.client("s3").put_object(Bucket=bucket, Key=key, Body=landed_csv(day))
        run_id = glue.start_job_run(
            JobName=job,
            Arguments={
                "--run_name": RUN,
                "--landing_uri": f"s3://{bucket}/landing/",
                "--output_uri": f"s3://{bucket}/processed/{RUN}/",
                "--window_end": DAYS[-1].isoformat(),
                "--training_window_days": str(len(DAYS)),
                "--input_format": "csv",
                "--dataset": load_config("retrain.toml").dataset.model_dump_json(by_alias=True),
            },
        )["JobRunId"]
        run = finished_job_run(glue, job, run_id, timeout=300)
        assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
        quality = json.loads(
            clients.client("s3").get_object(Bucket=bucket, Key=f"processed/{RUN}/quality.json")["Body"].read()
        )
        yield {"outputs": outputs, "quality": quality, "glue": glue}


def test_the_job_registers_its_splits_at_their_s3_locations(prepared: dict[str, Any]) -> None:
    outputs, glue = prepared["outputs"], prepared["glue"]
    database, table = outputs["CatalogDatabaseName"], outputs["CatalogTableName"]
    described = glue.get_table(DatabaseName=database, Name=table)["Table"]
    assert [key["Name"] for key in described["PartitionKeys"]] == ["run", "split"]
    partitions = glue.get_partitions(DatabaseName=database, TableName=table)["Partitions"]
    located = {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in partitions if p["Values"][0] == RUN}
    bucket = outputs["DataBucketName"]
    assert located == {
        (RUN, split): f"s3://{bucket}/processed/{RUN}/{split}/" for split in ("train", "validation", "test")
    }


def test_retrain_query_counts_the_rows_of_each_split(
    prepared: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sql = f"SELECT split, count(*) AS n, sum(is_fraud) AS positives FROM processed WHERE run = '{RUN}' GROUP BY split"
    assert main(["query", sql, "--json"]) == 0, capsys.readouterr().err
    rows = {row["split"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    splits = prepared["quality"]["splits"]
    assert {name: int(row["n"]) for name, row in rows.items()} == {name: s["rows"] for name, s in splits.items()}
    assert {name: int(row["positives"]) for name, row in rows.items()} == {
        name: s["positives"] for name, s in splits.items()
    }


def test_a_failed_query_is_one_line_naming_the_problem(
    prepared: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["query", "SELECT no_such_column FROM processed"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("retrain: query ") and " FAILED: " in err and "no_such_column" in err
    assert "\n" not in err
