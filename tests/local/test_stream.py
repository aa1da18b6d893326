"""Streaming ingestion on the embedded local AWS: `retrain stream` puts a bounded burst of demo
transactions (and one record that is not JSON) into the deployed event stream; Firehose lands them under
`landing/date=.../` by each record's own day and the bad record under the error prefix; the landed objects
start a run through the new-data rule, and that run trains on the streamed days, its quality.json counting
the bad record as refused by delivery.

A pipeline of its own (every resource name differs from the demo stack's), deployed with `[stream]` and
JSON landing. The run is stopped once its candidate is trained: what follows is the files' cycle."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from cli.main import main
from cli.pipeline import DeployedPipeline
from tests.support.datasets import config_file
from tests.support.local_aws import RunningLocalAws
from tests.support.polling import wait_until
from tests.support.starter import bring_stack_to_rest

pytestmark = [pytest.mark.local, pytest.mark.slow]

NAME = "stream-retrain"
START = date(2025, 3, 1)
DAYS, RATE = 3, 1500  # 1,500 records in one second, over three days of event time
TRAINED_TIMEOUT = 600


@pytest.fixture(scope="module")
def config(local_aws: RunningLocalAws, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("stream")
    path = config_file(folder, dataset=None, input_format="json")
    text = path.read_text(encoding="utf-8").replace('"fraud-retrain"', f'"{NAME}"')
    path.write_text(text.replace("fraud-detector", "stream-detector") + "\n[stream]\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETRAIN_HOME", str(local_aws.home.root))
        patch.setenv("RETRAIN_LOCAL_PORT", str(local_aws.process.port))
        for name in ("RETRAIN_TARGET", "AWS_ENDPOINT_URL", "RETRAIN_BUCKET"):
            patch.delenv(name, raising=False)
        assert main(["deploy", "--config", str(path)]) == 0
        yield str(path)


def _keys(pipeline: DeployedPipeline, prefix: str) -> list[str]:
    listing = pipeline.client("s3").list_objects_v2(Bucket=pipeline.bucket, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def _exited(history: list[dict[str, Any]], state: str) -> dict[str, Any] | None:
    for event in history:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == state:
            return dict(json.loads(details["output"]))
    return None


def test_a_streamed_burst_lands_by_event_day_and_the_run_it_starts_trains_on_it(
    config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--rate", str(RATE), "--seconds", "1", "--days", str(DAYS), "--start", START.isoformat()]
    assert main(["stream", *arguments, "--malformed", "1", "--config", config]) == 0, capsys.readouterr().err
    assert f"accepted {RATE + 1} of {RATE + 1} records into {NAME}-events" in capsys.readouterr().out

    pipeline = DeployedPipeline.connect(config)
    days = [(START + timedelta(days=n)).isoformat() for n in range(DAYS)]
    landed = wait_until(
        lambda: (
            (keys := _keys(pipeline, "landing/"))
            and {k.split("/")[1] for k in keys} == {f"date={d}" for d in days}
            and keys
        ),
        60,
        "objects under landing/date=<day>/ for every streamed day",
    )
    s3 = pipeline.client("s3")
    rows = [
        json.loads(line)
        for key in landed
        for line in s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read().splitlines()
    ]
    assert len(rows) == RATE and all(row["event_time"][:10] in days for row in rows)
    [error_key] = wait_until(lambda: _keys(pipeline, "stream-errors/"), 60, "the bad record under the error prefix")
    assert error_key.startswith("stream-errors/processing-failed/")

    sfn = pipeline.client("stepfunctions")
    [execution] = wait_until(
        lambda: sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"][:1],
        60,
        "the new-data rule to start a run",
    )

    def trained() -> list[dict[str, Any]] | None:
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
        if _exited(history, "TrainCandidate") is None and status == "RUNNING":
            return None
        return list(history)

    history = wait_until(trained, TRAINED_TIMEOUT, "the triggered run to train its candidate", interval=2)
    try:
        check = _exited(history, "CheckForNewData")
        assert check is not None and check["run"]["trigger"] == "new-data", check
        data = check["data"]
        assert data["window_start"] == days[0] and data["window_end"] in days, data
        training = _exited(history, "TrainCandidate")
        assert training is not None, [e["type"] for e in history][-5:]
        # The bad record is in the run's data-quality counts, as refused by delivery, and not in what it read.
        quality_key = check["run"]["data"]["processed_uri"].removeprefix(f"s3://{pipeline.bucket}/") + "quality.json"
        quality = json.loads(s3.get_object(Bucket=pipeline.bucket, Key=quality_key)["Body"].read())
        refused = quality["delivery_errors"]
        assert (refused["records"], refused["by_type"], refused["keys"]) == (1, {"processing-failed": 1}, [error_key])
        assert refused["after"] == "" and refused["until"] == check["run"]["started_at"], refused
        assert quality["rows_read"] == RATE
    finally:
        bring_stack_to_rest(pipeline.client, pipeline.outputs, NAME)
