"""An Athena query of the pipeline's catalog, as a client runs one: StartQueryExecution in the stack's
workgroup with the catalog database as context, GetQueryExecution polled with a bound, then every page
of GetQueryResults.

Only a SELECT's (DML) first page starts with a header row of the column names (Athena user guide,
"Work with query results": `GetQueryResults`), so it is dropped by the statement type, never by comparing
values. A NULL is a Datum without `VarCharValue`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from retrain.errors import RetrainError

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
DEFAULT_TIMEOUT_SECONDS = 300.0
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.2, 2.0


class QueryFailed(RetrainError):
    """Athena refused the query, it failed or was cancelled, or it did not finish in time."""


@dataclass(frozen=True)
class QueryTarget:
    database: str
    workgroup: str
    output_location: str | None = None  # None: the workgroup's result location


@dataclass
class QueryResult:
    query_id: str
    columns: list[str]
    rows: list[list[str | None]] = field(default_factory=list)
    scanned_bytes: int = 0
    seconds: float = 0.0

    def table_lines(self) -> list[str]:
        """Columns aligned under their names; NULL shown as such."""
        shown = [["NULL" if value is None else value for value in row] for row in self.rows]
        widths = [max([len(name), *(len(row[i]) for row in shown)]) for i, name in enumerate(self.columns)]
        lines = ["  ".join(name.ljust(width) for name, width in zip(self.columns, widths, strict=True)).rstrip()]
        lines.append("  ".join("-" * width for width in widths))
        lines += [
            "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip() for row in shown
        ]
        return lines

    def as_json(self) -> str:
        return json.dumps(
            {"query_id": self.query_id, "rows": [dict(zip(self.columns, row, strict=True)) for row in self.rows]},
            indent=2,
        )


def run_query(
    athena: Any,
    sql: str,
    target: QueryTarget,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> QueryResult:
    request: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Database": target.database},
        "WorkGroup": target.workgroup,
    }
    if target.output_location:
        request["ResultConfiguration"] = {"OutputLocation": target.output_location}
    started = clock()
    query_id = athena.start_query_execution(**request)["QueryExecutionId"]
    execution = _wait(athena, query_id, started + timeout_seconds, sleep, clock)
    status = execution["Status"]
    if status["State"] != "SUCCEEDED":
        reason = " ".join(str(status.get("StateChangeReason") or "no reason given").split())
        raise QueryFailed(f"query {query_id} {status['State']}: {reason}")
    result = QueryResult(query_id, columns=[])
    dml = execution.get("StatementType") == "DML"
    for number, page in enumerate(athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)):
        result_set = page["ResultSet"]
        if number == 0:
            result.columns = [info["Name"] for info in result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
        rows = result_set.get("Rows", [])
        if number == 0 and dml:
            rows = rows[1:]
        result.rows += [[datum.get("VarCharValue") for datum in row.get("Data", [])] for row in rows]
    result.scanned_bytes = int(execution.get("Statistics", {}).get("DataScannedInBytes") or 0)
    result.seconds = clock() - started
    return result


def _wait(
    athena: Any, query_id: str, deadline: float, sleep: Callable[[float], None], clock: Callable[[], float]
) -> dict[str, Any]:
    pause = FIRST_POLL_SECONDS
    while True:
        execution: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in TERMINAL:
            return execution
        if clock() + pause > deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise QueryFailed(
                f"query {query_id} still {execution['Status']['State']} after the timeout; it was cancelled "
                "(raise --timeout, or narrow the query with a WHERE on run)"
            )
        sleep(pause)
        pause = min(pause * 2, MAX_POLL_SECONDS)
