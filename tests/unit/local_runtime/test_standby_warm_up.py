"""A Spark standby's warm-up (`standby_driver.warm_spark`): a round trip that leaves nothing behind, cut short
once a script has come so that the run waits for at most one step of it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime import standby_driver
from tests.support.spark import local_spark

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from local_spark("standby-warm-up-tests")


def warm_up(spark: Any, group: str, pending: Any) -> list[int]:
    """The Spark jobs `warm_spark(pending)` ran (in the getOrCreate'd session, which is `spark`)."""
    spark.sparkContext.setJobGroup(group, "standby warm-up")
    try:
        standby_driver.warm_spark(pending)
    finally:
        spark.sparkContext.setJobGroup("", "")
    return list(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def test_the_round_trip_runs_jobs_and_leaves_no_folder_cache_or_table(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The warm-up's folder goes where tempfile puts it: this test's own folder, not the machine's /tmp, where a
    # standby of any other local AWS on the machine makes and removes folders of the same name.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert warm_up(spark, "whole", lambda: False)
    assert list(tmp_path.iterdir()) == []
    assert spark.sparkContext._jsc.getPersistentRDDs().isEmpty()
    assert spark.catalog.listTables() == []


def test_a_script_that_has_come_cuts_the_round_trip_short(spark: Any) -> None:
    whole = warm_up(spark, "again", lambda: False)
    assert warm_up(spark, "at-once", lambda: True) == []  # the session and the imports only
    checks: list[int] = []

    def after_the_first_check() -> bool:
        checks.append(1)
        return len(checks) > 1

    cut = warm_up(spark, "cut", after_the_first_check)
    assert 0 < len(cut) < len(whole)
    assert spark.sparkContext._jsc.getPersistentRDDs().isEmpty()
