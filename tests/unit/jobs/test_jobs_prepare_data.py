"""prepare_data.py, the Glue job, on local Spark over small landing data in a temporary folder."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import demo_data
import pandas as pd
import pytest
from landing import partitions_in_window
from moto import mock_aws
from prepare_data import JobOptions, main
from prepare_failures import DataQualityError, InvalidJobArguments

from tests.support.jobs import HYPERPARAMETERS, run_script, training_env

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
START = demo_data.DEFAULT_START
ROWS_PER_DAY = 400
SPLITS_START_SECONDS = 60  # a Spark job's start on a busy 2-core machine


def write_day(landing: Path, day: date, content: bytes, name: str = "part-00000.csv") -> Path:
    folder = landing / demo_data.partition_name(day)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def arguments(
    landing: Path, output: Path, window_end: date, days: int, dataset: dict[str, Any], fmt: str = "csv"
) -> list[str]:
    return [
        "--JOB_NAME", "prepare-data", "--run_name", "test-run",
        "--landing_uri", landing.as_uri() + "/", "--output_uri", output.as_uri() + "/",
        "--window_end", window_end.isoformat(), "--training_window_days", str(days),
        "--input_format", fmt, "--dataset", json.dumps(dataset), "--enable-metrics", "true",
    ]  # fmt: skip


def expected_drops(columns: dict[str, list[str | None]]) -> Counter[str]:
    """What the generator made dirty, recognised by its own markers, independently of the job's rules."""
    drops: Counter[str] = Counter()
    seen: set[str] = set()
    for row in range(len(columns["transaction_id"])):
        value = {column: columns[column][row] for column in demo_data.COLUMNS}
        if value["transaction_id"] is None:
            drops["null_transaction_id"] += 1
        elif value["event_time"] is not None and value["event_time"].endswith("noon"):
            drops["unparseable_event_time"] += 1
        elif value["amount"] == "n/a":
            drops["unparseable_amount"] += 1
        elif value["is_fraud"] is None:
            drops["null_is_fraud"] += 1
        elif value["is_fraud"] not in ("0", "1"):
            drops["target_not_binary"] += 1
        elif value["transaction_id"] in seen:
            drops["duplicate_id"] += 1
        else:
            seen.add(value["transaction_id"])
    return drops


def read_parquet_folder(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(path) for path in sorted(folder.glob("*.parquet"))], ignore_index=True)


# --- a good batch -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_run(spark: Any, tmp_path_factory: pytest.TempPathFactory, dataset: dict[str, Any]) -> dict[str, Any]:
    """Eight days landed; the job reads the six up to window_end. One file has its columns in another
    order, one has a record with a missing field, and a stray file and folder sit beside the partitions."""
    root = tmp_path_factory.mktemp("glue-good")
    landing, output = root / "landing", root / "processed" / "run-1"
    days = [START + timedelta(days=n) for n in range(8)]
    generated = {day: demo_data.generate_day(day, rows=ROWS_PER_DAY) for day in days}
    for day in days:
        write_day(landing, day, generated[day].csv_bytes())
    reordered = generated[days[2]].frame()[list(reversed(demo_data.COLUMNS))]
    write_day(landing, days[2], reordered.to_csv(index=False).encode())
    short = write_day(landing, days[3], generated[days[3]].csv_bytes())
    short.write_bytes(short.read_bytes() + b"tx-short,2025-01-04T10:00:00Z,c000001,gas\n")
    write_day(landing, days[4], b"not landing data", name="notes.txt")
    (landing / "tmp").mkdir()
    (landing / "tmp" / "part-00000.csv").write_bytes(generated[days[0]].csv_bytes())

    window = days[1:7]
    catalog = ["--catalog_database", "lake", "--catalog_table", "processed"]
    # The job registers its splits with boto3; moto's Glue in this process stands for the catalog.
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": "us-east-1", **FAKE_CREDENTIALS}), mock_aws():
        glue = boto3.client("glue")
        glue.create_database(DatabaseInput={"Name": "lake"})
        code = main([*arguments(landing, output, window[-1], len(window), dataset), *catalog])
        table = glue.get_table(DatabaseName="lake", Name="processed")["Table"] if code == 0 else {}
        partitions = glue.get_partitions(DatabaseName="lake", TableName="processed")["Partitions"] if code == 0 else []
    return {
        "code": code, "output": output, "window": window, "generated": generated, "table": table,
        "partitions": partitions,
    }  # fmt: skip


