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

# High-cardinality keys identify an entity; a tree model would only memorise them.
IDENTIFIER_COLUMNS = ("customer_id",)

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

    name: ClassVar[str]
    spark_type: ClassVar[str] = "double"

    def __init__(self, source: str) -> None:
        self.source = source

    @property
    def source_type(self) -> str:
        raise NotImplementedError

    def spark(self) -> Column:
        raise NotImplementedError

    def pandas(self, frame: pd.DataFrame) -> pd.Series:
        raise NotImplementedError


class TimestampFeature(DerivedFeature):
    spark_type = "bigint"

    @property
    def source_type(self) -> str:
        return "timestamp"

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
    """1 between 22:00 and 06:00 UTC, when card fraud concentrates."""

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


class LogAmount(DerivedFeature):
    """log(1 + amount): spreads the heavy tail of amounts; negative amounts (refunds) count as 0."""

    name = "log_amount"

    @property
    def source_type(self) -> str:
        return "double"

    def spark(self) -> Column:
        from pyspark.sql import functions as F

        amount = F.col(_quote(self.source))
        return F.log1p(F.when(amount < 0, F.lit(0.0)).otherwise(amount))

    def pandas(self, frame: pd.DataFrame) -> pd.Series:
        amount = pd.to_numeric(frame[self.source], errors="coerce").astype("float64")
        return pd.Series(np.log1p(amount.clip(lower=0.0)), index=frame.index, dtype="float64")


AMOUNT_COLUMN = "amount"


def derived_features(timestamp_column: str) -> list[DerivedFeature]:
    return [
        HourOfDay(timestamp_column),
        DayOfWeek(timestamp_column),
        IsNight(timestamp_column),
        LogAmount(AMOUNT_COLUMN),
    ]


# --- the feature set of one dataset -------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSpec:
    """The model's inputs for one dataset configuration (the `[dataset]` table of retrain.toml)."""

    target: str
    timestamp_column: str
    id_column: str
    schema: dict[str, str]

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
        for feature in self.derived:
            found = self.schema.get(feature.source)
            if found != feature.source_type:
                raise FeatureSpecError(
                    f"derived feature {feature.name} needs column {feature.source!r} of type "
                    f"{feature.source_type} in dataset.schema, found {found or 'no such column'}; "
                    f"add it to [dataset.schema] or drop the feature from features.py"
                )

    @classmethod
    def from_dataset(cls, dataset: Mapping[str, Any]) -> FeatureSpec:
        missing = [key for key in ("target", "timestamp_column", "id_column", "schema") if key not in dataset]
        if missing:
            raise FeatureSpecError(f"dataset configuration lacks {', '.join(missing)}")
        schema = dataset["schema"]
        if not isinstance(schema, Mapping) or not schema:
            raise FeatureSpecError("dataset.schema must be a non-empty table of column = type")
        return cls(
            target=str(dataset["target"]),
            timestamp_column=str(dataset["timestamp_column"]),
            id_column=str(dataset["id_column"]),
            schema={str(column): str(type_name) for column, type_name in schema.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "timestamp_column": self.timestamp_column,
            "id_column": self.id_column,
            "schema": dict(self.schema),
            "raw_columns": self.raw_columns,
            "feature_columns": self.feature_columns,
            "categorical_columns": self.categorical_columns,
        }

    # column roles

    @property
    def derived(self) -> list[DerivedFeature]:
        return derived_features(self.timestamp_column)

    @property
    def raw_columns(self) -> list[str]:
        """What a caller sends to the endpoint, in this order: every configured column but the target."""
        return [column for column in self.schema if column != self.target]

    @property
    def raw_feature_columns(self) -> list[str]:
        roles = {self.target, self.timestamp_column, self.id_column, *IDENTIFIER_COLUMNS}
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
        return PARSERS[self.schema[column]].spark(column, source_is_string)

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
