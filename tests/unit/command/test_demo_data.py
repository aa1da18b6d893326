"""`retrain demo-data`: which days come next, and appending them to the landing prefix of the deployed
stack's bucket, found from the stack itself (no environment variable)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cli.landing import landed_dates, next_dates
from cli.main import main
from tests.support.datasets import config_file
from tests.support.fake_stack import FakeStack
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


def test_running_it_again_appends_the_next_days_to_the_stacks_bucket(
    stack: FakeStack, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["demo-data", "--config", CONFIG, "--days", "2", "--rows-per-day", "40"]
    assert main([*args, "--start", "2025-03-01"]) == 0
    assert main(args) == 0

    assert stack.keys("landing/") == [f"landing/date=2025-03-0{day}/part-00000.csv" for day in (1, 2, 3, 4)]
    body = stack.client("s3").get_object(Bucket=stack.bucket, Key="landing/date=2025-03-04/part-00000.csv")
    assert body["Body"].read().decode().splitlines()[0].startswith("transaction_id,event_time,")
    assert "2025-03-03 to 2025-03-04, 40 transactions a day" in capsys.readouterr().out


def test_a_bucket_can_still_be_named(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--config", CONFIG, "--days", "1", "--bucket", "absent"]) == 1
    assert "cannot write to s3://absent/landing/" in capsys.readouterr().err
    assert stack.keys() == []


def test_without_a_stack_it_says_how_to_deploy_one(
    stack: FakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.toml"
    other.write_text(Path(CONFIG).read_text().replace('name = "fraud-retrain"', 'name = "elsewhere"'))
    assert main(["demo-data", "--config", str(other), "--days", "1"]) == 2
    err = capsys.readouterr().err
    assert "no stack 'elsewhere' at the AWS account of your credentials: deploy it with `RETRAIN_TARGET=aws" in err


def test_demo_data_never_lands_into_another_dataset(
    stack: FakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-data", "--config", str(config_file(tmp_path)), "--days", "1"]) == 2
    assert "another dataset than the demo stream's" in capsys.readouterr().err
    assert stack.keys() == []


def test_a_missing_config_is_reported_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--config", str(tmp_path / "nope.toml"), "--bucket", "data"]) == 2
    assert "nope.toml: no such file" in capsys.readouterr().err