@pytest.mark.spark
def test_good_batch_reads_only_the_window_and_counts_every_drop(good_run: dict[str, Any]) -> None:
    assert good_run["code"] == 0
    quality = json.loads((good_run["output"] / "quality.json").read_text())
    window = good_run["window"]
    assert quality["window"]["partitions"] == [demo_data.partition_name(day) for day in window]
    assert quality["window"]["files_read"] == len(window)
    assert "delivery_errors" not in quality  # no [stream]: nothing refused to report
    assert [Path(uri).name for uri in quality["window"]["files_ignored"]] == ["notes.txt"]

    generated = [good_run["generated"][day] for day in window]
    expected = Counter[str]()
    for day in generated:
        expected += expected_drops(day.columns)
    expected["malformed_record"] += 1  # the record with a missing field
    assert quality["rows_read"] == sum(day.rows for day in generated) + 1
    assert quality["dropped"] == dict(sorted(expected.items()))
    assert quality["rows_kept"] == quality["rows_read"] - sum(expected.values())
    assert quality["missing_feature_values"]["distance_from_home_km"] > 0  # kept: the model copes with gaps


@pytest.mark.spark
def test_good_batch_is_split_by_time_into_parquet_with_the_model_columns(
    good_run: dict[str, Any], dataset: dict[str, Any]
) -> None:
    from features import FeatureSpec

    spec = FeatureSpec.from_dataset(dataset)
    output = good_run["output"]
    quality = json.loads((output / "quality.json").read_text())
    splits = quality["splits"]
    assert sum(split["rows"] for split in splits.values()) == quality["rows_kept"]
    for name, share in (("train", 0.70), ("validation", 0.15), ("test", 0.15)):
        assert splits[name]["rows"] / quality["rows_kept"] == pytest.approx(share, abs=0.01)
        assert splits[name]["positives"] > 0
    # No split sees the future of an earlier one.
    assert splits["train"]["time_range"]["end"] <= splits["validation"]["time_range"]["start"]
    assert splits["validation"]["time_range"]["end"] <= splits["test"]["time_range"]["start"]

    train = read_parquet_folder(output / "train")
    test = read_parquet_folder(output / "test")
    assert list(train.columns) == [*spec.feature_columns, "is_fraud"]
    assert list(test.columns) == ["transaction_id", "event_time", *spec.feature_columns, "is_fraud"]
    assert len(train) == splits["train"]["rows"] and len(test) == splits["test"]["rows"]
    assert int(train["is_fraud"].sum()) == splits["train"]["positives"]
    assert test["transaction_id"].is_unique
    stamps = pd.to_datetime(test["event_time"], utc=True)
    assert stamps.min().isoformat().replace("+00:00", "Z") == splits["test"]["time_range"]["start"]
    assert (test["hour_of_day"] == stamps.dt.hour).all()
    for split in ("train", "validation", "test"):
        assert json.loads((output / split / "_feature_spec.json").read_text()) == spec.to_dict()


@pytest.mark.spark
def test_the_three_splits_are_written_at_once(spark: Any, tmp_path: Path, dataset: dict[str, Any]) -> None:
    # A split of up to a million rows is one file, one task: written one after the other, the splits left every
    # executor core but one idle. Each write waits here (bounded) until all three have started.
    from pyspark.sql import DataFrameWriter

    days = [START + timedelta(days=n) for n in range(3)]
    for day in days:
        write_day(tmp_path / "landing", day, demo_data.day_csv(day, rows=300))
    started = threading.Barrier(3, timeout=SPLITS_START_SECONDS)
    parquet = DataFrameWriter.parquet

    def waiting(self: Any, path: str, *args: Any, **kwargs: Any) -> None:
        started.wait()
        parquet(self, path, *args, **kwargs)

    with mock.patch.object(DataFrameWriter, "parquet", waiting):
        code = main(arguments(tmp_path / "landing", tmp_path / "out", days[-1], len(days), dataset))

    assert code == 0
    quality = json.loads((tmp_path / "out" / "quality.json").read_text())
    for split in ("train", "validation", "test"):
        assert len(read_parquet_folder(tmp_path / "out" / split)) == quality["splits"][split]["rows"]


