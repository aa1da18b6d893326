"""Any tabular dataset by config, on the embedded local AWS: loan applications (other columns, other
types, a text target mapped by `positive_label`, an identifier excluded by `exclude_columns`) go
through `retrain deploy --config`, `retrain land --config` and `retrain run --config` to a promoted
model, which `retrain invoke --config` calls with rows of that dataset. No code knows the dataset.

It shares the session's local AWS with the demo stack: every resource name of its config differs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cli.main import main
from cli.pipeline import DeployedPipeline
from tests.support.datasets import loan_applications, loans_config
from tests.support.local_aws import RunningLocalAws

pytestmark = [pytest.mark.local, pytest.mark.slow]

START = date(2026, 3, 1)
DAYS, PER_DAY = 10, 300
MISSING_LABELS = 3  # rows whose outcome is empty: dropped as any missing target is


@pytest.fixture(scope="module")
def config(local_aws: RunningLocalAws, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The loans config (outside the project), its stack deployed by `retrain deploy --config`, with the
    new-data rule disabled so that the run is the one `retrain run` starts and follows."""
    path = str(loans_config(tmp_path_factory.mktemp("loans")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETRAIN_HOME", str(local_aws.home.root))
        patch.setenv("RETRAIN_LOCAL_PORT", str(local_aws.process.port))
        for name in ("RETRAIN_TARGET", "AWS_ENDPOINT_URL", "RETRAIN_BUCKET"):
            patch.delenv(name, raising=False)
        assert main(["deploy", "--config", path]) == 0
        local_aws.clients().client("events").disable_rule(Name="loan-retrain-new-data")
        yield path


def test_loan_applications_are_trained_promoted_and_served(
    config: str, local_aws: RunningLocalAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = loan_applications(START, DAYS, PER_DAY)
    frame.loc[: MISSING_LABELS - 1, "outcome"] = ""
    data = tmp_path / "applications.csv"
    frame.to_csv(data, index=False)
    assert main(["land", str(data), "--config", config]) == 0, capsys.readouterr().err
    assert f"({DAYS * PER_DAY} rows) as {DAYS} objects" in capsys.readouterr().out

    code = main(["run", "--config", config, "--approve", "auto", "--json", "--timeout", "600"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == 0, err
    assert summary["outcome"] == "Promoted", summary
    assert summary["endpoint"] == "loan-scorer" and summary["endpoint_status"] == "InService"
    assert summary["candidate"]["average_precision"] > 0.5

    # The Glue job used the config's columns and labels: the identifier is no input, the log feature
    # is, and only the rows without a label were dropped (for that reason).
    pipeline = DeployedPipeline.connect(config)
    s3 = pipeline.client("s3")
    [quality_key] = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="processed/").get("Contents", [])
        if item["Key"].endswith("/quality.json")
    ]
    quality = json.loads(s3.get_object(Bucket=pipeline.bucket, Key=quality_key)["Body"].read())
    assert quality["target"] == "outcome" and quality["dropped"] == {"null_outcome": MISSING_LABELS}
    assert "applicant_ref" not in quality["feature_columns"] and "log_income_k" in quality["feature_columns"]
    positives = sum(split["positives"] for split in quality["splits"].values())
    assert positives == int((frame["outcome"] == "default").sum())

    # `retrain invoke` sends a landed row by default, or the row given: one the model never saw.
    assert main(["invoke", "--config", config]) == 0, capsys.readouterr().err
    answer = capsys.readouterr().out.splitlines()[-1]
    assert '"predictions": [{"score": ' in answer
    fresh = loan_applications(date(2026, 4, 1), 1, 1, seed=99).drop(columns=["outcome"])
    row = ",".join(fresh.iloc[0].tolist())
    assert main(["invoke", "--config", config, "--body", row]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"request (text/csv): {row}" in out and '"label": ' in out
