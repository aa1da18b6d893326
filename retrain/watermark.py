"""CheckForNewData's rule: which landing objects are new, and is there enough of them to retrain.

Landing data arrives as `<landing_prefix>date=YYYY-MM-DD/<file>`. The watermark is the last landing
key a promoted model was trained on; keys sort by partition date first, so every key after the
watermark (S3 lists keys in that order) is new data. A file that lands late in a partition older
than the watermark is not picked up: land data in the current day's partition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from retrain.contracts import NO_CHAMPION, CheckForNewDataEvent, DataCheck, DataPlan
from retrain.delivery_errors import count_delivery_errors
from retrain.ports import ErrorObjectStore, LandingObject, ObjectStore, PipelineStateTable
from retrain.s3_uri import split_s3_uri

_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})/([^/]+)")


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
) -> DataCheck:
    """Count the data objects listed after the watermark and decide whether to train or wait."""
    count = size = 0
    dates: list[str] = []
    newest = previous_watermark
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
    enough = count >= plan.min_new_objects and size >= plan.min_new_bytes
    checks = checks_done + 1
    return DataCheck(
        enough=enough,
        keep_waiting=not enough and checks < plan.max_data_checks,
        checks_done=checks,
        new_objects=count,
        new_bytes=size,
        previous_watermark=previous_watermark,
        new_watermark=newest,
        window_start=min(dates, default=""),
        window_end=max(dates, default=""),
        champion_model_uri=champion_model_uri,
    )


def check_for_new_data(
    event: CheckForNewDataEvent, store: PipelineStateTable, objects: ObjectStore, errors: ErrorObjectStore
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
    )
    if not check.enough:
        return check
    return check.model_copy(
        update={"delivery_errors": count_delivery_errors(run, store.delivery_errors_mark(), errors)}
    )
