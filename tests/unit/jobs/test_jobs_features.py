"""features.py: one definition for Spark (the Glue job) and pandas (training and serving)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from features import FeatureSpec, FeatureSpecError

# Raw rows as a landing file or a request carries them: text, with the edge cases of each type.
SAMPLE_ROWS: list[dict[str, str | None]] = [
    {
        "event_time": "2025-01-06T23:59:59Z",
        "amount": "1234.50",
        "account_age_days": "12",
        "country_mismatch": "true",
        "merchant_category": "electronics",
    },
    {
        "event_time": "2025-01-05 05:30:00",
        "amount": "0",
        "account_age_days": " 7 ",
        "country_mismatch": "F",
        "merchant_category": " gaming ",
    },
    {
        "event_time": "2025-01-07T01:15:00+02:00",
        "amount": "-20.5",
        "account_age_days": "+3",
        "country_mismatch": "YES",
        "merchant_category": "",
    },
    {
        "event_time": "2025-01-08",
        "amount": "1e3",
        "account_age_days": "12.0",
        "country_mismatch": "0",
        "merchant_category": "travel",
    },
    {
        "event_time": "2025-01-09T06:00:00.123456Z",
        "amount": ".5",
        "account_age_days": None,
        "country_mismatch": "maybe",
        "merchant_category": None,
    },
    {
        "event_time": "09/01/2025 noon",
        "amount": "n/a",
        "account_age_days": "1_000",
        "country_mismatch": None,
        "merchant_category": "grocery",
    },
    {
        "event_time": "2025-01-10T21:59:00Z",
        "amount": "NaN",
        "account_age_days": "99999999999999999999",
        "country_mismatch": "1",
        "merchant_category": "gas",
    },
    {
        "event_time": None,
        "amount": "Infinity",
        "account_age_days": "-4",
        "country_mismatch": "n",
        "merchant_category": "pharmacy",
    },
    {
        "event_time": "2025-02-30T10:00:00Z",
        "amount": "5.",
        "account_age_days": "0",
        "country_mismatch": "t",
        "merchant_category": "fashion",
    },
]


def sample_frame(spec: FeatureSpec) -> pd.DataFrame:
    rows = []
    for number, sample in enumerate(SAMPLE_ROWS):
        row: dict[str, str | None] = dict.fromkeys(spec.schema)
        row.update(
            transaction_id=f"tx-{number}",
            customer_id="c000001",
            distance_from_home_km="3.5",
            device_type="mobile",
            is_fraud="0",
        )
        row.update(sample)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(spec.schema), dtype=object)


def raw_batch(spark: Any, spec: FeatureSpec, frame: pd.DataFrame) -> Any:
    """The rows as the Glue job's reader hands them over: every column a string."""
    from landing import CORRUPT, LandingBatch
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(column, StringType()) for column in [*spec.schema, CORRUPT]])
    records = [
        [*(None if v is None else str(v) for v in row), None]
        for row in frame[list(spec.schema)].itertuples(index=False)
    ]
    return LandingBatch(spark.createDataFrame(records, schema), dict.fromkeys(spec.schema, "string"), [], [], [], [])


