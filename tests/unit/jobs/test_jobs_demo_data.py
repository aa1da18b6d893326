"""demo_data.py: a deterministic, realistic and drifting transaction stream."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import demo_data
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import train
from features import FeatureSpec
from sklearn.metrics import average_precision_score

from tests.support.jobs import DATASET

START = demo_data.DEFAULT_START


def test_a_day_is_a_pure_function_of_date_seed_and_size() -> None:
    day = START + timedelta(days=3)
    assert demo_data.day_csv(day, seed=11, rows=300) == demo_data.day_csv(day, seed=11, rows=300)
    assert demo_data.day_csv(day, seed=11, rows=300) != demo_data.day_csv(day, seed=12, rows=300)
    assert demo_data.day_csv(day, seed=11, rows=300) != demo_data.day_csv(day + timedelta(days=1), seed=11, rows=300)


def test_rows_match_the_configured_schema_and_look_like_card_traffic() -> None:
    spec = FeatureSpec.from_dataset(DATASET)
    days = [demo_data.generate_day(START + timedelta(days=n), rows=1500) for n in range(6)]
    header = next(csv.reader(io.StringIO(days[0].csv_bytes().decode())))
    assert header == list(DATASET["schema"])
    raw = pd.concat([day.frame() for day in days], ignore_index=True)
    typed, invalid = spec.parse_pandas(raw)
    bad = np.logical_or.reduce([mask.to_numpy() for mask in invalid.values()])
    labelled = typed[~bad & typed["is_fraud"].isin([0.0, 1.0]).to_numpy() & typed["transaction_id"].notna().to_numpy()]

    assert 0.01 <= labelled["is_fraud"].mean() <= 0.03
    assert labelled["amount"].between(0.01, 20_000).all()
    assert set(labelled["merchant_category"]) <= set(demo_data.CATEGORIES)
    assert set(labelled["device_type"]) == set(demo_data.DEVICES)
    assert typed["event_time"].dt.date.min() == START
    assert 0 < labelled["distance_from_home_km"].isna().mean() < 0.05
    # Dirt to exercise the cleaning: re-sent records and malformed ones, a fraction of a percent each.
    duplicated = raw["transaction_id"].dropna().duplicated().sum()
    assert 0 < duplicated < 0.01 * len(raw)
    assert 0 < bad.sum() < 0.01 * len(raw)
    assert raw["is_fraud"].isna().any() and (raw["is_fraud"] == "2").any() and raw["transaction_id"].isna().any()


def test_json_lines_and_parquet_carry_the_same_rows_as_csv() -> None:
    day = demo_data.generate_day(START, rows=200)
    from_csv = pd.read_csv(io.BytesIO(day.csv_bytes()), dtype=str, keep_default_na=False)
    records = [json.loads(line) for line in day.jsonl_bytes().decode().splitlines()]
    assert len(records) == len(from_csv) == day.rows
    assert records[0]["transaction_id"] == from_csv["transaction_id"][0]
    assert isinstance(records[0]["amount"], float) and isinstance(records[0]["country_mismatch"], bool)
    table = pq.read_table(io.BytesIO(day.parquet_bytes()))
    assert table.column_names == demo_data.COLUMNS and table.num_rows == day.rows


def test_the_fraud_pattern_drifts_so_a_model_of_recent_days_wins_on_the_newest() -> None:
    spec = FeatureSpec.from_dataset(DATASET)

    def featured(first: int, last: int) -> pd.DataFrame:
        frames = [demo_data.generate_day(START + timedelta(days=n), rows=1000).frame() for n in range(first, last)]
        typed, invalid = spec.parse_pandas(pd.concat(frames, ignore_index=True))
        usable = ~np.logical_or.reduce([mask.to_numpy() for mask in invalid.values()])
        usable &= typed["is_fraud"].isin([0.0, 1.0]).to_numpy() & typed["event_time"].notna().to_numpy()
        return spec.add_pandas_features(typed[usable])

    weights_then, weights_now = demo_data.pattern_weights(START), demo_data.pattern_weights(START + timedelta(59))
    assert weights_then.argmax() != weights_now.argmax()

    old, recent, newest = featured(0, 8), featured(40, 48), featured(48, 52)
    hyperparameters = train.Hyperparameters(max_iter=60, max_leaf_nodes=15, early_stopping="false")
    precision = {}
    for name, frame in (("old", old), ("recent", recent)):
        model = train.build_pipeline(spec, hyperparameters).fit(spec.model_matrix(frame), frame["is_fraud"].astype(int))
        scores = model.predict_proba(spec.model_matrix(newest))[:, 1]
        precision[name] = average_precision_score(newest["is_fraud"].astype(int), scores)
    assert precision["recent"] > precision["old"] + 0.15, precision


def test_the_script_writes_date_partitions(tmp_path: Path) -> None:
    assert demo_data.main(["--out", str(tmp_path), "--days", "2", "--rows-per-day", "50", "--format", "json"]) == 0
    written = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.jsonl"))
    assert written == ["date=2025-01-01/part-00000.jsonl", "date=2025-01-02/part-00000.jsonl"]
    with pytest.raises(ValueError, match="rows must be at least 1"):
        demo_data.generate_day(date(2025, 1, 1), rows=0)
