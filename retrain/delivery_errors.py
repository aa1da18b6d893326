"""The run's share of the records the delivery stream refused: which objects under `[stream].error_prefix`
belong to this run, and how many records of each error type they hold.

Firehose keeps a record it cannot parse or partition under the error prefix, at
`<error_prefix><error-output-type>/<arrival day>/<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<random>`
(infra/streaming.py; developer guide, "Custom prefixes for Amazon S3 objects": the `firehose` namespace's
`error-output-type`, e.g. `processing-failed` for a record whose partitioning keys cannot be extracted,
`format-conversion-failed`; "Amazon S3 object name format"). Such a record has no event day, so it
belongs to no landing window: a run counts the error objects that *arrived* in its window instead,
(after, until] on their S3 LastModified, where `after` is the mark the last counting run left in the
state table's WATERMARK item and `until` is this run's start. Not by key: keys sort by error type first,
and their time is the oldest record's arrival, so an object written late (after Firehose's retries)
would sort before a key already counted and be missed; LastModified is when S3 made the object visible.

- Exactly once: windows are contiguous (each starts where the last one that advanced the mark ended),
  and an object is in the window its LastModified falls into. A retry or redrive of a run reuses its
  CheckForNewData result (the window is in the execution's state), so it counts the same set.
- The mark moves with the landing watermark, in the same item and the same write: AdvanceWatermark
  (KeptChampion) or PromoteChampion's transaction. A run that fails, is rejected or times out leaves it,
  so the next run counts those records again, with its own data: they are reported, never lost.
- At most `max_objects` objects a run: a bigger window is cut at the last object's LastModified (ties
  kept together) and the rest goes to the next run, so the count stays exact and the Lambda bounded.

Why CheckForNewData counts and not the Glue job: the window needs each object's S3 LastModified, which
the job would not see the same way locally (the local Glue runs Spark on file copies of its s3://
arguments, stamped with the copy's time), so one code path means boto3 in a Lambda; it already reads the
state table the mark lives in; and the result travels in the execution's state, so a retried or redriven
PrepareData writes the same counts. The job only copies the summary into quality.json (one writer of it).
Only a run that will train counts (not every WaitForData loop).
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable

from retrain.contracts import DeliveryErrors, RunPlan
from retrain.ports import ErrorObjectStore, ModifiedObject
from retrain.s3_uri import split_s3_uri

MAX_LISTED_KEYS = 10
MAX_OBJECTS = 200
UNKNOWN_TYPE = "unknown"
_GZIP_MAGIC = b"\x1f\x8b"


def error_type(key: str, prefix: str) -> str:
    """The `!{firehose:error-output-type}` folder right under the error prefix."""
    rest = key[len(prefix) :] if key.startswith(prefix) else ""
    folder, slash, _ = rest.partition("/")
    return folder if slash and folder else UNKNOWN_TYPE


def window_objects(
    objects: Iterable[ModifiedObject], *, after: str, until: str, max_objects: int = MAX_OBJECTS
) -> tuple[list[ModifiedObject], str]:
    """The objects modified in (after, until], oldest first, and the window's actual end.

    Times are `retrain.timestamps.utc_iso` strings, so they compare as text. Beyond `max_objects` the
    window ends at the last kept object's time; objects of that same time stay in, as they must be
    counted by one run."""
    inside = sorted(
        (item for item in objects if item.size > 0 and (not after or item.modified > after) and item.modified <= until),
        key=lambda item: (item.modified, item.key),
    )
    if len(inside) <= max_objects:
        return inside, until
    end = inside[max_objects - 1].modified
    return [item for item in inside if item.modified <= end], end


def count_records(body: bytes) -> int:
    """Firehose writes one JSON document a line per refused record (gzip-compressed when the stream is)."""
    if body.startswith(_GZIP_MAGIC):
        body = gzip.decompress(body)
    return sum(1 for line in body.splitlines() if line.strip())


def count_delivery_errors(run: RunPlan, previous_mark: str, store: ErrorObjectStore) -> DeliveryErrors:
    """This run's window of the error prefix, counted. Without [stream], only the window (no S3 call)."""
    uri = run.data.delivery_errors_uri
    if not uri:
        return DeliveryErrors(after=previous_mark, until=run.started_at)
    bucket, prefix = split_s3_uri(uri)
    objects, until = window_objects(store.list_modified(bucket, prefix), after=previous_mark, until=run.started_at)
    by_type: Counter[str] = Counter()
    for item in objects:
        body = store.read(bucket, item.key)
        by_type[error_type(item.key, prefix)] += count_records(body) if body else 0
    return DeliveryErrors(
        error_prefix_uri=uri,
        after=previous_mark,
        until=until,
        records=sum(by_type.values()),
        objects=len(objects),
        by_type=dict(sorted(by_type.items())),
        keys=[item.key for item in objects[:MAX_LISTED_KEYS]],
    )
