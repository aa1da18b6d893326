"""Times as the pipeline stores them: UTC ISO 8601 with microseconds and a `Z`.

One fixed format makes times in the state table compare correctly as strings (the champion
ordering relies on it), whatever format Step Functions or a person supplied.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_time(value: str) -> str:
    """`value` (any ISO 8601 time; naive means UTC) in the stored format; ValueError if not a time."""
    return utc_iso(datetime.fromisoformat(value))
