"""The one definition of the model's inputs, shared by the Glue job (Spark) and training/serving (pandas).

Each raw column type has a parser and each derived feature a class, with the Spark expression and the
pandas function side by side, so the features served by the endpoint cannot drift from the features
the model was trained on (a test runs both halves on the same rows).

This file runs flat inside Glue (`--extra-py-files`) and inside the SageMaker scikit-learn container
(Python 3.9, no Spark), so PySpark is imported only inside the Spark halves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import Column
    from pyspark.sql import DataFrame as SparkFrame

COLUMN_TYPES = ("string", "long", "double", "boolean", "timestamp")

# The value shapes both halves accept; anything else is unparseable. Written for both Python's and
# Java's regex engines.
LONG_PATTERN = r"^[+-]?\d{1,18}$"
DOUBLE_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$"
TRUE_WORDS = frozenset({"t", "true", "y", "yes", "1"})
FALSE_WORDS = frozenset({"f", "false", "n", "no", "0"})


class FeatureSpecError(ValueError):
    """The dataset configuration cannot feed the features defined here, or a frame lacks a column."""


# --- raw column parsers -----------------------------------------------------------------------

_INVALID = object()  # a present value that is not of the column's type (None means missing)


def _as_text(value: Any) -> str | None:
    """A raw value as the text Spark sees (JSON primitives are read as strings), trimmed as Spark's
    `trim` does (spaces only)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return None
    text = ("true" if value else "false") if isinstance(value, (bool, np.bool_)) else str(value)
    text = text.strip(" ")
    return text or None


def _matches(pattern: str, text: str) -> bool:
    # ASCII: Java's \d (the Spark half) knows only ASCII digits.
    return re.match(pattern, text, flags=re.ASCII) is not None


