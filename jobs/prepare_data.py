"""AWS Glue (PySpark) job: landing data -> checked, cleaned, featured, time-split Parquet.

Arguments (Glue passes every one as a string, `--name value`):
  --run_name              the pipeline run, for the record
  --landing_uri           s3://bucket/landing/ holding date=YYYY-MM-DD/ partitions
  --output_uri            s3://bucket/processed/<run>/ receiving train/, validation/, test/, quality.json
  --window_end            YYYY-MM-DD, the newest partition to read
  --training_window_days  how many days of partitions, up to window_end, to read
  --input_format          csv (with a header row) | json (JSON lines) | parquet
  --dataset               the `[dataset]` table of retrain.toml as JSON
  --catalog_database      optional, with --catalog_table: the Glue database and table the run's splits are
  --catalog_table         registered in after they are written (`catalog.py`: why the job and not a crawler)
  --delivery_errors       optional: JSON, the records the delivery stream refused in the run's window, as
                          CheckForNewData counted them (retrain.delivery_errors: why there); copied into
                          quality.json when the pipeline has a [stream]

Only the partitions inside the window are listed and read. Failures end the job with its failure line
on stderr (`failure_line.py`), `<ErrorName>: <what and how to fix>`, whose first token the pipeline maps
to its error (SchemaMismatch, DataQualityError, InvalidJobArguments). Every path goes through Spark and
the Hadoop FileSystem API, so the job reads and writes s3:// on Glue and file:// elsewhere without
knowing which.

This script is the orchestration; its pieces ship beside it as flat modules (the `--extra-py-files`
zip): `landing.py` reads the window and checks the schema, `cleaning.py` types the columns and names
each dropped row's reason, `time_split.py` splits by event time and summarizes the splits,
`hadoop_storage.py` lists and writes files, `catalog.py` registers the output in the Glue Data Catalog,
`prepare_failures.py` holds the failures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from catalog import PARTITION_KEYS, RunRegistration, WrittenSplit, glue_columns, parent_folder, register_run
from cleaning import REASON, FileDrops, RowCleaner
from failure_line import run_job
from features import FeatureSpec, FeatureSpecError
from hadoop_storage import HadoopStorage
from landing import FILE_SUFFIXES, LandingBatch, LandingReader, LandingWindow, col, quoted
from prepare_failures import DataQualityError, InvalidJobArguments
from time_split import MICROS, SPLIT, SPLITS, TimeSplitter, check_splits, iso, split_summary

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

ARGUMENTS = (
    "run_name",
    "landing_uri",
    "output_uri",
    "window_end",
    "training_window_days",
    "input_format",
    "dataset",
)
CATALOG_ARGUMENTS = ("catalog_database", "catalog_table")  # both or neither
OPTIONAL_ARGUMENTS = (*CATALOG_ARGUMENTS, "delivery_errors")
QUALITY_FILE = "quality.json"
FEATURE_SPEC_FILE = "_feature_spec.json"  # "_" prefix: Spark, pandas and pyarrow readers skip it
MIN_CLEAN_ROWS = 100
ROWS_PER_OUTPUT_FILE = 1_000_000


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
            for name in OPTIONAL_ARGUMENTS:
                parser.add_argument(f"--{name}")
            known, _ = parser.parse_known_args(list(argv[1:]))
            return {name: value for name in (*ARGUMENTS, *OPTIONAL_ARGUMENTS) if (value := getattr(known, name))}
        # getResolvedOptions requires every name it is given: the optional ones only when passed.
        given = [name for name in OPTIONAL_ARGUMENTS if f"--{name}" in argv]
        resolved = getResolvedOptions(list(argv), [*ARGUMENTS, *given])
        return {name: resolved[name] for name in (*ARGUMENTS, *given)}
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
    max_dropped_fraction: float = 0.5
    catalog_database: str | None = None
    catalog_table: str | None = None
    delivery_errors: dict[str, Any] | None = None  # None: no [stream], nothing refused to report

    @property
    def window_start(self) -> date:
        return self.window_end - timedelta(days=self.training_window_days - 1)

    @property
    def landing(self) -> LandingWindow:
        return LandingWindow(self.landing_uri, self.input_format, self.window_start, self.window_end)

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
        dataset = _json_object("dataset", arguments["dataset"], "the [dataset] table of retrain.toml")
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
        catalog = [arguments.get(name) for name in CATALOG_ARGUMENTS]
        if any(catalog) and not all(catalog):
            raise InvalidJobArguments("--catalog_database and --catalog_table go together: pass both or neither")
        clashing = sorted({column.lower() for column in spec.schema} & set(PARTITION_KEYS)) if all(catalog) else []
        if clashing:
            raise InvalidJobArguments(
                f"--dataset: column {clashing[0]!r} is named as a partition key of the catalog table "
                f"({', '.join(PARTITION_KEYS)}); rename the column in the data and [dataset.schema]"
            )
        max_dropped = dataset.get("max_dropped_fraction", 0.5)
        if isinstance(max_dropped, bool) or not isinstance(max_dropped, (int, float)) or not 0 < max_dropped <= 1:
            raise InvalidJobArguments(f"--dataset: max_dropped_fraction must be in (0, 1], got {max_dropped!r}")
        refused = arguments.get("delivery_errors")
        delivery_errors = _json_object("delivery_errors", refused, "CheckForNewData's summary") if refused else None
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
            max_dropped_fraction=float(max_dropped),
            catalog_database=catalog[0],
            catalog_table=catalog[1],
            # Without [stream] (no error prefix) there is nothing refused to report.
            delivery_errors=delivery_errors if delivery_errors and delivery_errors.get("error_prefix_uri") else None,
        )


def _json_object(name: str, text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InvalidJobArguments(f"--{name} is not JSON ({error}); pass {what} as JSON") from None
    if not isinstance(value, dict):
        raise InvalidJobArguments(f"--{name} must be a JSON object: {what}")
    return value


def _folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


# --- the job --------------------------------------------------------------------------------------


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
        batch = LandingReader(self.spark, self.storage, spec, options.landing).read()
        self._log(f"reading {len(batch.files)} files from {len(batch.partitions)} partitions")

        cleaner = RowCleaner(spec)
        reasoned = cleaner.with_reasons(cleaner.parse(batch)).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            return self._prepare(batch, cleaner, reasoned)
        finally:
            reasoned.unpersist()

    def _prepare(self, batch: LandingBatch, cleaner: RowCleaner, reasoned: SparkFrame) -> dict[str, Any]:
        from pyspark import inheritable_thread_target
        from pyspark.sql import functions as F

        options, spec = self.options, self.spec
        cleaning, drops = cleaner.summarize(reasoned)
        cleaner.check_types(cleaning.columns, batch)
        self._log(f"read {cleaning.rows_read} rows, kept {cleaning.rows_kept}, dropped {_describe(cleaning.dropped)}")
        check_landed_files(batch, drops, options)
        if cleaning.rows_kept < MIN_CLEAN_ROWS:
            raise DataQualityError(
                f"only {cleaning.rows_kept} usable rows of {cleaning.rows_read} read in "
                f"{options.window_start}..{options.window_end} (dropped: {_describe(cleaning.dropped)}); at least "
                f"{MIN_CLEAN_ROWS} are needed: fix the landing data or widen training_window_days"
            )

        clean = reasoned.where(F.col(REASON).isNull()).select(*[col(c) for c in spec.schema])
        clean = spec.add_spark_features(clean)
        clean = clean.withColumn(MICROS, F.expr(f"unix_micros({quoted(spec.timestamp_column)})"))
        clean = TimeSplitter(options.validation_fraction, options.test_fraction).assign(clean)
        splits, missing_values = split_summary(spec, clean)
        check_splits(spec, splits)
        self._log("split by time: " + ", ".join(f"{name} {splits[name]['rows']}" for name in SPLITS))

        columns = {
            "train": [*spec.feature_columns, spec.target],
            "validation": [*spec.feature_columns, spec.target],
            "test": [spec.id_column, spec.timestamp_column, *spec.feature_columns, spec.target],
        }
        spec_json = json.dumps(spec.to_dict(), indent=2) + "\n"

        def write(split: str) -> tuple[str, str, dict[str, Any]]:
            files = max(1, math.ceil(splits[split]["rows"] / ROWS_PER_OUTPUT_FILE))
            target_uri = f"{options.output_uri}{split}/"
            frame = clean.where(F.col(SPLIT) == split).select(*[col(c) for c in columns[split]])
            frame.coalesce(files).write.mode("overwrite").parquet(target_uri)
            self.storage.write_text(target_uri + FEATURE_SPEC_FILE, spec_json)
            self._log(f"wrote {target_uri}")
            return split, target_uri, frame.schema.jsonValue()

        # The splits are written at once, each its own Spark job: a split of up to ROWS_PER_OUTPUT_FILE rows is
        # one file, so one task, and one after the other they left every executor core but one idle.
        with ThreadPoolExecutor(max_workers=len(SPLITS)) as pool:
            pending = [pool.submit(inheritable_thread_target(write), split) for split in SPLITS]
            written = [future.result() for future in pending]
        self._register(written)

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
            # Records the delivery stream refused (kept under its error prefix, never read here) in the run's window.
            **({"delivery_errors": options.delivery_errors} if options.delivery_errors else {}),
            "created_at": iso(int(datetime.now(timezone.utc).timestamp() * 1_000_000)),
        }
        self.storage.write_text(options.output_uri + QUALITY_FILE, json.dumps(quality, indent=2) + "\n")
        return quality

    def _register(self, written: list[tuple[str, str, dict[str, Any]]]) -> None:
        options = self.options
        if not (options.catalog_database and options.catalog_table):
            return
        import boto3  # provided by Glue; only a registering run needs it

        registration = RunRegistration(
            database=options.catalog_database,
            table=options.catalog_table,
            table_location=parent_folder(options.output_uri),
            run_name=options.run_name,
            splits=[WrittenSplit(name, uri, glue_columns(schema)) for name, uri, schema in written],
        )
        done = register_run(boto3.client("glue"), registration)
        self._log(f"registered in {options.catalog_database}.{options.catalog_table}: {done}")

    def _log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"prepare_data[{self.options.run_name}] {elapsed:7.1f}s {message}", flush=True)


MAX_NAMED_FILES = 5


def check_landed_files(batch: LandingBatch, drops: Mapping[str, FileDrops], options: JobOptions) -> None:
    """A file mostly dropped, or one of another data format, fails the run: trained past, its day would be
    behind the watermark, and corrected data re-landed for it never read. The run fails before anything
    is written, so the watermark stays where it was."""
    limit = options.max_dropped_fraction
    own = FILE_SUFFIXES[options.input_format]
    other = tuple(
        suffix for name, suffixes in FILE_SUFFIXES.items() if name != options.input_format for suffix in suffixes
    )
    problems = [
        f"{landed_name(uri)} (a {options.input_format} run ignores it)"
        for uri in batch.ignored_files
        if uri.lower().endswith(other) and not uri.lower().endswith(own)
    ]
    if limit < 1:
        problems += [
            f"{landed_name(file.uri)} ({file.describe()})"
            for file in sorted(drops.values(), key=lambda found: found.uri)
            if file.share > limit
        ]
    if not problems:
        return
    more = len(problems) - MAX_NAMED_FILES
    named = "; ".join(problems[:MAX_NAMED_FILES]) + (f"; and {more} more" if more > 0 else "")
    raise DataQualityError(
        f"{len(problems)} files under [data].landing_prefix mostly dropped or ignored (more than {limit:.0%} of "
        f"rows, [dataset].max_dropped_fraction): {named}; fix and re-land them (the watermark stays before their "
        f"days), or remove them"
    )


def landed_name(uri: str) -> str:
    """`date=YYYY-MM-DD/<file>`: the file under the landing prefix, however the reader spells its URI."""
    start = uri.rfind("/date=")
    return uri[start + 1 :] if start >= 0 else uri


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
