"""AWS Glue (PySpark) job: landing data -> checked, cleaned, featured, time-split Parquet.

Arguments (Glue passes every one as a string, `--name value`):
  --run_name              the pipeline run, for the record
  --landing_uri           s3://bucket/landing/ holding date=YYYY-MM-DD/ partitions
  --output_uri            s3://bucket/processed/<run>/ receiving train/, validation/, test/, quality.json
  --window_end            YYYY-MM-DD, the newest partition to read
  --training_window_days  how many days of partitions, up to window_end, to read
  --input_format          csv (with a header row) | json (JSON lines) | parquet
  --dataset               the `[dataset]` table of retrain.toml as JSON

Only the partitions inside the window are listed and read. Failures end the job with its failure line
on stderr (`failure_line.py`), `<ErrorName>: <what and how to fix>`, whose first token the pipeline maps
to its error (SchemaMismatch, DataQualityError, InvalidJobArguments). Every path goes through Spark and
the Hadoop FileSystem API, so the job reads and writes s3:// on Glue and file:// elsewhere without
knowing which.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import reduce
from typing import TYPE_CHECKING, Any

from failure_line import JobFailure, run_job
from features import FeatureSpec, FeatureSpecError

if TYPE_CHECKING:
    from pyspark.sql import Column, SparkSession
    from pyspark.sql import DataFrame as SparkFrame

ARGUMENTS = (
    "run_name",
    "landing_uri",
    "output_uri",
    "window_end",
    "training_window_days",
    "input_format",
    "dataset",
)
FILE_SUFFIXES = {
    "csv": (".csv", ".csv.gz", ".csv.bz2"),
    "json": (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz"),
    "parquet": (".parquet",),
}
SPLITS = ("train", "validation", "test")
QUALITY_FILE = "quality.json"
FEATURE_SPEC_FILE = "_feature_spec.json"  # "_" prefix: Spark, pandas and pyarrow readers skip it
MIN_CLEAN_ROWS = 100
# Above this share of unparseable values a column is of another type, not merely dirty.
SCHEMA_MISMATCH_SHARE = 0.5
ROWS_PER_OUTPUT_FILE = 1_000_000
QUANTILE_RELATIVE_ERROR = 1e-4

CORRUPT = "__corrupt_record"
REASON = "__drop_reason"
SPLIT = "__split"
MICROS = "__event_micros"

# Source types that a configured type can be read from without being a schema break.
COMPATIBLE_SOURCE_TYPES = {
    "string": ("string", "tinyint", "smallint", "int", "bigint", "float", "double", "boolean", "date"),
    "long": ("string", "tinyint", "smallint", "int", "bigint"),
    "double": ("string", "tinyint", "smallint", "int", "bigint", "float", "double"),
    "boolean": ("string", "boolean"),
    "timestamp": ("string", "timestamp", "timestamp_ntz", "date"),
}


class SchemaMismatch(JobFailure):
    """Landing data lacks a configured column or holds it with another type."""


class DataQualityError(JobFailure):
    """Too little usable data for a model to be trained and evaluated on."""


class InvalidJobArguments(JobFailure):
    """The job was started with arguments it cannot use (a definition/job mismatch)."""


# --- arguments ------------------------------------------------------------------------------------


def resolve_arguments(argv: Sequence[str]) -> dict[str, str]:
    """The job's arguments from `argv` (program name first); Glue's own extra arguments are ignored."""
    try:
        try:
            from awsglue.utils import getResolvedOptions  # only inside Glue
        except ImportError:
            parser = argparse.ArgumentParser(prog="prepare_data.py", add_help=False)
            for name in ARGUMENTS:
                parser.add_argument(f"--{name}", required=True)
            known, _ = parser.parse_known_args(list(argv[1:]))
            return {name: getattr(known, name) for name in ARGUMENTS}
        resolved = getResolvedOptions(list(argv), list(ARGUMENTS))
        return {name: resolved[name] for name in ARGUMENTS}
    except SystemExit:  # both parsers exit on a missing argument
        shown = " ".join(argv[1:])
        raise InvalidJobArguments(f"expected --{' --'.join(ARGUMENTS)}; got {shown[:500] or 'no arguments'}") from None


@dataclass(frozen=True)
class JobOptions:
    run_name: str
    landing_uri: str
    output_uri: str
    window_end: date
    training_window_days: int
    input_format: str
    spec: FeatureSpec
    validation_fraction: float
    test_fraction: float

    @property
    def window_start(self) -> date:
        return self.window_end - timedelta(days=self.training_window_days - 1)

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, str]) -> JobOptions:
        try:
            window_end = date.fromisoformat(arguments["window_end"])
        except ValueError:
            raise InvalidJobArguments(
                f"--window_end must be a date YYYY-MM-DD, got {arguments['window_end']!r}"
            ) from None
        try:
            days = int(arguments["training_window_days"])
        except ValueError:
            days = 0
        if days < 1:
            raise InvalidJobArguments(
                f"--training_window_days must be a whole number >= 1, got {arguments['training_window_days']!r}"
            )
        input_format = arguments["input_format"].strip().lower()
        if input_format not in FILE_SUFFIXES:
            raise InvalidJobArguments(
                f"--input_format must be one of {', '.join(FILE_SUFFIXES)}, got {arguments['input_format']!r}"
            )
        try:
            dataset = json.loads(arguments["dataset"])
        except ValueError as error:
            raise InvalidJobArguments(f"--dataset is not JSON ({error}); pass the [dataset] table as JSON") from None
        if not isinstance(dataset, dict):
            raise InvalidJobArguments("--dataset must be a JSON object: the [dataset] table of retrain.toml")
        try:
            spec = FeatureSpec.from_dataset(dataset)
        except FeatureSpecError as error:
            raise InvalidJobArguments(f"--dataset: {error}") from None
        validation_fraction = float(dataset.get("validation_fraction", 0.15))
        test_fraction = float(dataset.get("test_fraction", 0.15))
        if not (0.0 <= validation_fraction < 1.0 and 0.0 < test_fraction < 1.0):
            raise InvalidJobArguments(
                "--dataset: validation_fraction must be in [0, 1) and test_fraction in (0, 1): "
                "the evaluation needs a test split"
            )
        if validation_fraction + test_fraction >= 0.9:
            raise InvalidJobArguments("--dataset: validation_fraction + test_fraction must leave 10% to train on")
        return cls(
            run_name=arguments["run_name"],
            landing_uri=_folder(arguments["landing_uri"]),
            output_uri=_folder(arguments["output_uri"]),
            window_end=window_end,
            training_window_days=days,
            input_format=input_format,
            spec=spec,
            validation_fraction=validation_fraction,
            test_fraction=test_fraction,
        )


def _folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


# --- storage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    name: str
    uri: str
    is_folder: bool
    size: int


class HadoopStorage:
    """Listing, peeking and small writes through the Hadoop FileSystem of the Spark session.

    The same calls reach S3 on Glue (EMRFS) and the local file system elsewhere.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._jvm: Any = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def children(self, uri: str) -> list[StoredObject]:
        path = self._path(uri)
        system = path.getFileSystem(self._conf)
        if not system.exists(path):
            return []
        found = []
        for status in system.listStatus(path):
            child = status.getPath()
            found.append(StoredObject(child.getName(), child.toString(), status.isDirectory(), status.getLen()))
        return sorted(found, key=lambda item: item.name)

    def first_line(self, uri: str) -> str | None:
        """The first line of a (possibly compressed) text file, or None when it is empty."""
        path = self._path(uri)
        stream = path.getFileSystem(self._conf).open(path)
        codec = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(self._conf).getCodec(path)
        if codec is not None:
            stream = codec.createInputStream(stream)
        reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
        try:
            line = reader.readLine()
        finally:
            reader.close()
        return None if line is None else str(line)

    def write_text(self, uri: str, text: str) -> None:
        path = self._path(uri)
        stream = path.getFileSystem(self._conf).create(path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()


# --- reading the window ---------------------------------------------------------------------------


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


class LandingReader:
    def __init__(self, spark: SparkSession, storage: HadoopStorage, options: JobOptions) -> None:
        self.spark = spark
        self.storage = storage
        self.options = options
        self.spec = options.spec

    def read(self) -> LandingBatch:
        options = self.options
        folders = {item.name: item for item in self.storage.children(options.landing_uri) if item.is_folder}
        window = partitions_in_window(list(folders), options.window_start, options.window_end)
        if not window:
            raise DataQualityError(
                f"no date=YYYY-MM-DD partitions under {options.landing_uri} between {options.window_start} "
                f"and {options.window_end}; upload data there or move --window_end"
            )
        suffixes = FILE_SUFFIXES[options.input_format]
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
                f"no {options.input_format} files in {len(window)} partitions under {options.landing_uri} "
                f"({options.window_start}..{options.window_end}); {len(ignored)} files of other kinds, e.g. "
                f"{', '.join(ignored[:2]) or 'none'}; check --input_format ([data].input_format)"
            )
        if options.input_format == "csv":
            frame = self._read_csv(files)
        elif options.input_format == "json":
            frame = self._read_json(files)
        else:
            frame = self._read_parquet(files)
        frame = self._check_columns(frame, files)
        source_types = {column: frame.schema[column].dataType.simpleString() for column in self.spec.schema}
        return LandingBatch(
            frame=frame.select(*[_col(column) for column in self.spec.schema], _col(CORRUPT)),
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
                f"landing data ({len(files)} {self.options.input_format} files, e.g. {files[0]}) lacks configured "
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


# --- cleaning -------------------------------------------------------------------------------------

DUPLICATE = "duplicate_id"


@dataclass(frozen=True)
class CleaningSummary:
    rows_read: int
    dropped: dict[str, int]
    columns: dict[str, dict[str, int]]  # column -> {"present": n, "unparseable": n}

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.dropped.values())


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _col(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col(_quoted(name))


class RowCleaner:
    """Types every configured column and names the reason each dropped row is dropped for.

    Reasons, first match wins so that the counts add up to the rows dropped: malformed_record (the
    reader could not split it), unparseable_<column>, null_<column> (id, timestamp and target are
    required; features may be missing), target_not_binary, duplicate_id (a later copy of an id).
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.columns = list(spec.schema)

    @staticmethod
    def bad_flag(index: int) -> str:
        return f"__bad_{index}"

    def _typed(self, column: str, batch: LandingBatch) -> tuple[Column, Column]:
        """(value of the configured type, flag of a present value that is not of that type)."""
        from pyspark.sql import functions as F

        string_source = batch.source_types[column] == "string"
        typed = self.spec.spark_parse(column, string_source)
        raw = _col(column)
        present = F.trim(raw) != "" if string_source else raw.isNotNull()
        return typed, F.coalesce(present & typed.isNull(), F.lit(False))

    def parse(self, batch: LandingBatch) -> SparkFrame:
        selected = []
        for index, column in enumerate(self.columns):
            typed, bad = self._typed(column, batch)
            selected += [typed.alias(column), bad.alias(self.bad_flag(index))]
        selected.append(_col(CORRUPT).isNotNull().alias(CORRUPT))
        return batch.frame.select(*selected)

    def reasons(self) -> list[tuple[Column, str]]:
        """(condition, reason) in order of precedence, duplicates aside."""
        from pyspark.sql import functions as F

        spec = self.spec
        found: list[tuple[Column, str]] = [(F.col(CORRUPT), "malformed_record")]
        for index, column in enumerate(self.columns):
            found.append((F.col(self.bad_flag(index)), f"unparseable_{column}"))
        for column in spec.required_columns:
            found.append((_col(column).isNull(), f"null_{column}"))
        found.append((~_col(spec.target).isin(0, 1), "target_not_binary"))
        return found

    def with_reasons(self, parsed: SparkFrame) -> SparkFrame:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        spec = self.spec
        conditions = self.reasons()
        reason = F.when(conditions[0][0], F.lit(conditions[0][1]))
        for condition, name in conditions[1:]:
            reason = reason.when(condition, F.lit(name))
        frame = parsed.withColumn(REASON, reason)
        # One row per id among the well-formed rows: the earliest event, ties broken by every value.
        order = [_col(spec.timestamp_column)] + [_col(column).asc_nulls_last() for column in self.columns]
        window = Window.partitionBy(_col(spec.id_column), F.col(REASON).isNull()).orderBy(*order)
        rank = F.row_number().over(window)
        return frame.withColumn(
            REASON, F.when(F.col(REASON).isNull() & (rank > 1), F.lit(DUPLICATE)).otherwise(F.col(REASON))
        )

    def summarize(self, reasoned: SparkFrame) -> CleaningSummary:
        """One pass over every row read: counts per drop reason, present and unparseable values per column."""
        from pyspark.sql import functions as F

        reason_names = [name for _, name in self.reasons()] + [DUPLICATE]
        aggregates = [F.count(F.lit(1)).alias("rows")]
        for index, name in enumerate(reason_names):
            aggregates.append(F.sum((F.col(REASON) == name).cast("long")).alias(f"reason_{index}"))
        for index, column in enumerate(self.columns):
            bad = F.col(self.bad_flag(index))
            aggregates.append(F.sum(bad.cast("long")).alias(f"bad_{index}"))
            aggregates.append(F.sum((_col(column).isNotNull() | bad).cast("long")).alias(f"present_{index}"))
        row = reasoned.agg(*aggregates).collect()[0]
        dropped = {name: int(row[f"reason_{i}"] or 0) for i, name in enumerate(reason_names)}
        return CleaningSummary(
            rows_read=int(row["rows"]),
            dropped={name: count for name, count in sorted(dropped.items()) if count},
            columns={
                column: {"present": int(row[f"present_{i}"] or 0), "unparseable": int(row[f"bad_{i}"] or 0)}
                for i, column in enumerate(self.columns)
            },
        )

    def check_types(self, stats: dict[str, dict[str, int]], batch: LandingBatch) -> None:
        """A column most of whose values are not of its configured type is a schema break, not dirt."""
        from pyspark.sql import functions as F

        broken = []
        for column in self.columns:
            present, unparseable = stats[column]["present"], stats[column]["unparseable"]
            if unparseable and unparseable > SCHEMA_MISMATCH_SHARE * present:
                _, bad = self._typed(column, batch)
                examples = (
                    batch.frame.select(_col(column).cast("string").alias("raw"), bad.alias("bad"))
                    .where(F.col("bad"))
                    .select("raw")
                    .distinct()
                    .limit(3)
                    .collect()
                )
                found = ", ".join(repr(str(row["raw"])) for row in examples)
                broken.append(
                    f"{column} (expected {self.spec.schema[column]}, found values like {found}; "
                    f"{unparseable} of {present} values unparseable)"
                )
        if broken:
            raise SchemaMismatch(
                f"landing columns not of their configured type: {'; '.join(broken)}; fix the producer's "
                f"export or the column's type in [dataset.schema]"
            )


# --- the time split -------------------------------------------------------------------------------


class TimeSplitter:
    """Oldest rows train, the next validate, the newest test: no split sees the future of an earlier one."""

    def __init__(self, validation_fraction: float, test_fraction: float) -> None:
        self.validation_fraction = validation_fraction
        self.test_fraction = test_fraction

    def boundaries(self, frame: SparkFrame) -> tuple[float, float]:
        """Event times (micros) where validation and test begin."""
        train_share = 1.0 - self.validation_fraction - self.test_fraction
        quantiles = frame.approxQuantile(MICROS, [train_share, 1.0 - self.test_fraction], QUANTILE_RELATIVE_ERROR)
        validation_start, test_start = quantiles
        if self.validation_fraction == 0.0:
            validation_start = test_start
        return validation_start, test_start

    def assign(self, frame: SparkFrame) -> SparkFrame:
        from pyspark.sql import functions as F

        validation_start, test_start = self.boundaries(frame)
        micros = F.col(MICROS)
        split = (
            F.when(micros >= F.lit(test_start), F.lit("test"))
            .when(micros >= F.lit(validation_start), F.lit("validation"))
            .otherwise(F.lit("train"))
        )
        return frame.withColumn(SPLIT, split)


# --- the job --------------------------------------------------------------------------------------


def _iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    moment = datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


class PrepareDataJob:
    def __init__(self, spark: SparkSession, options: JobOptions) -> None:
        self.spark = spark
        self.options = options
        self.spec = options.spec
        self.storage = HadoopStorage(spark)
        self.started = time.monotonic()

    def run(self) -> dict[str, Any]:
        from pyspark import StorageLevel

        options, spec = self.options, self.spec
        # Semantics, not tuning: timestamps without an offset are UTC and hour features are UTC hours;
        # a CSV record with too few or too many fields is flagged even when some columns go unread.
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.spark.conf.set("spark.sql.csv.parser.columnPruning.enabled", "false")
        batch = LandingReader(self.spark, self.storage, options).read()
        self._log(f"reading {len(batch.files)} files from {len(batch.partitions)} partitions")

        cleaner = RowCleaner(spec)
        reasoned = cleaner.with_reasons(cleaner.parse(batch)).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            return self._prepare(batch, cleaner, reasoned)
        finally:
            reasoned.unpersist()

    def _prepare(self, batch: LandingBatch, cleaner: RowCleaner, reasoned: SparkFrame) -> dict[str, Any]:
        from pyspark.sql import functions as F

        options, spec = self.options, self.spec
        cleaning = cleaner.summarize(reasoned)
        cleaner.check_types(cleaning.columns, batch)
        self._log(f"read {cleaning.rows_read} rows, kept {cleaning.rows_kept}, dropped {_describe(cleaning.dropped)}")
        if cleaning.rows_kept < MIN_CLEAN_ROWS:
            raise DataQualityError(
                f"only {cleaning.rows_kept} usable rows of {cleaning.rows_read} read in "
                f"{options.window_start}..{options.window_end} (dropped: {_describe(cleaning.dropped)}); at least "
                f"{MIN_CLEAN_ROWS} are needed: fix the landing data or widen training_window_days"
            )

        clean = reasoned.where(F.col(REASON).isNull()).select(*[_col(c) for c in spec.schema])
        clean = spec.add_spark_features(clean)
        clean = clean.withColumn(MICROS, F.expr(f"unix_micros({_quoted(spec.timestamp_column)})"))
        clean = TimeSplitter(options.validation_fraction, options.test_fraction).assign(clean)
        splits, missing_values = self._split_summary(clean)
        self._check_splits(splits)
        self._log("split by time: " + ", ".join(f"{name} {splits[name]['rows']}" for name in SPLITS))

        columns = {
            "train": [*spec.feature_columns, spec.target],
            "validation": [*spec.feature_columns, spec.target],
            "test": [spec.id_column, spec.timestamp_column, *spec.feature_columns, spec.target],
        }
        spec_json = json.dumps(spec.to_dict(), indent=2) + "\n"
        for split in SPLITS:
            files = max(1, math.ceil(splits[split]["rows"] / ROWS_PER_OUTPUT_FILE))
            target_uri = f"{options.output_uri}{split}/"
            (
                clean.where(F.col(SPLIT) == split)
                .select(*[_col(c) for c in columns[split]])
                .coalesce(files)
                .write.mode("overwrite")
                .parquet(target_uri)
            )
            self.storage.write_text(target_uri + FEATURE_SPEC_FILE, spec_json)
            self._log(f"wrote {target_uri}")

        quality = {
            "run_name": options.run_name,
            "landing_uri": options.landing_uri,
            "output_uri": options.output_uri,
            "input_format": options.input_format,
            "window": {
                "start": options.window_start.isoformat(),
                "end": options.window_end.isoformat(),
                "days": options.training_window_days,
                "partitions": batch.partitions,
                "files_read": len(batch.files),
                "files_ignored": batch.ignored_files,
            },
            "rows_read": cleaning.rows_read,
            "rows_kept": cleaning.rows_kept,
            "rows_dropped": cleaning.rows_read - cleaning.rows_kept,
            "dropped": cleaning.dropped,
            "unparseable_values": {c: s["unparseable"] for c, s in cleaning.columns.items() if s["unparseable"]},
            "missing_feature_values": missing_values,
            "extra_columns": batch.extra_columns,
            "splits": splits,
            "target": spec.target,
            "feature_columns": spec.feature_columns,
            "categorical_columns": spec.categorical_columns,
            "created_at": _iso(int(datetime.now(timezone.utc).timestamp() * 1_000_000)),
        }
        self.storage.write_text(options.output_uri + QUALITY_FILE, json.dumps(quality, indent=2) + "\n")
        return quality

    def _split_summary(self, clean: SparkFrame) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        """Per split: rows, positives, time range; and over all kept rows: missing values per feature."""
        from pyspark.sql import functions as F

        features = self.spec.raw_feature_columns
        rows = (
            clean.groupBy(SPLIT)
            .agg(
                F.count(F.lit(1)).alias("rows"),
                F.sum(_col(self.spec.target)).alias("positives"),
                F.min(MICROS).alias("start"),
                F.max(MICROS).alias("end"),
                *[F.sum(_col(c).isNull().cast("long")).alias(f"missing_{i}") for i, c in enumerate(features)],
            )
            .collect()
        )
        found = {row[SPLIT]: row for row in rows}
        summary: dict[str, dict[str, Any]] = {}
        for split in SPLITS:
            row = found.get(split)
            count = int(row["rows"]) if row else 0
            positives = int(row["positives"] or 0) if row else 0
            summary[split] = {
                "rows": count,
                "positives": positives,
                "positive_rate": round(positives / count, 6) if count else None,
                "time_range": {
                    "start": _iso(row["start"]) if row else None,
                    "end": _iso(row["end"]) if row else None,
                },
            }
        missing = {c: sum(int(row[f"missing_{i}"] or 0) for row in rows) for i, c in enumerate(features)}
        return summary, {column: count for column, count in missing.items() if count}

    def _check_splits(self, summary: dict[str, dict[str, Any]]) -> None:
        fix = "widen training_window_days, raise the split's fraction, or check the labels of the landing data"
        for split in ("train", "test"):
            rows, positives = summary[split]["rows"], summary[split]["positives"]
            if rows == 0:
                raise DataQualityError(f"the {split} split is empty; {fix}")
            if positives == 0:
                raise DataQualityError(
                    f"no positive labels ({self.spec.target} = 1) in the {split} split of {rows} rows; {fix}"
                )
            if positives == rows:
                raise DataQualityError(
                    f"no negative labels ({self.spec.target} = 0) in the {split} split of {rows} rows; {fix}"
                )

    def _log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"prepare_data[{self.options.run_name}] {elapsed:7.1f}s {message}", flush=True)


def _describe(dropped: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in sorted(dropped.items())) or "none"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv if argv is None else ["prepare_data.py", *argv])
    return run_job(lambda: _prepare(arguments))


def _prepare(arguments: list[str]) -> None:
    options = JobOptions.from_arguments(resolve_arguments(arguments))
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(f"prepare-data-{options.run_name}").getOrCreate()
    quality = PrepareDataJob(spark, options).run()
    splits = ", ".join(f"{name} {quality['splits'][name]['rows']}" for name in SPLITS)
    print(f"prepare_data: wrote {splits} rows to {options.output_uri}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