@pytest.mark.spark
def test_the_splits_are_registered_with_the_types_spark_wrote(good_run: dict[str, Any]) -> None:
    import pyarrow.parquet as pq

    output, table = good_run["output"], good_run["table"]
    # Parquet's own schema of the test split, as Athena would read it, against the catalog's Hive types.
    arrow = pq.read_schema(next((output / "test").glob("*.parquet")))
    hive = {"string": "string", "int64": "bigint", "double": "double", "int32": "int", "bool": "boolean"}
    written = [(field.name, hive.get(str(field.type), str(field.type))) for field in arrow]
    columns = [(column["Name"], column["Type"]) for column in table["StorageDescriptor"]["Columns"]]
    assert columns == [(name, "timestamp" if name == "event_time" else kind) for name, kind in written]
    assert [key["Name"] for key in table["PartitionKeys"]] == ["run", "split"]
    assert table["StorageDescriptor"]["Location"] == output.parent.as_uri() + "/"
    located = {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in good_run["partitions"]}
    assert located == {("test-run", split): f"{output.as_uri()}/{split}/" for split in ("train", "validation", "test")}


@pytest.mark.spark
def test_train_py_learns_from_what_the_glue_job_wrote(good_run: dict[str, Any], tmp_path: Path) -> None:
    env = training_env(tmp_path / "opt" / "ml", good_run["output"])
    result = run_script("train.py", HYPERPARAMETERS, env)
    assert result.returncode == 0, result.stderr
    metadata = json.loads((Path(env["SM_MODEL_DIR"]) / "metadata.json").read_text())
    quality = json.loads((good_run["output"] / "quality.json").read_text())
    assert metadata["rows"] == {
        "train": quality["splits"]["train"]["rows"],
        "validation": quality["splits"]["validation"]["rows"],
    }
    assert metadata["validation_metrics"]["roc_auc"] > 0.6


# --- broken batches --------------------------------------------------------------------------------


def last_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return lines[-1]


