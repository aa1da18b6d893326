"""The Glue job's cleaning: every configured column typed, every dropped row given its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from features import FeatureSpec
from landing import CORRUPT, LandingBatch, col
from prepare_failures import SchemaMismatch

if TYPE_CHECKING:
    from pyspark.sql import Column
    from pyspark.sql import DataFrame as SparkFrame

REASON = "__drop_reason"
SOURCE_FILE = "__source_file"
DUPLICATE = "duplicate_id"
# Above this share of unparseable values a column is of another type, not merely dirty.
SCHEMA_MISMATCH_SHARE = 0.5


@dataclass(frozen=True)
class CleaningSummary:
    rows_read: int
    dropped: dict[str, int]
    columns: dict[str, dict[str, int]]  # column -> {"present": n, "unparseable": n}

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.dropped.values())


@dataclass
class FileDrops:
    uri: str
    rows: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return sum(self.dropped.values()) / self.rows if self.rows else 0.0

    def describe(self) -> str:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.dropped.items()))
        return f"{sum(self.dropped.values())} of {self.rows} rows dropped: {reasons}"


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
        raw = col(column)
        present = F.trim(raw) != "" if string_source else raw.isNotNull()
        return typed, F.coalesce(present & typed.isNull(), F.lit(False))

    def parse(self, batch: LandingBatch) -> SparkFrame:
        from pyspark.sql import functions as F

        selected = []
        for index, column in enumerate(self.columns):
            typed, bad = self._typed(column, batch)
            selected += [typed.alias(column), bad.alias(self.bad_flag(index))]
        selected.append(col(CORRUPT).isNotNull().alias(CORRUPT))
        selected.append(F.input_file_name().alias(SOURCE_FILE))
        return batch.frame.select(*selected)

    def reasons(self) -> list[tuple[Column, str]]:
        """(condition, reason) in order of precedence, duplicates aside."""
        from pyspark.sql import functions as F

        spec = self.spec
        found: list[tuple[Column, str]] = [(F.col(CORRUPT), "malformed_record")]
        for index, column in enumerate(self.columns):
            found.append((F.col(self.bad_flag(index)), f"unparseable_{column}"))
        for column in spec.required_columns:
            found.append((col(column).isNull(), f"null_{column}"))
        found.append((~col(spec.target).isin(0, 1), "target_not_binary"))
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
        order = [col(spec.timestamp_column)] + [col(column).asc_nulls_last() for column in self.columns]
        window = Window.partitionBy(col(spec.id_column), F.col(REASON).isNull()).orderBy(*order)
        rank = F.row_number().over(window)
        return frame.withColumn(
            REASON, F.when(F.col(REASON).isNull() & (rank > 1), F.lit(DUPLICATE)).otherwise(F.col(REASON))
        )

    def summarize(self, reasoned: SparkFrame) -> tuple[CleaningSummary, dict[str, FileDrops]]:
        """One pass over every row read: counts per drop reason, present and unparseable values per column;
        and per landed file, its rows read and dropped by reason, duplicates aside (the data is there, once).
        One aggregation per (file, reason), summed here: both answers for a single Spark job."""
        from pyspark.sql import functions as F

        aggregates = [F.count(F.lit(1)).alias("rows")]
        for index, column in enumerate(self.columns):
            bad = F.col(self.bad_flag(index))
            aggregates.append(F.sum(bad.cast("long")).alias(f"bad_{index}"))
            aggregates.append(F.sum((col(column).isNotNull() | bad).cast("long")).alias(f"present_{index}"))
        groups = reasoned.groupBy(F.col(SOURCE_FILE), F.col(REASON)).agg(*aggregates).collect()
        reason_names = [name for _, name in self.reasons()] + [DUPLICATE]
        dropped = dict.fromkeys(reason_names, 0)
        bad_counts, present_counts = [0] * len(self.columns), [0] * len(self.columns)
        files: dict[str, FileDrops] = {}
        for row in groups:
            rows, reason = int(row["rows"]), row[REASON]
            drops = files.setdefault(str(row[SOURCE_FILE]), FileDrops(str(row[SOURCE_FILE])))
            drops.rows += rows
            if reason is not None:
                dropped[str(reason)] = dropped.get(str(reason), 0) + rows
                if reason != DUPLICATE:
                    drops.dropped[str(reason)] = rows
            for index in range(len(self.columns)):
                bad_counts[index] += int(row[f"bad_{index}"] or 0)
                present_counts[index] += int(row[f"present_{index}"] or 0)
        summary = CleaningSummary(
            rows_read=sum(drops.rows for drops in files.values()),
            dropped={name: count for name, count in sorted(dropped.items()) if count},
            columns={
                column: {"present": present_counts[i], "unparseable": bad_counts[i]}
                for i, column in enumerate(self.columns)
            },
        )
        return summary, files

    def check_types(self, stats: dict[str, dict[str, int]], batch: LandingBatch) -> None:
        """A column most of whose values are not of its configured type is a schema break, not dirt."""
        from pyspark.sql import functions as F

        broken = []
        for column in self.columns:
            present, unparseable = stats[column]["present"], stats[column]["unparseable"]
            if unparseable and unparseable > SCHEMA_MISMATCH_SHARE * present:
                _, bad = self._typed(column, batch)
                examples = (
                    batch.frame.select(col(column).cast("string").alias("raw"), bad.alias("bad"))
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
