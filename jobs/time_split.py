"""The Glue job's split by event time, and what each split holds (rows, labels, time range)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from features import FeatureSpec
from landing import col
from prepare_failures import DataQualityError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame

SPLITS = ("train", "validation", "test")
SPLIT = "__split"
MICROS = "__event_micros"
QUANTILE_RELATIVE_ERROR = 1e-4


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


def iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    moment = datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def split_summary(spec: FeatureSpec, clean: SparkFrame) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Per split: rows, positives, time range; and over all kept rows: missing values per feature."""
    from pyspark.sql import functions as F

    features = spec.raw_feature_columns
    rows = (
        clean.groupBy(SPLIT)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(col(spec.target)).alias("positives"),
            F.min(MICROS).alias("start"),
            F.max(MICROS).alias("end"),
            *[F.sum(col(c).isNull().cast("long")).alias(f"missing_{i}") for i, c in enumerate(features)],
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
                "start": iso(row["start"]) if row else None,
                "end": iso(row["end"]) if row else None,
            },
        }
    missing = {c: sum(int(row[f"missing_{i}"] or 0) for row in rows) for i, c in enumerate(features)}
    return summary, {column: count for column, count in missing.items() if count}


def check_splits(spec: FeatureSpec, summary: dict[str, dict[str, Any]]) -> None:
    """Train and test each need both labels: a model cannot learn or be scored otherwise."""
    fix = "widen training_window_days, raise the split's fraction, or check the labels of the landing data"
    for split in ("train", "test"):
        rows, positives = summary[split]["rows"], summary[split]["positives"]
        if rows == 0:
            raise DataQualityError(f"the {split} split is empty; {fix}")
        if positives == 0:
            raise DataQualityError(f"no positive labels ({spec.target} = 1) in the {split} split of {rows} rows; {fix}")
        if positives == rows:
            raise DataQualityError(f"no negative labels ({spec.target} = 0) in the {split} split of {rows} rows; {fix}")