def spark_side(spark: Any, spec: FeatureSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The Glue job's path: parse with RowCleaner, derive with FeatureSpec, times as epoch micros."""
    from cleaning import RowCleaner
    from pyspark.sql import functions as F

    cleaner = RowCleaner(spec)
    parsed = spec.add_spark_features(cleaner.parse(raw_batch(spark, spec, frame)))
    parsed = parsed.withColumn(spec.timestamp_column, F.expr(f"unix_micros({spec.timestamp_column})"))
    rows = parsed.collect()
    return pd.DataFrame([row.asDict() for row in rows])


def pandas_side(spec: FeatureSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    typed, invalid = spec.parse_pandas(frame)
    featured = spec.add_pandas_features(typed)
    stamps = featured[spec.timestamp_column]
    micros = [None if pd.isna(s) else int(s.value // 1000) for s in stamps]
    featured[spec.timestamp_column] = pd.Series(micros, dtype=object)
    return featured, invalid


def same(left: Any, right: Any) -> bool:
    left_missing = left is None or (isinstance(left, float) and math.isnan(left))
    right_missing = right is None or (isinstance(right, float) and math.isnan(right))
    if left_missing or right_missing:
        return left_missing and right_missing
    if isinstance(left, bool) or isinstance(right, bool):
        return bool(left) == bool(right)
    if isinstance(left, (int, float, np.number)):
        return math.isclose(float(left), float(right), rel_tol=1e-12, abs_tol=1e-12)
    return bool(left == right)


@pytest.mark.spark
def test_spark_and_pandas_agree_on_every_value_and_every_rejection(spark: Any, dataset: dict[str, Any]) -> None:
    from cleaning import RowCleaner

    spec = FeatureSpec.from_dataset(dataset)
    frame = sample_frame(spec)
    from_spark = spark_side(spark, spec, frame)
    from_pandas, invalid = pandas_side(spec, frame)

    compared = [*spec.schema, *(feature.name for feature in spec.derived)]
    disagreements = []
    for column in compared:
        for row in range(len(frame)):
            spark_value = from_spark[column].iloc[row]
            pandas_value = from_pandas[column].iloc[row]
            if not same(spark_value, pandas_value):
                disagreements.append(f"row {row} {column}: spark {spark_value!r} pandas {pandas_value!r}")
    for index, column in enumerate(spec.schema):
        spark_bad = from_spark[RowCleaner.bad_flag(index)].tolist()
        if spark_bad != invalid[column].tolist():
            disagreements.append(f"{column} unparseable: spark {spark_bad} pandas {invalid[column].tolist()}")
    assert not disagreements, "\n".join(disagreements)

    # The samples do exercise both outcomes of each parser.
    assert invalid["amount"].tolist() == [False, False, False, False, False, True, True, True, False]
    assert invalid["event_time"].tolist() == [False, False, False, False, False, True, False, False, True]
    assert invalid["account_age_days"].tolist() == [False, False, False, True, False, True, True, False, False]
    assert invalid["country_mismatch"].tolist() == [False, False, False, False, True, False, False, False, False]


# A dataset that is not the demo: a text target mapped by positive_label, a long log column, an
# excluded identifier. Each row: raw target, raw balance, and the label both halves must agree on.
TEXT_TARGET_ROWS = [
    ("default", "1200", 1.0),
    (" default ", "-5", 1.0),
    ("repaid", "0", 0.0),
    ("Default", "+7", 0.0),  # labels are case-sensitive: only the configured value is positive
    ("", "4", None),  # missing: dropped by the job, as any missing target
    (None, None, None),
    ("unknown", "3", 0.0),
]
TEXT_TARGET_DATASET: dict[str, Any] = {
    "target": "outcome",
    "timestamp_column": "applied_at",
    "id_column": "application_id",
    "schema": {
        "application_id": "string",
        "applied_at": "timestamp",
        "branch_code": "string",
        "balance": "long",
        "outcome": "string",
    },
    "exclude_columns": ["branch_code"],
    "log_columns": ["balance"],
    "positive_label": "default",
}


def text_target_frame() -> pd.DataFrame:
    rows = [
        {
            "application_id": f"a-{n}",
            "applied_at": f"2025-03-0{1 + n % 7}T0{n}:30:00Z",
            "branch_code": f"b{n}",
            "balance": balance,
            "outcome": outcome,
        }
        for n, (outcome, balance, _) in enumerate(TEXT_TARGET_ROWS)
    ]
    return pd.DataFrame(rows, dtype=object)


@pytest.mark.spark
def test_a_text_target_maps_to_the_same_labels_in_spark_and_pandas(spark: Any) -> None:
    from cleaning import RowCleaner

    spec = FeatureSpec.from_dataset(TEXT_TARGET_DATASET)
    frame = text_target_frame()
    from_spark = spark_side(spark, spec, frame)
    from_pandas, invalid = pandas_side(spec, frame)
    expected = [label for _, _, label in TEXT_TARGET_ROWS]
    for column in [*spec.schema, *(feature.name for feature in spec.derived)]:
        pairs = zip(from_spark[column].tolist(), from_pandas[column].tolist(), strict=True)
        assert all(same(left, right) for left, right in pairs), column
    assert all(same(label, wanted) for label, wanted in zip(from_pandas["outcome"], expected, strict=True))
    assert not invalid["outcome"].any()  # any present text is a label: never unparseable
    # The job's reasons: a missing target is dropped as null_outcome; 0/1 labels are never target_not_binary.
    reasons = RowCleaner(spec).with_reasons(RowCleaner(spec).parse(raw_batch(spark, spec, frame)))
    dropped = {row["application_id"]: row["__drop_reason"] for row in reasons.collect()}
    assert dropped == {
        f"a-{n}": None if label is not None else "null_outcome" for n, (_, _, label) in enumerate(TEXT_TARGET_ROWS)
    }


def test_a_text_target_needs_its_positive_label_and_only_a_text_target_takes_one(dataset: dict[str, Any]) -> None:
    spec = FeatureSpec.from_dataset(TEXT_TARGET_DATASET)
    assert spec.feature_columns == ["balance", "hour_of_day", "day_of_week", "is_night", "log_balance"]
    assert FeatureSpec.from_dataset(spec.to_dict()) == spec
    with pytest.raises(FeatureSpecError, match="positive_label is required for a string target"):
        FeatureSpec.from_dataset({**TEXT_TARGET_DATASET, "positive_label": None})
    with pytest.raises(FeatureSpecError, match="the target 'is_fraud' is long and positive_label is 'fraud'"):
        FeatureSpec.from_dataset({**dataset, "positive_label": "fraud"})
    with pytest.raises(FeatureSpecError, match="exclude_columns 'outcome' is not a feature column"):
        FeatureSpec.from_dataset({**TEXT_TARGET_DATASET, "exclude_columns": ["outcome"]})


def test_a_boolean_target_is_a_0_1_label() -> None:
    spec = FeatureSpec.from_dataset(
        {
            **TEXT_TARGET_DATASET,
            "schema": {**TEXT_TARGET_DATASET["schema"], "outcome": "boolean"},
            "positive_label": None,
        }
    )
    typed, invalid = spec.parse_pandas(pd.DataFrame({"outcome": ["yes", "F", None, "maybe"]}, dtype=object))
    assert typed["outcome"].tolist()[:2] == [1.0, 0.0] and typed["outcome"][2:].isna().all()
    assert invalid["outcome"].tolist() == [False, False, False, True]


def test_the_metadata_of_a_model_trained_before_the_column_keys_still_loads(dataset: dict[str, Any]) -> None:
    """Models trained before exclude_columns and log_columns existed carry only their feature list."""
    spec = FeatureSpec.from_dataset(dataset)
    legacy = {key: value for key, value in spec.to_dict().items() if key not in ("exclude_columns", "log_columns")}
    assert FeatureSpec.from_dataset(legacy) == spec


def test_derived_features_in_pandas() -> None:
    spec = FeatureSpec.from_dataset(
        {
            "target": "y",
            "timestamp_column": "ts",
            "id_column": "id",
            "schema": {"id": "string", "ts": "timestamp", "amount": "double", "y": "long"},
            "log_columns": ["amount"],
        }
    )
    raw = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "ts": ["2025-01-06T23:30:00Z", "2025-01-05T12:00:00+02:00", "2025-01-04T05:59:59Z"],
            "amount": ["-3", "0", str(math.e - 1)],
        },
        dtype=object,
    )
    typed, invalid = spec.parse_pandas(raw)
    assert not any(mask.any() for mask in invalid.values())
    featured = spec.add_pandas_features(typed)
    assert featured["hour_of_day"].tolist() == [23.0, 10.0, 5.0]
    assert featured["day_of_week"].tolist() == [0.0, 6.0, 5.0]  # Monday, Sunday, Saturday
    assert featured["is_night"].tolist() == [1.0, 0.0, 1.0]
    assert featured["log_amount"].round(9).tolist() == [0.0, 0.0, 1.0]


def test_model_inputs_leave_out_keys_target_and_identifiers(dataset: dict[str, Any]) -> None:
    spec = FeatureSpec.from_dataset(dataset)
    assert spec.raw_columns == [column for column in dataset["schema"] if column != "is_fraud"]
    assert spec.feature_columns == [
        "merchant_category",
        "amount",
        "distance_from_home_km",
        "account_age_days",
        "device_type",
        "country_mismatch",
        "hour_of_day",
        "day_of_week",
        "is_night",
        "log_amount",
    ]
    assert spec.categorical_columns == ["merchant_category", "device_type"]
    assert FeatureSpec.from_dataset(spec.to_dict()) == spec


def test_model_matrix_has_one_dtype_per_kind_of_column(dataset: dict[str, Any]) -> None:
    spec = FeatureSpec.from_dataset(dataset)
    frame = pd.DataFrame(
        {
            "merchant_category": pd.Series(["gas", None]),
            "amount": [1.5, None],
            "distance_from_home_km": [None, 2.0],
            "account_age_days": [3, 4],
            "device_type": ["mobile", "desktop"],
            "country_mismatch": pd.Series([True, None], dtype=object),
            "hour_of_day": [1, 2],
            "day_of_week": [0, 6],
            "is_night": [1, 0],
            "log_amount": [0.9, None],
            "unrelated": ["x", "y"],
        }
    )
    matrix = spec.model_matrix(frame)
    assert list(matrix.columns) == spec.feature_columns
    assert matrix["merchant_category"].dtype == object and math.isnan(matrix["merchant_category"][1])
    assert matrix["country_mismatch"].tolist()[0] == 1.0 and math.isnan(matrix["country_mismatch"][1])
    assert all(matrix[c].dtype == "float64" for c in spec.feature_columns if c not in spec.categorical_columns)
    with pytest.raises(FeatureSpecError, match="missing feature columns: log_amount"):
        spec.model_matrix(frame.drop(columns=["log_amount"]))


def test_a_schema_without_the_source_of_a_derived_feature_is_refused(dataset: dict[str, Any]) -> None:
    schema = {column: kind for column, kind in dataset["schema"].items() if column != "amount"}
    with pytest.raises(FeatureSpecError, match="log_columns 'amount' is not a feature column of dataset"):
        FeatureSpec.from_dataset({**dataset, "schema": schema})
    with pytest.raises(FeatureSpecError, match="log_amount needs column 'amount' of type long or double"):
        FeatureSpec.from_dataset({**dataset, "schema": {**dataset["schema"], "amount": "string"}})
    with pytest.raises(FeatureSpecError, match="has type 'decimal'"):
        FeatureSpec.from_dataset({**dataset, "schema": {**dataset["schema"], "amount": "decimal"}})