@pytest.mark.spark
def test_a_missing_column_is_a_schema_mismatch_that_names_it(
    spark: Any, tmp_path: Path, dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    write_day(landing, START, demo_data.day_csv(START, rows=200))
    broken = demo_data.generate_day(START + timedelta(days=1), rows=200).frame().drop(columns=["amount"])
    write_day(landing, START + timedelta(days=1), broken.to_csv(index=False).encode())

    code = main(arguments(landing, tmp_path / "out", START + timedelta(days=1), 2, dataset))

    assert code == 1
    line = last_error_line(capsys)
    assert line.startswith("SchemaMismatch: ")
    assert "lacks configured columns amount: expected amount double" in line
    assert "date=2025-01-02" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.spark
def test_a_column_of_another_type_is_a_schema_mismatch_that_names_it(
    spark: Any, tmp_path: Path, dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    frame = demo_data.generate_day(START, rows=200).frame()
    frame["account_age_days"] = "about a year"
    write_day(landing, START, frame.to_csv(index=False).encode())

    code = main(arguments(landing, tmp_path / "out", START, 1, dataset))

    assert code == 1
    line = last_error_line(capsys)
    assert line.startswith("SchemaMismatch: ")
    assert "account_age_days (expected long, found values like 'about a year'" in line
    assert "[dataset.schema]" in line


@pytest.mark.spark
def test_a_dirty_json_batch_drops_and_counts_each_bad_row(spark: Any, tmp_path: Path, dataset: dict[str, Any]) -> None:
    landing, output = tmp_path / "landing", tmp_path / "out"
    days = [START + timedelta(days=n) for n in range(3)]
    expected = Counter[str]()
    for day in days:
        generated = demo_data.generate_day(day, rows=700)
        expected += expected_drops(generated.columns)
        write_day(landing, day, generated.jsonl_bytes(), name="part-00000.jsonl")
    good = {
        "transaction_id": "tx-extra-1", "event_time": "2025-01-03T12:00:00Z", "customer_id": "c000001",
        "merchant_category": "gas", "amount": 20.5, "distance_from_home_km": 3.0, "account_age_days": 100,
        "device_type": "pos_terminal", "country_mismatch": False, "is_fraud": 0,
    }  # fmt: skip
    extra = [
        json.dumps(good),
        json.dumps(good),  # sent twice
        "{this is not json",
        json.dumps({**good, "transaction_id": "tx-extra-2", "is_fraud": 3}),
        json.dumps({**good, "transaction_id": "tx-extra-3", "account_age_days": "old"}),
        json.dumps({key: value for key, value in good.items() if key != "event_time"} | {"transaction_id": "x4"}),
    ]
    write_day(landing, days[-1], ("\n".join(extra) + "\n").encode(), name="late.jsonl")
    expected.update(
        {"duplicate_id": 1, "malformed_record": 1, "target_not_binary": 1, "unparseable_account_age_days": 1}
    )
    expected["null_event_time"] += 1

    # late.jsonl is mostly dropped (4 of 6 rows): the gate is off here, this test counts the drops.
    # What CheckForNewData counted under the delivery stream's error prefix, as the definition passes it.
    refused = {
        "error_prefix_uri": "s3://b/stream-errors/", "after": "", "until": "2025-01-04T00:00:00.000000Z",
        "records": 1, "objects": 1, "by_type": {"processing-failed": 1},
        "keys": ["stream-errors/processing-failed/2025-01-03/s-1-2025-01-03-12-00-00-a"],
    }  # fmt: skip
    given = arguments(landing, output, days[-1], 3, {**dataset, "max_dropped_fraction": 1.0}, fmt="json")
    code = main([*given, "--delivery_errors", json.dumps(refused)])

    assert code == 0
    quality = json.loads((output / "quality.json").read_text())
    assert quality["input_format"] == "json"
    assert quality["delivery_errors"] == refused
    assert quality["dropped"] == dict(sorted(expected.items()))
    assert quality["rows_read"] == quality["rows_kept"] + sum(expected.values())
    assert quality["unparseable_values"]["account_age_days"] == 1


def typed_parquet(day: date, rows: int, dataset: dict[str, Any]) -> pd.DataFrame:
    """A day as a producer with typed Parquet writes it (timestamps, numbers, booleans)."""
    from features import FeatureSpec

    typed, invalid = FeatureSpec.from_dataset(dataset).parse_pandas(demo_data.generate_day(day, rows=rows).frame())
    typed = typed[~pd.DataFrame(invalid).any(axis=1)]
    return typed.astype({"account_age_days": "Int64", "is_fraud": "Int64", "country_mismatch": "boolean"})


@pytest.mark.spark
def test_too_few_usable_rows_of_typed_parquet_is_a_data_quality_error(
    spark: Any, tmp_path: Path, dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    typed_parquet(START, 60, dataset).to_parquet(write_day(landing, START, b"", name="part-00000.parquet"))

    assert main(arguments(landing, tmp_path / "out", START, 1, dataset, fmt="parquet")) == 1
    line = last_error_line(capsys)
    assert line.startswith("DataQualityError: only ")
    assert "at least 100 are needed" in line
    assert "unparseable" not in line  # typed columns were read as their types


@pytest.mark.spark
def test_a_parquet_column_of_another_type_is_a_schema_mismatch(
    spark: Any, tmp_path: Path, dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    frame = typed_parquet(START, 50, dataset)
    frame["amount"] = frame["amount"] > 100
    frame.to_parquet(write_day(landing, START, b"", name="part-00000.parquet"))

    assert main(arguments(landing, tmp_path / "out", START, 1, dataset, fmt="parquet")) == 1
    assert last_error_line(capsys).startswith(
        "SchemaMismatch: landing columns of another type: amount (expected double, found boolean)"
    )


@pytest.mark.spark
def test_no_partition_in_the_window_is_a_data_quality_error(
    spark: Any, tmp_path: Path, dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    write_day(landing, START, demo_data.day_csv(START, rows=20))

    assert main(arguments(landing, tmp_path / "out", START + timedelta(days=40), 30, dataset)) == 1
    line = last_error_line(capsys)
    assert line.startswith("DataQualityError: no date=YYYY-MM-DD partitions under ")
    assert "between 2025-01-12 and 2025-02-10" in line


@pytest.mark.spark
def test_a_landed_file_mostly_dropped_fails_the_run_naming_it(
    spark: Any, tmp_path: Path, dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    landing, output = tmp_path / "landing", tmp_path / "out"
    days = [START + timedelta(days=n) for n in range(3)]
    for day in days[:2]:
        write_day(landing, day, demo_data.day_csv(day, rows=300))
    good = demo_data.generate_day(days[2], rows=300).frame()
    good["event_time"] = "around noon"  # every row of the newest day unparseable
    broken = write_day(landing, days[2], good.to_csv(index=False).encode())

    assert main(arguments(landing, output, days[-1], 3, dataset)) == 1
    line = last_error_line(capsys)
    assert line.startswith(
        "DataQualityError: 1 files under [data].landing_prefix mostly dropped or ignored (more than 50% of rows, "
        f"[dataset].max_dropped_fraction): {broken.parent.name}/{broken.name} ("
    )
    rows = len(good)
    assert f"{broken.parent.name}/{broken.name} ({rows} of {rows} rows dropped: {rows} unparseable_event_time)" in line
    assert not (output / "quality.json").exists() and not (output / "train").exists()


@pytest.mark.spark
def test_a_file_of_another_format_fails_the_run_naming_it(
    spark: Any, tmp_path: Path, dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    landing, output = tmp_path / "landing", tmp_path / "out"
    write_day(landing, START, demo_data.day_csv(START, rows=300))
    write_day(landing, START, b"not landing data", name="notes.txt")  # not data: ignored, as before
    stray = write_day(landing, START, demo_data.generate_day(START, rows=50).jsonl_bytes(), name="extra.jsonl")

    assert main(arguments(landing, output, START, 1, dataset)) == 1
    line = last_error_line(capsys)
    assert line.startswith("DataQualityError: 1 files under [data].landing_prefix mostly dropped or ignored")
    assert f": {stray.parent.name}/{stray.name} (a csv run ignores it); fix and re-land" in line
    assert "notes.txt" not in line


def test_the_gate_threshold_is_part_of_the_dataset(dataset: dict[str, Any]) -> None:
    options = {
        "run_name": "r", "landing_uri": "s3://b/landing", "output_uri": "s3://b/processed/r",
        "window_end": "2025-01-31", "training_window_days": "30", "input_format": "csv",
    }  # fmt: skip
    assert JobOptions.from_arguments({**options, "dataset": json.dumps(dataset)}).max_dropped_fraction == 0.5
    changed = json.dumps({**dataset, "max_dropped_fraction": 0.2})
    assert JobOptions.from_arguments({**options, "dataset": changed}).max_dropped_fraction == 0.2
    with pytest.raises(InvalidJobArguments, match=r"max_dropped_fraction must be in \(0, 1\], got 0"):
        JobOptions.from_arguments({**options, "dataset": json.dumps({**dataset, "max_dropped_fraction": 0})})


# --- arguments -------------------------------------------------------------------------------------


def test_partitions_in_window_prunes_by_name() -> None:
    names = ["date=2025-01-01", "date=2025-01-03", "date=2025-01-05", "date=junk", "tmp", "date=2025-01-04"]
    selected = partitions_in_window(names, date(2025, 1, 2), date(2025, 1, 4))
    assert selected == [(date(2025, 1, 3), "date=2025-01-03"), (date(2025, 1, 4), "date=2025-01-04")]


def test_bad_arguments_are_named(dataset: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    good = {
        "run_name": "r", "landing_uri": "s3://b/landing", "output_uri": "s3://b/processed/r",
        "window_end": "2025-01-31", "training_window_days": "30", "input_format": "CSV",
        "dataset": json.dumps(dataset),
    }  # fmt: skip
    options = JobOptions.from_arguments(good)
    assert options.landing_uri == "s3://b/landing/" and options.input_format == "csv"
    # Without [stream] (no error prefix) the run has no refused records to report.
    assert options.delivery_errors is None
    assert JobOptions.from_arguments({**good, "delivery_errors": '{"error_prefix_uri": ""}'}).delivery_errors is None
    assert options.window_start == date(2025, 1, 2)
    for key, value, message in (
        ("window_end", "31/01/2025", "--window_end must be a date"),
        ("training_window_days", "0", "--training_window_days must be a whole number >= 1"),
        ("input_format", "xml", "--input_format must be one of csv, json, parquet"),
        ("dataset", "{", "--dataset is not JSON"),
        ("dataset", json.dumps({**dataset, "test_fraction": 0.0}), "the evaluation needs a test split"),
        ("catalog_database", "lake", "--catalog_database and --catalog_table go together"),
        ("delivery_errors", "{", "--delivery_errors is not JSON"),
        ("delivery_errors", "[]", "--delivery_errors must be a JSON object"),
    ):
        with pytest.raises(InvalidJobArguments, match=message):
            JobOptions.from_arguments({**good, key: value})
    renamed = {**dataset, "schema": {("split" if c == "device_type" else c): t for c, t in dataset["schema"].items()}}
    with pytest.raises(InvalidJobArguments, match=r"column 'split' is named as a partition key of the catalog table"):
        JobOptions.from_arguments(
            {**good, "dataset": json.dumps(renamed), "catalog_database": "lake", "catalog_table": "processed"}
        )
    assert main(["--run_name", "r"]) == 1
    assert last_error_line(capsys).startswith("InvalidJobArguments: expected --run_name --landing_uri")
    assert issubclass(DataQualityError, Exception)
