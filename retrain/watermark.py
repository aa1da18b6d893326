"""CheckForNewData's rule: which landing objects are new, and is there enough of them to retrain.

Landing data arrives as `<landing_prefix>date=YYYY-MM-DD/<file>`. The watermark is the last landing
key a promoted model was trained on; keys sort by partition date first, so every key after the
watermark (S3 lists keys in that order) is new data. A file that lands late in a partition older
than the watermark is not picked up: land data in the current day's partition.

A batch of files lands over seconds or minutes, and its first file starts the run. So a check that finds
enough data of which some landed less than `settle_seconds` ago says *settling*: the run waits that long
and looks again, until the newest file is that old (or `MAX_SETTLE_CHECKS` looks), and one run trains on
the whole batch instead of its first file and a follow-up run on the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from retrain.contracts import NO_CHAMPION, CheckForNewDataEvent, DataCheck, DataPlan
from retrain.delivery_errors import count_delivery_errors
from retrain.ports import ErrorObjectStore, LandingObject, ObjectStore, PipelineStateTable
from retrain.s3_uri import split_s3_uri

_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})/([^/]+)")
# Looks while data keeps landing, before the run takes what is there: a stream that never pauses
# cannot hold a retrain back forever (with 120 s of settle time: 20 minutes at most).
MAX_SETTLE_CHECKS = 10


def partition_key(prefix: str, day: date, file_name: str) -> str:
    """Where a data file of `day` lands: the one layout `partition_date` counts."""
    if "/" in file_name or file_name.startswith(("_", ".")) or not file_name:
        raise ValueError(f"{file_name!r} is not a landing file name: no '/', and no leading '_' or '.'")
    return f"{prefix}date={day.isoformat()}/{file_name}"


def partition_date(key: str, prefix: str) -> str | None:
    """The ISO date of a landing data object, or None for anything else.

    Not data: folder markers, `_SUCCESS`/`_temporary` and hidden files (Spark and Hadoop leave them),
    keys outside a `date=` partition or nested deeper, and impossible dates.
    """
    if not key.startswith(prefix):
        return None
    match = _PARTITION.fullmatch(key[len(prefix) :])
    if match is None or match.group(2).startswith(("_", ".")):
        return None
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        return None


def check_new_data(
    objects: Iterable[LandingObject],
    *,
    prefix: str,
    previous_watermark: str,
    checks_done: int,
    plan: DataPlan,
    champion_model_uri: str = NO_CHAMPION,
    now: datetime | None = None,
    settle_checks_done: int = 0,
) -> DataCheck:
    """Count the data objects listed after the watermark and decide whether to train, wait for more,
    or wait for what is landing to settle (`now`: the time of the check, timezone-aware)."""
    count = size = 0
    dates: list[str] = []
    newest = previous_watermark
    last_landed = ""
    for item in objects:
        day = partition_date(item.key, prefix)
        # Zero-byte objects are markers or failed uploads, and keys at or before the watermark
        # were trained on already (a listing that ignores StartAfter must not count them twice).
        if day is None or item.size <= 0 or item.key <= previous_watermark:
            continue
        count += 1
        size += item.size
        dates.append(day)
        newest = max(newest, item.key)
        last_landed = max(last_landed, item.modified)
    enough = count >= plan.min_new_objects and size >= plan.min_new_bytes
    settling = enough and settle_checks_done < MAX_SETTLE_CHECKS and _still_landing(last_landed, plan, now)
    return DataCheck(
        enough=enough,
        keep_waiting=not enough and checks_done + 1 < plan.max_data_checks,
        # A look while the data settles is not one of the checks for enough data.
        checks_done=checks_done if settling else checks_done + 1,
        settling=settling,
        settle_checks_done=settle_checks_done + 1 if settling else settle_checks_done,
        last_landed_at=last_landed,
        new_objects=count,
        new_bytes=size,
        previous_watermark=previous_watermark,
        new_watermark=newest,
        window_start=min(dates, default=""),
        window_end=max(dates, default=""),
        champion_model_uri=champion_model_uri,
    )


def _still_landing(last_landed: str, plan: DataPlan, now: datetime | None) -> bool:
    if plan.settle_seconds <= 0 or not last_landed or now is None:
        return False
    return now - datetime.fromisoformat(last_landed) < timedelta(seconds=plan.settle_seconds)


def check_for_new_data(
    event: CheckForNewDataEvent,
    store: PipelineStateTable,
    objects: ObjectStore,
    errors: ErrorObjectStore,
    now: datetime | None = None,
) -> DataCheck:
    """The landing check; a run that will train also counts its window of refused records."""
    run = event.run
    bucket, prefix = split_s3_uri(run.data.landing_uri)
    previous = store.watermark()
    champion = store.champion()
    check = check_new_data(
        objects.list_after(bucket, prefix, previous),
        prefix=prefix,
        previous_watermark=previous,
        checks_done=event.checks_done,
        plan=run.data,
        champion_model_uri=champion.model_data_url if champion else NO_CHAMPION,
        now=now,
        settle_checks_done=event.settle_checks_done,
    )
    if not check.enough or check.settling:
        return check
    return check.model_copy(
        update={"delivery_errors": count_delivery_errors(run, store.delivery_errors_mark(), errors)}
    )
