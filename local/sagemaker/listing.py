"""The List* operations' common request: filters, sorting and NextToken pagination."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

from local.sagemaker.errors import SageMakerError
from local.sagemaker.store import Record

DEFAULT_MAX_RESULTS = 10  # what SageMaker's List operations return when MaxResults is not given


def _seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    raise SageMakerError.validation(f"{value!r} is not a timestamp")


class ListRequest:
    """One List* request against a set of records of one kind."""

    def __init__(
        self,
        request: dict[str, Any],
        name_key: str,
        status_key: str | None = None,
        sort_fields: dict[str, str] | None = None,
        default_sort: str = "CreationTime",
    ) -> None:
        self._request = request
        self._name_key = name_key
        self._status_key = status_key
        self._sort_fields = sort_fields or {"Name": name_key, "CreationTime": "CreationTime"}
        self._default_sort = default_sort

    def select(self, records: list[Record], extra: Callable[[Record], bool] | None = None) -> list[Record]:
        request = self._request
        chosen = []
        for record in records:
            if request.get("NameContains") and request["NameContains"].lower() not in record[self._name_key].lower():
                continue
            status = request.get("StatusEquals")
            if self._status_key and status and record.get(self._status_key) != status:
                continue
            if not self._in_window(record, "CreationTime", "CreationTimeAfter", "CreationTimeBefore"):
                continue
            if not self._in_window(record, "LastModifiedTime", "LastModifiedTimeAfter", "LastModifiedTimeBefore"):
                continue
            if extra is not None and not extra(record):  # a Python filter, not Django  # nosec B610
                continue
            chosen.append(record)
        sort_by = request.get("SortBy") or self._default_sort
        field = self._sort_fields.get(sort_by)
        if field is None:
            raise SageMakerError.validation(
                f"SortBy must be one of {', '.join(sorted(self._sort_fields))}, got {sort_by!r}"
            )
        descending = (request.get("SortOrder") or "Descending") == "Descending"
        chosen.sort(key=lambda record: (record.get(field) is None, record.get(field) or 0), reverse=descending)
        return chosen

    def _in_window(self, record: Record, field: str, after: str, before: str) -> bool:
        value = record.get(field)
        if value is None:
            return True
        if self._request.get(after) is not None and not value > _seconds(self._request[after]):
            return False
        return not (self._request.get(before) is not None and not value < _seconds(self._request[before]))

    def page(self, records: list[Record]) -> tuple[list[Record], str | None]:
        token = self._request.get("NextToken")
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except (ValueError, UnicodeDecodeError):
            raise SageMakerError.validation(
                f"NextToken {token!r} is not valid: pass the token a list returned"
            ) from None
        size = int(self._request.get("MaxResults") or DEFAULT_MAX_RESULTS)
        chunk = records[start : start + size]
        following = start + size
        next_token = base64.urlsafe_b64encode(str(following).encode()).decode() if following < len(records) else None
        return chunk, next_token