class ColumnParser:
    """Turns raw values into one configured type; unparseable values become null."""

    type_name: ClassVar[str]
    spark_type: ClassVar[str]
    pattern: ClassVar[str | None] = None

    def spark(self, column: str, source_is_string: bool) -> Column:
        from pyspark.sql import functions as F

        raw = F.col(_quote(column))
        if not source_is_string:
            return self._spark_finish(raw.cast(self.spark_type))
        text = F.trim(raw)
        text = F.when(text != "", text)
        if self.pattern is not None:
            return self._spark_finish(F.when(text.rlike(self.pattern), text.cast(self.spark_type)))
        return self._spark_finish(text.cast(self.spark_type))

    def _spark_finish(self, parsed: Column) -> Column:
        return parsed

    def pandas(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(typed values, mask of present values that did not parse)."""
        parsed: list[Any] = []
        invalid: list[bool] = []
        for value in values.tolist():
            if isinstance(value, (dict, list, tuple)):
                result: Any = _INVALID  # a nested JSON value is never a column value
            else:
                text = _as_text(value)
                result = None if text is None else self.parse_text(text)
            invalid.append(result is _INVALID)
            parsed.append(None if result is _INVALID else result)
        return self._to_series(parsed, values.index), pd.Series(invalid, index=values.index, dtype=bool)

    def parse_text(self, text: str) -> Any:
        raise NotImplementedError

    def _to_series(self, parsed: list[Any], index: pd.Index) -> pd.Series:
        return pd.Series(parsed, index=index, dtype=object)


class StringParser(ColumnParser):
    type_name = "string"
    spark_type = "string"

    def parse_text(self, text: str) -> Any:
        return text

    def _to_series(self, parsed: list[Any], index: pd.Index) -> pd.Series:
        return pd.Series([np.nan if v is None else v for v in parsed], index=index, dtype=object)


class LongParser(ColumnParser):
    type_name = "long"
    spark_type = "bigint"
    pattern = LONG_PATTERN

    def parse_text(self, text: str) -> Any:
        return int(text) if _matches(LONG_PATTERN, text) else _INVALID

    def _to_series(self, parsed: list[Any], index: pd.Index) -> pd.Series:
        return pd.Series([np.nan if v is None else float(v) for v in parsed], index=index, dtype="float64")


class DoubleParser(ColumnParser):
    type_name = "double"
    spark_type = "double"
    pattern = DOUBLE_PATTERN

    def _spark_finish(self, parsed: Column) -> Column:
        from pyspark.sql import functions as F

        # NaN and infinities pass a cast but no model can use them: they count as unparseable.
        return F.when(~F.isnan(parsed) & (F.abs(parsed) != F.lit(float("inf"))), parsed)

    def parse_text(self, text: str) -> Any:
        if not _matches(DOUBLE_PATTERN, text):
            return _INVALID
        number = float(text)
        return number if math.isfinite(number) else _INVALID

    def _to_series(self, parsed: list[Any], index: pd.Index) -> pd.Series:
        return pd.Series([np.nan if v is None else v for v in parsed], index=index, dtype="float64")


class BooleanParser(ColumnParser):
    type_name = "boolean"
    spark_type = "boolean"

    def spark(self, column: str, source_is_string: bool) -> Column:
        from pyspark.sql import functions as F

        if not source_is_string:
            return F.col(_quote(column)).cast("boolean")
        word = F.lower(F.trim(F.col(_quote(column))))
        return F.when(word.isin(*sorted(TRUE_WORDS)), F.lit(True)).when(word.isin(*sorted(FALSE_WORDS)), F.lit(False))

    def parse_text(self, text: str) -> Any:
        word = text.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        return _INVALID


class TimestampParser(ColumnParser):
    """ISO 8601 date or date-time; without an offset it is UTC (the Glue job runs its session in UTC)."""

    type_name = "timestamp"
    spark_type = "timestamp"
    pattern = TIMESTAMP_PATTERN

    def parse_text(self, text: str) -> Any:
        if not _matches(TIMESTAMP_PATTERN, text):
            return _INVALID
        try:
            stamp = pd.Timestamp(text)
        except ValueError:
            return _INVALID
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")

    def _to_series(self, parsed: list[Any], index: pd.Index) -> pd.Series:
        return pd.Series(pd.to_datetime([pd.NaT if v is None else v for v in parsed], utc=True), index=index)


PARSERS: dict[str, ColumnParser] = {
    parser.type_name: parser
    for parser in (StringParser(), LongParser(), DoubleParser(), BooleanParser(), TimestampParser())
}


def _quote(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


# --- derived features ---------------------------------------------------------------------------


class DerivedFeature:
    """One feature computed from typed raw columns, in Spark and in pandas."""

    name: str
    spark_type: ClassVar[str] = "double"

    def __init__(self, source: str) -> None:
        self.source = source

    @property
    def source_types(self) -> tuple[str, ...]:
        raise NotImplementedError

    def spark(self) -> Column:
        raise NotImplementedError

    def pandas(self, frame: pd.DataFrame) -> pd.Series:
        raise NotImplementedError


class TimestampFeature(DerivedFeature):
    spark_type = "bigint"

    @property
    def source_types(self) -> tuple[str, ...]:
        return ("timestamp",)

    def _hours(self, frame: pd.DataFrame) -> pd.Series:
        return frame[self.source].dt.hour.astype("float64")

    def _spark_hour(self) -> Column:
        from pyspark.sql import functions as F

        return F.hour(F.col(_quote(self.source)))


class HourOfDay(TimestampFeature):
    name = "hour_of_day"

    def spark(self) -> Column:
        return self._spark_hour().cast("bigint")

    def pandas(self, frame: pd.DataFrame) -> pd.Series:
        return self._hours(frame)


class DayOfWeek(TimestampFeature):
    """Monday = 0 ... Sunday = 6 (pandas' convention; Spark's dayofweek starts at Sunday = 1)."""

    name = "day_of_week"

    def spark(self) -> Column:
        from pyspark.sql import functions as F

        return ((F.dayofweek(F.col(_quote(self.source))) + 5) % 7).cast("bigint")

    def pandas(self, frame: pd.DataFrame) -> pd.Series:
        return frame[self.source].dt.dayofweek.astype("float64")


class IsNight(TimestampFeature):
    """1 between 22:00 and 06:00 UTC."""

    name = "is_night"
    night_starts = 22
    night_ends = 6

    def spark(self) -> Column:
        from pyspark.sql import functions as F

        hour = self._spark_hour()
        night = (hour >= self.night_starts) | (hour < self.night_ends)
        return F.when(hour.isNotNull(), night.cast("bigint"))

    def pandas(self, frame: pd.DataFrame) -> pd.Series:
        hours = self._hours(frame)
        night = ((hours >= self.night_starts) | (hours < self.night_ends)).astype("float64")
        return night.where(hours.notna(), np.nan)


class LogOf(DerivedFeature):
    """log(1 + x) of a numeric column (`[dataset].log_columns`): spreads a heavy tail such as amounts';
    negative values (refunds) count as 0."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.name = f"log_{source}"

    @property
    def source_types(self) -> tuple[str, ...]:
        return ("long", "double")

    def spark(self) -> Column:
        from pyspark.sql import functions as F

        value = F.col(_quote(self.source)).cast("double")
        return F.log1p(F.when(value < 0, F.lit(0.0)).otherwise(value))

    def pandas(self, frame: pd.DataFrame) -> pd.Series:
        value = pd.to_numeric(frame[self.source], errors="coerce").astype("float64")
        return pd.Series(np.log1p(value.clip(lower=0.0)), index=frame.index, dtype="float64")


def derived_features(timestamp_column: str, log_columns: Sequence[str] = ()) -> list[DerivedFeature]:
    return [
        HourOfDay(timestamp_column),
        DayOfWeek(timestamp_column),
        IsNight(timestamp_column),
        *(LogOf(column) for column in log_columns),
    ]


# --- the target ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BinaryTarget:
    """The parsed target as the 0/1 label the model learns: a long (or double) as it is (a value other
    than 0 or 1 is dropped by the job as target_not_binary), a boolean true = 1, a string 1 when it is
    `positive_label` and 0 when it is any other value. Missing stays missing (the job drops the row)."""

    type_name: str
    positive_label: str | None = None

    def spark(self, parsed: Column) -> Column:
        from pyspark.sql import functions as F

        if self.type_name == "string":
            return (
                F.when(parsed == F.lit(self.positive_label), F.lit(1)).when(parsed.isNotNull(), F.lit(0)).cast("bigint")
            )
        if self.type_name == "boolean":
            return parsed.cast("bigint")
        return parsed

    def pandas(self, parsed: pd.Series) -> pd.Series:
        if self.type_name == "string":
            labels = [np.nan if pd.isna(v) else float(v == self.positive_label) for v in parsed.tolist()]
            return pd.Series(labels, index=parsed.index, dtype="float64")
        if self.type_name == "boolean":
            labels = [np.nan if v is None or pd.isna(v) else float(bool(v)) for v in parsed.tolist()]
            return pd.Series(labels, index=parsed.index, dtype="float64")
        return parsed


# --- the feature set of one dataset -------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    """The model's inputs for one dataset configuration (the `[dataset]` table of retrain.toml)."""

    target: str
    timestamp_column: str
    id_column: str
    schema: dict[str, str]
    exclude_columns: tuple[str, ...] = ()
    log_columns: tuple[str, ...] = ()
    positive_label: str | None = None

    def __post_init__(self) -> None:
        for role in ("target", "timestamp_column", "id_column"):
            column = getattr(self, role)
            if column not in self.schema:
                raise FeatureSpecError(f"dataset {role} {column!r} is not a column of dataset.schema")
        for column, type_name in self.schema.items():
            if type_name not in COLUMN_TYPES:
                raise FeatureSpecError(
                    f"dataset.schema.{column} has type {type_name!r}; expected one of {', '.join(COLUMN_TYPES)}"
                )
        roles = {self.target, self.timestamp_column, self.id_column}
        for key in ("exclude_columns", "log_columns"):
            wrong = [column for column in getattr(self, key) if column not in self.schema or column in roles]
            if wrong:
                raise FeatureSpecError(f"dataset {key} {wrong[0]!r} is not a feature column of dataset.schema")
        target_type = self.schema[self.target]
        if target_type == "timestamp":
            raise FeatureSpecError(f"dataset target {self.target!r} is a timestamp; it must be long, boolean or string")
        if (target_type == "string") != (self.positive_label is not None):
            raise FeatureSpecError(
                f"dataset positive_label is required for a string target and only for one; the target "
                f"{self.target!r} is {target_type} and positive_label is {self.positive_label!r}"
            )
        for feature in self.derived:
            found = self.schema.get(feature.source)
            if found not in feature.source_types:
                raise FeatureSpecError(
                    f"derived feature {feature.name} needs column {feature.source!r} of type "
                    f"{' or '.join(feature.source_types)} in dataset.schema, found {found or 'no such column'}; "
                    f"fix [dataset.schema] or [dataset].log_columns"
                )

    @classmethod
    def from_dataset(cls, dataset: Mapping[str, Any]) -> FeatureSpec:
        missing = [key for key in ("target", "timestamp_column", "id_column", "schema") if key not in dataset]
        if missing:
            raise FeatureSpecError(f"dataset configuration lacks {', '.join(missing)}")
        schema = dataset["schema"]
        if not isinstance(schema, Mapping) or not schema:
            raise FeatureSpecError("dataset.schema must be a non-empty table of column = type")
        exclude, log = dataset.get("exclude_columns"), dataset.get("log_columns")
        features = dataset.get("feature_columns")
        if isinstance(features, list):  # the metadata of a model trained before these keys existed
            roles = {dataset["target"], dataset["timestamp_column"], dataset["id_column"], *features}
            exclude = [column for column in schema if column not in roles] if exclude is None else exclude
            if log is None:
                log = [str(name)[4:] for name in features if str(name).startswith("log_") and str(name)[4:] in schema]
        for key, value in (("exclude_columns", exclude), ("log_columns", log)):
            if value is not None and not isinstance(value, list):
                raise FeatureSpecError(f"dataset {key} must be a list of column names")
        label = dataset.get("positive_label")
        return cls(
            target=str(dataset["target"]),
            timestamp_column=str(dataset["timestamp_column"]),
            id_column=str(dataset["id_column"]),
            schema={str(column): str(type_name) for column, type_name in schema.items()},
            exclude_columns=tuple(str(column) for column in exclude or ()),
            log_columns=tuple(str(column) for column in log or ()),
            positive_label=None if label is None else str(label),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "timestamp_column": self.timestamp_column,
            "id_column": self.id_column,
            "schema": dict(self.schema),
            "exclude_columns": list(self.exclude_columns),
            "log_columns": list(self.log_columns),
            "positive_label": self.positive_label,
            "raw_columns": self.raw_columns,
            "feature_columns": self.feature_columns,
            "categorical_columns": self.categorical_columns,
        }

    # column roles

    @property
    def derived(self) -> list[DerivedFeature]:
        return derived_features(self.timestamp_column, self.log_columns)

    @property
    def label(self) -> BinaryTarget:
        return BinaryTarget(self.schema[self.target], self.positive_label)

    @property
    def raw_columns(self) -> list[str]:
        """What a caller sends to the endpoint, in this order: every configured column but the target."""
        return [column for column in self.schema if column != self.target]

    @property
    def raw_feature_columns(self) -> list[str]:
        roles = {self.target, self.timestamp_column, self.id_column, *self.exclude_columns}
        return [column for column in self.schema if column not in roles]

    @property
    def feature_columns(self) -> list[str]:
        return self.raw_feature_columns + [feature.name for feature in self.derived]

    @property
    def categorical_columns(self) -> list[str]:
        return [column for column in self.raw_feature_columns if self.schema[column] == "string"]

    @property
    def required_columns(self) -> list[str]:
        """Columns a row cannot lack: without them it can be neither placed in time, deduplicated nor learnt."""
        return [self.id_column, self.timestamp_column, self.target]

    # Spark

    def spark_parse(self, column: str, source_is_string: bool) -> Column:
        """The column typed; the target as its 0/1 label (null exactly when the typed value is)."""
        parsed = PARSERS[self.schema[column]].spark(column, source_is_string)
        return self.label.spark(parsed) if column == self.target else parsed

    def add_spark_features(self, frame: SparkFrame) -> SparkFrame:
        for feature in self.derived:
            frame = frame.withColumn(feature.name, feature.spark())
        return frame

    # pandas

    def parse_pandas(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
        """Typed copy of the configured columns present in `frame`, and each column's unparseable mask."""
        typed: dict[str, pd.Series] = {}
        invalid: dict[str, pd.Series] = {}
        for column, type_name in self.schema.items():
            if column in frame.columns:
                typed[column], invalid[column] = PARSERS[type_name].pandas(frame[column])
        if self.target in typed:
            typed[self.target] = self.label.pandas(typed[self.target])
        return pd.DataFrame(typed, index=frame.index), invalid

    def add_pandas_features(self, typed: pd.DataFrame) -> pd.DataFrame:
        result = typed.copy()
        for feature in self.derived:
            result[feature.name] = feature.pandas(typed)
        return result

    def model_matrix(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The feature columns (by default all of this spec's) in order and in the dtypes the model was
        fitted on: categoricals as objects with NaN for missing, everything else as floats."""
        wanted = list(self.feature_columns if columns is None else columns)
        missing = [column for column in wanted if column not in frame.columns]
        if missing:
            raise FeatureSpecError(f"missing feature columns: {', '.join(missing)}")
        result: dict[str, pd.Series] = {}
        for column in wanted:
            values = frame[column]
            if column in self.categorical_columns:
                as_object = values.astype(object)
                result[column] = as_object.where(values.notna(), np.nan)
            elif self.schema.get(column) == "boolean":
                result[column] = values.astype(object).map({True: 1.0, False: 0.0}).astype("float64")
            else:
                result[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        return pd.DataFrame(result, index=frame.index)
