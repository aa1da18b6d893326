"""Registers a run's processed data in the Glue Data Catalog, so Athena can query every run's splits.

The job registers it itself, after writing, rather than a crawler. The job holds the exact schema of
what it wrote (the Spark schema of each DataFrame) and the format; a crawler infers types from a sample
of files and may change them from one crawl to the next (a column of whole numbers read as `bigint`
once and `double` after a file with a decimal point, a new table when it judges the folders
incompatible), and it would run on its own schedule, so a run's data could be missing from the catalog
when the run ends. Registering from the job costs a few API calls and no crawler, and the catalog is
current when PrepareData succeeds.

One table (`[catalog].table` in `[catalog].database`), partitioned by `run` and `split`: a run adds
one partition per split, each pointing at the folder that split was written to
(`<processed>/<run>/<split>/`). The table's columns are the union of the splits' columns, the widest split's
first (test has the id and timestamp that train and validation leave out; Parquet columns are read by name, so a split
without one reads it as null); each partition carries its own split's columns.

Idempotent: a retried or redriven job finds the table and its partitions. The table is updated only when
its definition differs; a partition already there is left alone when identical and updated when not
(the run's folder was written again with another schema), never created twice.

Spark's schema arrives as its JSON form (`DataFrame.schema.jsonValue()`), so this module imports neither
Spark nor boto3 and its mapping is testable without either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PARTITION_KEYS = ("run", "split")

# Spark SQL type names (`DataType.typeName()`, the JSON form) -> Hive types as Glue and Athena spell them
# (Athena user guide, "Data types in Amazon Athena"). Spark's `timestamp` is an instant, `timestamp_ntz` a
# wall-clock time; Hive's `timestamp` is the only one Athena's Hive tables have, and Parquet stores both.
_SIMPLE_TYPES = {
    "string": "string",
    "long": "bigint",
    "integer": "int",
    "short": "smallint",
    "byte": "tinyint",
    "double": "double",
    "float": "float",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "timestamp_ntz": "timestamp",
    "date": "date",
    "binary": "binary",
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")

# The Hive storage descriptor of each format the job writes: what a Glue crawler records for it and
# Athena reads (Athena user guide, "Parquet SerDe").
STORAGE = {
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "Parameters": {"serialization.format": "1"},
        },
    },
}


class CatalogError(ValueError):
    """The data cannot be registered as it is (a type without a Hive type, a column named as a partition key)."""


def hive_type(spark_type: Any) -> str:
    """The Hive type of a Spark type in its JSON form: a name (`"long"`) or a dict for arrays, maps, structs."""
    if isinstance(spark_type, str):
        if spark_type in _SIMPLE_TYPES:
            return _SIMPLE_TYPES[spark_type]
        decimal = _DECIMAL.fullmatch(spark_type)
        if decimal:
            return f"decimal({decimal[1]},{decimal[2]})"
        raise CatalogError(f"Spark type {spark_type!r} has no Hive type Athena reads; cast the column")
    kind = spark_type.get("type") if isinstance(spark_type, Mapping) else None
    if kind == "array":
        return f"array<{hive_type(spark_type['elementType'])}>"
    if kind == "map":
        return f"map<{hive_type(spark_type['keyType'])},{hive_type(spark_type['valueType'])}>"
    if kind == "struct":
        fields = ",".join(f"{field['name']}:{hive_type(field['type'])}" for field in spark_type["fields"])
        return f"struct<{fields}>"
    raise CatalogError(f"Spark type {spark_type!r} has no Hive type Athena reads; cast the column")


def glue_columns(schema: Mapping[str, Any]) -> list[dict[str, str]]:
    """Glue `Column`s of a Spark schema's JSON form (`{"type": "struct", "fields": [...]}`), in order."""
    columns = [{"Name": field["name"], "Type": hive_type(field["type"])} for field in schema["fields"]]
    clashing = sorted({column["Name"].lower() for column in columns} & set(PARTITION_KEYS))
    if clashing:
        raise CatalogError(
            f"column {clashing[0]!r} is named as a partition key of the catalog table ({', '.join(PARTITION_KEYS)}); "
            "rename the column"
        )
    return columns


def union_columns(column_lists: Sequence[Sequence[Mapping[str, str]]]) -> list[dict[str, str]]:
    """Every column of the lists once, in order of first appearance; one name with two types is refused."""
    union: dict[str, dict[str, str]] = {}
    for columns in column_lists:
        for column in columns:
            name = column["Name"].lower()  # Glue and Athena names are case-insensitive
            if name in union and union[name]["Type"] != column["Type"]:
                raise CatalogError(
                    f"column {column['Name']!r} is {union[name]['Type']} in one split and {column['Type']} in another"
                )
            union.setdefault(name, dict(column))
    return list(union.values())


@dataclass(frozen=True)
class WrittenSplit:
    """One split as written: its name, its folder URI and its Glue columns."""

    name: str
    location: str
    columns: list[dict[str, str]]


