"""The Glue job's input: the landing partitions inside the window, read by Spark and checked against
the configured schema (a missing column or one of another type is a `SchemaMismatch`)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import reduce
from typing import TYPE_CHECKING

from features import FeatureSpec
from hadoop_storage import HadoopStorage
from prepare_failures import DataQualityError, SchemaMismatch

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession
    from pyspark.sql import DataFrame as SparkFrame

FILE_SUFFIXES = {
    "csv": (".csv", ".csv.gz", ".csv.bz2"),
    "json": (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz"),
    "parquet": (".parquet",),
}
CORRUPT = "__corrupt_record"

# Source types that a configured type can be read from without being a schema break.
COMPATIBLE_SOURCE_TYPES = {
    "string": ("string", "tinyint", "smallint", "int", "bigint", "float", "double", "boolean", "date"),
    "long": ("string", "tinyint", "smallint", "int", "bigint"),
    "double": ("string", "tinyint", "smallint", "int", "bigint", "float", "double"),
    "boolean": ("string", "boolean"),
    "timestamp": ("string", "timestamp", "timestamp_ntz", "date"),
}


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def col(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col(quoted(name))


def partitions_in_window(names: Sequence[str], start: date, end: date) -> list[tuple[date, str]]:
    """(day, name) of the `date=YYYY-MM-DD` names within [start, end], oldest first; others are ignored."""
    selected = []
    for name in names:
        if not name.startswith("date="):
            continue
        try:
            day = date.fromisoformat(name[len("date=") :])
        except ValueError:
            continue
        if start <= day <= end:
            selected.append((day, name))
    return sorted(selected)


@dataclass
class LandingBatch:
    frame: SparkFrame  # the configured columns as read, plus CORRUPT (text of a malformed record)
    source_types: dict[str, str]
    partitions: list[str]
    files: list[str]
    ignored_files: list[str]
    extra_columns: list[str]


@dataclass(frozen=True)
class LandingWindow:
    """Where and what to read: the `date=` partitions under `landing_uri` within [start, end]."""

    landing_uri: str
    input_format: str
    start: date
    end: date


class LandingReader:
    def __init__(self, spark: SparkSession, storage: HadoopStorage, spec: FeatureSpec, window: LandingWindow) -> None:
        self.spark = spark
        self.storage = storage
        self.window = window
        self.spec = spec

    def read(self) -> LandingBatch:
        source = self.window
        folders = {item.name: item for item in self.storage.children(source.landing_uri) if item.is_folder}
        window = partitions_in_window(list(folders), source.start, source.end)
        if not window:
            raise DataQualityError(
                f"no date=YYYY-MM-DD partitions under {source.landing_uri} between {source.start} "
                f"and {source.end}; upload data there or move --window_end"
            )
        suffixes = FILE_SUFFIXES[source.input_format]
        files: list[str] = []
        ignored: list[str] = []
        for _, name in window:
            for item in self.storage.children(folders[name].uri):
                if item.is_folder or item.name.startswith(("_", ".")):
                    continue
                if item.name.lower().endswith(suffixes):
                    files.append(item.uri)
                else:
                    ignored.append(item.uri)
        if not files:
            raise DataQualityError(
                f"no {source.input_format} files in {len(window)} partitions under {source.landing_uri} "
                f"({source.start}..{source.end}); {len(ignored)} files of other kinds, e.g. "
                f"{', '.join(ignored[:2]) or 'none'}; check --input_format ([data].input_format)"
            )
        if source.input_format == "csv":
            frame = self._read_csv(files)
        elif source.input_format == "json":
            frame = self._read_json(files)
        else:
            frame = self._read_parquet(files)
        frame = self._check_columns(frame, files)
        source_types = {column: frame.schema[column].dataType.simpleString() for column in self.spec.schema}
        return LandingBatch(
            frame=frame.select(*[col(column) for column in self.spec.schema], col(CORRUPT)),
            source_types=source_types,
            partitions=[name for _, name in window],
            files=files,
            ignored_files=ignored,
            extra_columns=sorted(set(frame.columns) - set(self.spec.schema) - {CORRUPT}),
        )

    def _read_csv(self, files: list[str]) -> SparkFrame:
        """Read files grouped by header, so a file whose columns differ is read by name, not position."""
        from pyspark.sql.types import StringType, StructField, StructType

        groups: dict[tuple[str, ...], list[str]] = {}
        for uri in files:
            line = self.storage.first_line(uri)
            if line is None or not line.strip():
                continue
            header = tuple(name.strip() for name in next(csv.reader([line.lstrip("\ufeff")])))
            duplicated = sorted({name for name in header if header.count(name) > 1})
            if duplicated:
                raise SchemaMismatch(
                    f"{uri} repeats header columns {', '.join(duplicated)}; each column may appear once"
                )
            missing = [column for column in self.spec.schema if column not in header]
            if missing:
                raise SchemaMismatch(
                    f"{uri} lacks configured columns {', '.join(missing)}: expected {self._expected(missing)}, "
                    f"found header [{', '.join(header)}]; fix the producer's export or [dataset.schema]"
                )
            groups.setdefault(header, []).append(uri)
        if not groups:
            return self._empty_frame()
        frames = []
        for header, group in groups.items():
            fields = [StructField(name, StringType()) for name in header]
            schema = StructType([*fields, StructField(CORRUPT, StringType())])
            frame = (
                self.spark.read.schema(schema)
                .option("header", "true")
                .option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", CORRUPT)
                .csv(group)
            )
            frames.append(frame)
        return reduce(lambda left, right: left.unionByName(right, allowMissingColumns=True), frames)

    def _read_json(self, files: list[str]) -> SparkFrame:
        from pyspark.sql import functions as F

        frame = (
            self.spark.read.option("primitivesAsString", "true")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT)
            .json(files)
        )
        if CORRUPT not in frame.columns:
            frame = frame.withColumn(CORRUPT, F.lit(None).cast("string"))
        return frame

    def _read_parquet(self, files: list[str]) -> SparkFrame:
        try:
            return self.spark.read.option("mergeSchema", "true").parquet(*files)
        except Exception as error:  # Spark reports the conflict through JVM exceptions of several kinds
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            if "merg" not in message.lower():
                raise
            raise SchemaMismatch(
                f"the parquet files in the window disagree on column types ({message[:300]}); rewrite the odd "
                f"partitions with the types of [dataset.schema]"
            ) from None

    def _empty_frame(self) -> SparkFrame:
        from pyspark.sql.types import StringType, StructField, StructType

        names = [*self.spec.schema, CORRUPT]
        return self.spark.createDataFrame([], StructType([StructField(name, StringType()) for name in names]))

    def _check_columns(self, frame: SparkFrame, files: list[str]) -> SparkFrame:
        from pyspark.sql import functions as F

        missing = [column for column in self.spec.schema if column not in frame.columns]
        if missing:
            raise SchemaMismatch(
                f"landing data ({len(files)} {self.window.input_format} files, e.g. {files[0]}) lacks configured "
                f"columns {', '.join(missing)}: expected {self._expected(missing)}, found "
                f"[{', '.join(c for c in frame.columns if c != CORRUPT)}]; fix the producer or [dataset.schema]"
            )
        wrong = []
        for column, type_name in self.spec.schema.items():
            found = frame.schema[column].dataType.simpleString()
            if found not in COMPATIBLE_SOURCE_TYPES[type_name]:
                wrong.append(f"{column} (expected {type_name}, found {found})")
        if wrong:
            raise SchemaMismatch(
                f"landing columns of another type: {'; '.join(wrong)}; fix the producer or [dataset.schema]"
            )
        if CORRUPT not in frame.columns:
            frame = frame.withColumn(CORRUPT, F.lit(None).cast("string"))
        return frame

    def _expected(self, columns: list[str]) -> str:
        return ", ".join(f"{column} {self.spec.schema[column]}" for column in columns)
