"""`retrain demo-data`: which days come next, and appending them to the landing prefix in S3."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cli.landing import landed_dates, next_dates
from cli.main import main
from tests.support.jobs import REPO_ROOT

CONFIG = str(REPO_ROOT / "retrain.toml")


def test_the_next_days_follow_the_newest_landed_partition() -> None:
    keys = [
        "landing/date=2025-01-02/part-00000.csv",
        "landing/date=2025-01-03/part-00000.csv",
        "landing/date=2025-01-03/_SUCCESS",
        "landing/date=2025-02-30/part-00000.csv",  # not a date
        "landing/tmp/part-00000.csv",
        "other/date=2025-06-01/part-00000.csv",  # outside the prefix
    ]
    assert landed_dates(keys, "landing/") == [date(2025, 1, 2), date(2025, 1, 3)]
    assert next_dates(keys, "landing/", 2, start=date(2024, 1, 1)) == [date(2025, 1, 4), date(2025, 1, 5)]
    assert next_dates([], "landing/", 3, start=date(2024, 12, 30)) == [
        date(2024, 12, 30),
        date(2024, 12, 31),
        date(2025, 1, 1),
    ]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("RETRAIN_TARGET", "aws")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("RETRAIN_BUCKET", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


def landing_keys(client: object) -> list[str]:
    listing = client.list_objects_v2(Bucket="data", Prefix="landing/")  # type: ignore[attr-defined]
    return [item["Key"] for item in listing.get("Contents", [])]


def test_running_it_again_appends_the_next_days(
    s3: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["demo-data", "--config", CONFIG, "--days", "2", "--rows-per-day", "40"]
    assert main([*args, "--bucket", "data", "--start", "2025-03-01"]) == 0
    monkeypatch.setenv("RETRAIN_BUCKET", "data")
    assert main(args) == 0

    assert landing_keys(s3) == [f"landing/date=2025-03-0{day}/part-00000.csv" for day in (1, 2, 3, 4)]
    body = s3.get_object(Bucket="data", Key="landing/date=2025-03-04/part-00000.csv")["Body"].read()  # type: ignore[attr-defined]
    assert body.decode().splitlines()[0].startswith("transaction_id,event_time,")
    assert "2025-03-03 to 2025-03-04, 40 transactions a day" in capsys.readouterr().out


def test_without_a_bucket_it_says_where_to_name_one(s3: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--config", CONFIG, "--days", "1"]) == 2
    assert "no bucket; pass --bucket or set RETRAIN_BUCKET" in capsys.readouterr().err
    assert main(["demo-data", "--config", CONFIG, "--days", "1", "--bucket", "absent"]) == 1
    assert "cannot write to s3://absent/landing/" in capsys.readouterr().err
    assert landing_keys(s3) == []


def test_a_missing_config_is_reported_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--config", str(tmp_path / "nope.toml"), "--bucket", "data"]) == 2
    assert "nope.toml: no such file" in capsys.readouterr().err