@dataclass(frozen=True)
class RunRegistration:
    """The requests that register one run: the table's definition and one partition per split."""

    database: str
    table: str
    table_location: str
    run_name: str
    splits: Sequence[WrittenSplit]
    data_format: str = "parquet"

    def storage(self, location: str, columns: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        if self.data_format not in STORAGE:
            raise CatalogError(f"no storage descriptor for {self.data_format!r}; the job writes {', '.join(STORAGE)}")
        return {"Columns": [dict(column) for column in columns], "Location": location, **STORAGE[self.data_format]}

    def table_input(self) -> dict[str, Any]:
        # The widest split first (test: id and timestamp before the features), the others' extra columns after.
        columns = union_columns(sorted((split.columns for split in self.splits), key=len, reverse=True))
        return {
            "Name": self.table,
            "Description": "Processed data of the retrain pipeline's runs, one partition per run and split",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": self.data_format, "EXTERNAL": "TRUE"},
            "StorageDescriptor": self.storage(self.table_location, columns),
            "PartitionKeys": [{"Name": key, "Type": "string"} for key in PARTITION_KEYS],
        }

    def partition_inputs(self) -> list[dict[str, Any]]:
        return [
            {
                "Values": [self.run_name, split.name],
                "Parameters": {"classification": self.data_format},
                "StorageDescriptor": self.storage(split.location, split.columns),
            }
            for split in self.splits
        ]


# What GetTable/GetPartition return beside the input's fields (and may differ without a change of ours).
_TABLE_FIELDS = ("Description", "TableType", "Parameters", "StorageDescriptor", "PartitionKeys")
_PARTITION_FIELDS = ("Values", "Parameters", "StorageDescriptor")


def _same(current: Mapping[str, Any], wanted: Mapping[str, Any], fields: Sequence[str]) -> bool:
    def subset(have: Any, want: Any) -> bool:
        if isinstance(want, Mapping):
            return isinstance(have, Mapping) and all(subset(have.get(key), value) for key, value in want.items())
        if isinstance(want, list):
            return isinstance(have, list) and len(have) == len(want) and all(map(subset, have, want))
        return bool(have == want)

    return all(subset(current.get(field), wanted.get(field)) for field in fields if field in wanted)


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def register_run(glue: Any, registration: RunRegistration) -> dict[str, int]:
    """Create or update the table, then add the run's partitions; returns what was done, for the log."""
    done = {"table_created": 0, "table_updated": 0, "partitions_created": 0, "partitions_updated": 0}
    database, table = registration.database, registration.table
    wanted = registration.table_input()
    try:
        current = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except Exception as error:
        if _error_code(error) != "EntityNotFoundException":
            raise
        current = None
    if current is None:
        try:
            glue.create_table(DatabaseName=database, TableInput=wanted)
            done["table_created"] = 1
        except Exception as error:  # another run created it between our two calls
            if _error_code(error) != "AlreadyExistsException":
                raise
            glue.update_table(DatabaseName=database, TableInput=wanted)
            done["table_updated"] = 1
    elif not _same(current, wanted, _TABLE_FIELDS):
        glue.update_table(DatabaseName=database, TableInput=wanted)
        done["table_updated"] = 1

    inputs = registration.partition_inputs()
    response = glue.batch_create_partition(DatabaseName=database, TableName=table, PartitionInputList=inputs)
    by_values = {tuple(partition["Values"]): partition for partition in inputs}
    errors = response.get("Errors") or []
    _raise_first(
        [e for e in errors if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"], database, table
    )
    existing = [by_values[tuple(error["PartitionValues"])] for error in errors]
    done["partitions_created"] = len(inputs) - len(existing)
    changed = []
    for partition in existing:
        values = partition["Values"]
        found = glue.get_partition(DatabaseName=database, TableName=table, PartitionValues=values)["Partition"]
        if not _same(found, partition, _PARTITION_FIELDS):
            changed.append({"PartitionValueList": values, "PartitionInput": partition})
    if changed:
        response = glue.batch_update_partition(DatabaseName=database, TableName=table, Entries=changed)
        _raise_first(response.get("Errors") or [], database, table)
        done["partitions_updated"] = len(changed)
    return done


def _raise_first(errors: Sequence[Mapping[str, Any]], database: str, table: str) -> None:
    """A batch call's first per-partition error, as one line (the batch calls do not raise them)."""
    for error in errors:
        detail = error.get("ErrorDetail", {})
        values = error.get("PartitionValues") or error.get("PartitionValueList")
        raise CatalogError(
            f"partition {values} of {database}.{table}: {detail.get('ErrorCode')}: {detail.get('ErrorMessage')}"
        )


def parent_folder(uri: str) -> str:
    """`s3://b/processed/` of `s3://b/processed/<run>/`: the folder every run's folder is in."""
    return uri.rstrip("/").rsplit("/", 1)[0] + "/"
