from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retrain.contracts import DataPlan
from retrain.ports import LandingObject
from retrain.timestamps import utc_iso
from retrain.watermark import MAX_SETTLE_CHECKS, check_new_data, partition_date

PREFIX = "landing/"


def data_plan(**changes: Any) -> DataPlan:
    values: dict[str, Any] = {
        "landing_uri": "s3://b/landing/",
        "processed_uri": "s3://b/processed/r/",
        "models_uri": "s3://b/models/r/",
        "input_format": "csv",
        "min_new_objects": 1,
        "min_new_bytes": 1,
        "wait_for_data_seconds": 60,
        "max_data_checks": 3,
        "training_window_days": 90,
    }
    return DataPlan(**{**values, **changes})


def objects(*keys: str, size: int = 10) -> list[LandingObject]:
    return [LandingObject(key, size) for key in keys]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("landing/date=2024-06-01/part-0.csv", "2024-06-01"),
        ("landing/date=2024-06-01/_SUCCESS", None),
        ("landing/date=2024-06-01/.part-0.csv.crc", None),
        ("landing/date=2024-06-01/", None),
        ("landing/date=2024-06-01/nested/part-0.csv", None),
        ("landing/date=2024-02-30/part-0.csv", None),
        ("landing/2024-06-01/part-0.csv", None),
        ("landing/part-0.csv", None),
        ("other/date=2024-06-01/part-0.csv", None),
    ],
)
def test_partition_date(key: str, expected: str | None) -> None:
    assert partition_date(key, PREFIX) == expected


def test_window_spans_the_new_partitions() -> None:
    check = check_new_data(
        objects("landing/date=2024-06-01/a.csv", "landing/date=2024-06-03/a.csv", "landing/date=2024-06-02/b.csv"),
        prefix=PREFIX,
        previous_watermark="",
        checks_done=0,
        plan=data_plan(),
    )

    assert (check.window_start, check.window_end) == ("2024-06-01", "2024-06-03")
    assert check.new_watermark == "landing/date=2024-06-03/a.csv"
    assert (check.new_objects, check.new_bytes) == (3, 30)


def test_keys_at_or_before_the_watermark_are_not_new() -> None:
    # Even if the listing ignored StartAfter, data trained on must not count again.
    check = check_new_data(
        objects("landing/date=2024-06-01/a.csv", "landing/date=2024-06-02/a.csv"),
        prefix=PREFIX,
        previous_watermark="landing/date=2024-06-01/a.csv",
        checks_done=0,
        plan=data_plan(),
    )

    assert check.new_objects == 1 and check.window_start == "2024-06-02"


def test_zero_byte_objects_are_not_data() -> None:
    check = check_new_data(
        objects("landing/date=2024-06-01/a.csv", size=0),
        prefix=PREFIX,
        previous_watermark="",
        checks_done=0,
        plan=data_plan(),
    )

    assert (check.enough, check.new_objects, check.new_watermark) == (False, 0, "")


@pytest.mark.parametrize(
    ("count", "size", "checks_done", "enough", "keep_waiting"),
    [
        (2, 10, 0, True, False),
        (1, 10, 0, False, True),  # too few objects, checks left
        (2, 1, 0, False, True),  # too few bytes
        (1, 10, 1, False, True),
        (1, 10, 2, False, False),  # the third check of three was the last
        (0, 10, 5, False, False),  # past the bound (a redrive) never waits again
    ],
)
def test_enough_and_keep_waiting(count: int, size: int, checks_done: int, enough: bool, keep_waiting: bool) -> None:
    keys = [f"landing/date=2024-06-01/{index}.csv" for index in range(count)]
    check = check_new_data(
        objects(*keys, size=size),
        prefix=PREFIX,
        previous_watermark="",
        checks_done=checks_done,
        plan=data_plan(min_new_objects=2, min_new_bytes=15),
    )

    assert (check.enough, check.keep_waiting, check.checks_done) == (enough, keep_waiting, checks_done + 1)


def test_a_landing_key_is_in_the_one_layout_the_check_counts() -> None:
    from datetime import date

    from retrain.watermark import partition_key

    key = partition_key(PREFIX, date(2026, 11, 21), "sales.csv")
    assert key == "landing/date=2026-11-21/sales.csv"
    assert partition_date(key, PREFIX) == "2026-11-21"
    # The layout docs/deploy.md once advertised is not counted.
    assert partition_date("landing/2026-11-21/part-0.csv", PREFIX) is None
    for name in ("_SUCCESS", ".hidden.csv", "a/b.csv", ""):
        with pytest.raises(ValueError, match="not a landing file name"):
            partition_key(PREFIX, date(2026, 11, 21), name)


NOW = datetime(2024, 6, 3, 12, 0, 0, tzinfo=UTC)


def landed(key: str, seconds_ago: float) -> LandingObject:
    return LandingObject(key, 10, utc_iso(NOW - timedelta(seconds=seconds_ago)))


@pytest.mark.parametrize(
    ("seconds_ago", "settle_checks_done", "settling"),
    [
        (5, 0, True),  # the batch's newest file landed 5 s ago: more may follow
        (119, 3, True),
        (120, 0, False),  # quiet for the whole settle time
        (5, MAX_SETTLE_CHECKS, False),  # data that never stops landing does not hold the run back forever
    ],
)
def test_a_run_waits_until_the_newest_file_is_settle_seconds_old(
    seconds_ago: float, settle_checks_done: int, settling: bool
) -> None:
    check = check_new_data(
        [landed("landing/date=2024-06-01/a.csv", 3600), landed("landing/date=2024-06-02/a.csv", seconds_ago)],
        prefix=PREFIX,
        previous_watermark="",
        checks_done=0,
        plan=data_plan(settle_seconds=120),
        now=NOW,
        settle_checks_done=settle_checks_done,
    )

    assert (check.enough, check.settling) == (True, settling)
    assert check.settle_checks_done == settle_checks_done + (1 if settling else 0)
    # A look while data settles does not use up one of the checks for enough data.
    assert check.checks_done == (0 if settling else 1)
    assert check.last_landed_at == utc_iso(NOW - timedelta(seconds=seconds_ago))


def test_without_settle_time_or_enough_data_nothing_settles() -> None:
    fresh = [landed("landing/date=2024-06-01/a.csv", 1)]
    no_settle = check_new_data(fresh, prefix=PREFIX, previous_watermark="", checks_done=0, plan=data_plan(), now=NOW)
    too_little = check_new_data(
        fresh,
        prefix=PREFIX,
        previous_watermark="",
        checks_done=0,
        plan=data_plan(settle_seconds=120, min_new_objects=2),
        now=NOW,
    )

    assert (no_settle.enough, no_settle.settling) == (True, False)
    assert (too_little.enough, too_little.settling, too_little.keep_waiting) == (False, False, True)
