"""A user's data files on their way into the landing prefix (`retrain land`): found, read, checked
against `[dataset.schema]`, and planned as objects of the landing layout (`retrain.watermark`).

Values are checked with the Glue job's own parsers (jobs/features.py), so a file that lands here is
one the job parses: a value it would drop as unparseable refuses the whole file instead, naming the
file, the row and the column. Nothing is uploaded until every file has passed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cli.landing import CONTENT_TYPES, load_job_module
from retrain.config import DatasetConfig
from retrain.errors import RetrainError
from retrain.watermark import partition_key

# What `land` reads of each `[data].input_format`: the uncompressed names among those the Glue job
# reads (FILE_SUFFIXES in jobs/landing.py; a unit test keeps them a subset).
FILE_SUFFIXES = {"csv": (".csv",), "json": (".json", ".jsonl", ".ndjson"), "parquet": (".parquet",)}
VALUE_HINTS = {
    "string": "text",
    "long": "a whole number such as 42",
    "double": "a finite number such as 3.5",
    "boolean": "true/false, yes/no, t/f, y/n or 1/0",
    "timestamp": "ISO 8601 such as 2025-01-31T14:05:00Z (UTC without an offset)",
}


class LandError(RetrainError):
    """A file cannot land; the message names the file (and the row and column) and the fix."""


@dataclass
class DataFile:
    """One file as read: its bytes, each column's raw values, and how to write some of its rows."""

    path: Path
    body: bytes
    columns: dict[str, list[Any]]
    rows: int
    line_numbers: list[int] | None  # JSON lines: where each record is; else records count from 1
    subset: Callable[[list[int]], bytes]

    def row(self, index: int) -> str:
        return f"line {self.line_numbers[index]}" if self.line_numbers else f"row {index + 1}"


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes
    content_type: str
    source: Path
    rows: int
    day: date


def find_files(paths: Sequence[str], input_format: str) -> list[Path]:
    """The files named, and those inside the folders named (hidden and `_` files skipped, as Spark does);
    any of another format than the configured one is refused."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                item
                for item in path.rglob("*")
                if item.is_file() and not any(part.startswith((".", "_")) for part in item.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise LandError(f"{name}: no such file or folder")
    if not found:
        raise LandError(f"no files in {', '.join(paths)}")
    suffixes = FILE_SUFFIXES[input_format]
    for path in found:
        if not path.name.lower().endswith(suffixes):
            raise LandError(
                f"{path}: not a {input_format} file ([data].input_format is {input_format}: "
                f"{', '.join(suffixes)}); convert it, or land it into a pipeline configured for its format"
            )
    return found


def read_file(path: Path, input_format: str) -> DataFile:
    return read_body(path, path.read_bytes(), input_format)


def read_body(path: Path, body: bytes, input_format: str) -> DataFile:
    """The bytes of a file (local, or an object named `path`) read as `input_format`."""
    try:
        if input_format == "csv":
            return _read_csv(path, body)
        if input_format == "json":
            return _read_json_lines(path, body)
        return _read_parquet(path, body)
    except LandError:
        raise
    except Exception as error:  # each reader's own errors (pandas, pyarrow, UnicodeDecodeError)
        raise LandError(f"{path}: not readable as {input_format}: {error}") from None


def _read_csv(path: Path, body: bytes) -> DataFile:
    # pandas where it is used: importing it (over a second of CPU) is the commands' whole start otherwise, and
    # every `retrain` command imports this module (`retrain invoke` replays landed files).
    import pandas as pd

    # Every value as its text, empty meaning missing: what the Glue job's CSV reader hands its parsers.
    frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_filter=False)
    return DataFile(
        path,
        body,
        {str(column): frame[column].tolist() for column in frame.columns},
        len(frame),
        None,
        lambda rows: frame.iloc[rows].to_csv(index=False).encode(),
    )


def _read_json_lines(path: Path, body: bytes) -> DataFile:
    lines = body.decode("utf-8").splitlines()
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise LandError(f"{path}, line {number}: not JSON ({error}); write one JSON object per line") from None
        if not isinstance(record, dict):
            raise LandError(f"{path}, line {number}: not a JSON object; write one object per line")
        records.append(record)
        numbers.append(number)
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = {name: [record.get(name) for record in records] for name in names}
    return DataFile(
        path,
        body,
        columns,
        len(records),
        numbers,
        lambda rows: "".join(lines[numbers[row] - 1] + "\n" for row in rows).encode(),
    )


def _read_parquet(path: Path, body: bytes) -> DataFile:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(body))

    def subset(rows: list[int]) -> bytes:
        sink = io.BytesIO()
        pq.write_table(table.take(pa.array(rows, type=pa.int64())), sink)
        return sink.getvalue()

    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    return DataFile(path, body, columns, table.num_rows, None, subset)


def check_schema(data: DataFile, dataset: DatasetConfig, *, need_days: bool) -> list[date | None]:
    """Refuse a file that lacks a configured column or holds a value its type cannot parse; return each
    row's UTC day of the timestamp column (required of every row when `need_days`)."""
    if data.rows == 0:
        raise LandError(f"{data.path}: no rows; nothing to land")
    missing = [column for column in dataset.schema_ if column not in data.columns]
    if missing:
        raise LandError(
            f"{data.path}: no column {', '.join(missing)} of [dataset.schema]; it has {', '.join(data.columns)}"
        )
    import pandas as pd  # as in _read_csv

    parsers = load_job_module("features.py").PARSERS
    days: list[date | None] = []
    for column, type_name in dataset.schema_.items():
        values = pd.Series(data.columns[column], dtype=object)
        typed, invalid = parsers[type_name].pandas(values)
        if invalid.any():
            index = int(invalid.to_numpy().argmax())
            raise LandError(
                f"{data.path}, {data.row(index)}, column {column}: {values.iloc[index]!r} is not a {type_name} "
                f"(expected {VALUE_HINTS[type_name]})"
            )
        if column == dataset.timestamp_column:
            days = [None if pd.isna(stamp) else stamp.date() for stamp in typed]
    if need_days and None in days:
        index = days.index(None)
        raise LandError(
            f"{data.path}, {data.row(index)}, column {dataset.timestamp_column}: empty, so its day is unknown; "
            "fill it, or pass --date YYYY-MM-DD to land the whole file under one day"
        )
    return days


