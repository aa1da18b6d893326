"""The run's window of refused records (retrain.delivery_errors): which error objects a run counts."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from retrain.contracts import DataPlan, RunPlan
from retrain.delivery_errors import (
    MAX_LISTED_KEYS,
    UNKNOWN_TYPE,
    count_delivery_errors,
    count_records,
    error_type,
    window_objects,
)
from retrain.ports import ModifiedObject

PREFIX = "stream-errors/"
NAME = "s-landing-1-2026-11-26-10-00-00-0f1e"


def at(minute: int) -> str:
    return f"2026-11-26T10:{minute:02d}:00.000000Z"


def error_object(minute: int, kind: str = "processing-failed", size: int = 10) -> ModifiedObject:
    return ModifiedObject(f"{PREFIX}{kind}/2026-11-26/{NAME}{minute:02d}", size, at(minute))


class FakeErrors:
    def __init__(self, bodies: dict[ModifiedObject, bytes]) -> None:
        self.bodies = bodies
        self.listed: list[tuple[str, str]] = []
        self.read_keys: list[str] = []

    def list_modified(self, bucket: str, prefix: str) -> Iterable[ModifiedObject]:
        self.listed.append((bucket, prefix))
        return list(self.bodies)

    def read(self, bucket: str, key: str) -> bytes | None:
        self.read_keys.append(key)
        return next((body for item, body in self.bodies.items() if item.key == key), None)


def run_plan(started_at: str, errors_uri: str = f"s3://b/{PREFIX}") -> RunPlan:
    # Only the fields the count reads.
    fields: dict[str, Any] = {
        "started_at": started_at,
        "data": DataPlan.model_construct(delivery_errors_uri=errors_uri),
    }
    return RunPlan.model_construct(**fields)


def keys(found: list[ModifiedObject]) -> list[str]:
    return [item.key[-2:] for item in found]


def test_the_window_is_after_the_mark_up_to_the_runs_start_oldest_first() -> None:
    listed = [error_object(5), error_object(1), error_object(3), error_object(7), error_object(2, size=0)]

    found, until = window_objects(listed, after=at(1), until=at(5))

    assert (keys(found), until) == (["03", "05"], at(5))  # (after, until]; empty objects are no records


def test_consecutive_windows_count_each_object_once_however_the_keys_sort() -> None:
    # A late object (an older arrival in its name, so an earlier key) still falls in exactly one window.
    late = ModifiedObject(f"{PREFIX}format-conversion-failed/2026-11-25/{NAME}99", 5, at(6))
    listed = [error_object(1), error_object(4), late, error_object(8)]
    marks = ["", at(2), at(6), at(9)]

    windows = [keys(window_objects(listed, after=a, until=u)[0]) for a, u in pairwise(marks)]

    assert windows == [["01"], ["04", "99"], ["08"]]


def test_a_window_beyond_the_bound_is_cut_and_the_rest_left_to_the_next_run() -> None:
    listed = [error_object(m) for m in (1, 2, 2, 3, 4)]
    listed[2] = ModifiedObject(listed[2].key + "b", 10, at(2))  # two objects of the same second

    first, end = window_objects(listed, after="", until=at(9), max_objects=2)
    rest, _ = window_objects(listed, after=end, until=at(9), max_objects=2)

    assert (len(first), end) == (3, at(2))  # ties stay together
    assert keys(rest) == ["03", "04"]


def test_the_error_type_is_the_folder_firehose_names() -> None:
    assert error_type(f"{PREFIX}processing-failed/2026-11-26/x", PREFIX) == "processing-failed"
    assert error_type(f"{PREFIX}stray-file", PREFIX) == UNKNOWN_TYPE
    assert error_type("elsewhere/processing-failed/x", PREFIX) == UNKNOWN_TYPE


def test_records_are_the_lines_compressed_or_not() -> None:
    lines = b'{"errorCode": "a"}\n{"errorCode": "b"}\n\n'
    assert count_records(lines) == 2
    assert count_records(gzip.compress(lines)) == 2
    assert count_records(b"") == 0


def test_a_run_counts_records_by_type_and_names_the_first_objects() -> None:
    bodies = {error_object(m): b"{}\n{}\n" for m in range(1, 13)}
    bodies[error_object(13, "format-conversion-failed")] = b"{}\n"
    bodies[error_object(20)] = b"{}\n"  # arrived after the run started: the next run's
    store = FakeErrors(bodies)

    counted = count_delivery_errors(run_plan(at(15)), at(0), store)

    assert (counted.records, counted.objects) == (25, 13)
    assert counted.by_type == {"format-conversion-failed": 1, "processing-failed": 24}
    assert (counted.after, counted.until, counted.error_prefix_uri) == (at(0), at(15), f"s3://b/{PREFIX}")
    assert len(counted.keys) == MAX_LISTED_KEYS and counted.keys[0].endswith("01")
    assert store.listed == [("b", PREFIX)] and len(store.read_keys) == 13


def test_without_a_stream_nothing_is_listed_and_the_window_still_moves() -> None:
    store = FakeErrors({error_object(1): b"{}\n"})

    counted = count_delivery_errors(run_plan(at(15), errors_uri=""), at(0), store)

    assert (counted.records, counted.objects, counted.by_type, counted.error_prefix_uri) == (0, 0, {}, "")
    assert (counted.after, counted.until) == (at(0), at(15))
    assert store.listed == [] and store.read_keys == []