def plan_uploads(
    data: DataFile, days: list[date | None], prefix: str, input_format: str, day: date | None
) -> list[Upload]:
    """The objects of one file: all of it under `day`, else one object per day of its rows (the file as
    it is when all its rows share a day), each named after the file."""
    content_type = CONTENT_TYPES[input_format]
    if day is not None:
        return [Upload(partition_key(prefix, day, data.path.name), data.body, content_type, data.path, data.rows, day)]
    rows_of: dict[date, list[int]] = {}
    for index, found in enumerate(days):
        assert found is not None  # check_schema(need_days=True) refused empty timestamps
        rows_of.setdefault(found, []).append(index)
    if len(rows_of) == 1:
        [(only, rows)] = rows_of.items()
        return [
            Upload(partition_key(prefix, only, data.path.name), data.body, content_type, data.path, len(rows), only)
        ]
    return [
        Upload(
            partition_key(prefix, found, data.path.name), data.subset(rows), content_type, data.path, len(rows), found
        )
        for found, rows in sorted(rows_of.items())
    ]


def check_keys(uploads: Iterable[Upload], watermark: str) -> None:
    """Refuse what the pipeline would never count: two files on one key, or a key at or before the
    watermark (CheckForNewData counts only keys listed after it)."""
    sources: dict[str, Path] = {}
    for upload in uploads:
        if upload.key in sources and sources[upload.key] != upload.source:
            raise LandError(
                f"{sources[upload.key]} and {upload.source} would both land as {upload.key}; rename one of them"
            )
        sources[upload.key] = upload.source
        if upload.key <= watermark:
            raise LandError(
                f"{upload.source} would land as {upload.key}, at or before the newest data already trained on "
                f"({watermark}), so no run would count it: land it under a later day (--date), or name it so "
                "that it sorts after that key"
            )


def complete_row(data: DataFile, columns: Sequence[str]) -> str | None:
    """The first row of `data` with a value in each of `columns`, as one CSV line in that order (None
    when no row has them all, or a value holds a comma or quote that a bare CSV line cannot)."""
    if any(column not in data.columns for column in columns):
        return None
    return next((line for index in range(data.rows) if (line := csv_line(data, columns, index))), None)


def csv_line(data: DataFile, columns: Sequence[str], index: int) -> str | None:
    """Row `index` of `data` as one bare CSV line of `columns`, or None when a value is missing or holds a
    comma, quote or newline (what the endpoint's CSV reader takes: a request row)."""
    values = ["" if data.columns[column][index] is None else str(data.columns[column][index]) for column in columns]
    if all(value.strip() for value in values) and not any(mark in "".join(values) for mark in ',"\n'):
        return ",".join(values)
    return None
