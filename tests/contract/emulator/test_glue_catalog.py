"""The Data Catalog's partition calls answer as AWS does (`local.emulator.glue.GlueCatalog`).

botocore's glue model lists EntityNotFoundException for CreatePartition, BatchCreatePartition, GetPartition and
GetPartitions: a partition belongs to a table, and the emulator kept partitions of none. Glue refuses values that
do not match the table's partition keys one for one ("The number of partition keys do not match the number of
partition values", InvalidInputException); BatchCreatePartition reports it per partition in `Errors`.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.clients import LocalClients

pytestmark = [pytest.mark.local]

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


def partition(*values: str) -> dict[str, Any]:
    location = "s3://data/processed/" + "/".join(values) + "/"
    return {"Values": list(values), "StorageDescriptor": {"Columns": [], "Location": location, **PARQUET}}


@pytest.fixture
def table(aws_clients: LocalClients, unique_name: str) -> tuple[Any, str]:
    glue, database = aws_clients.client("glue"), unique_name.replace("-", "_")
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "processed",
            "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "double"}], "Location": "s3://data/processed/"},
            "PartitionKeys": [{"Name": "run", "Type": "string"}, {"Name": "split", "Type": "string"}],
        },
    )
    return glue, database


def test_partition_calls_on_a_missing_table_are_entity_not_found(table: tuple[Any, str]) -> None:
    glue, database = table
    calls = [
        lambda: glue.create_partition(DatabaseName=database, TableName="nope", PartitionInput=partition("r", "s")),
        lambda: glue.batch_create_partition(
            DatabaseName=database, TableName="nope", PartitionInputList=[partition("r", "s")]
        ),
        lambda: glue.get_partition(DatabaseName=database, TableName="nope", PartitionValues=["r", "s"]),
        lambda: glue.get_partitions(DatabaseName=database, TableName="nope"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert glue.get_partitions(DatabaseName=database, TableName="processed")["Partitions"] == []


def test_partition_values_must_match_the_partition_keys(table: tuple[Any, str]) -> None:
    glue, database = table
    with pytest.raises(ClientError) as error:
        glue.create_partition(DatabaseName=database, TableName="processed", PartitionInput=partition("only-run"))
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    assert "number of partition keys do not match" in error.value.response["Error"]["Message"]

    answer = glue.batch_create_partition(
        DatabaseName=database,
        TableName="processed",
        PartitionInputList=[partition("r1", "train"), partition("r1", "test", "extra")],
    )
    [refused] = answer["Errors"]
    assert refused["PartitionValues"] == ["r1", "test", "extra"]
    assert refused["ErrorDetail"]["ErrorCode"] == "InvalidInputException"
    stored = glue.get_partitions(DatabaseName=database, TableName="processed")["Partitions"]
    assert [p["Values"] for p in stored] == [["r1", "train"]]


def test_a_second_batch_reports_already_exists_and_adds_nothing(table: tuple[Any, str]) -> None:
    """What a retried job relies on (botocore glue BatchCreatePartition: per-partition `Errors`)."""
    glue, database = table
    first = [partition("r1", "train"), partition("r1", "test")]
    assert (
        glue.batch_create_partition(DatabaseName=database, TableName="processed", PartitionInputList=first)["Errors"]
        == []
    )
    again = glue.batch_create_partition(DatabaseName=database, TableName="processed", PartitionInputList=first)
    assert [e["ErrorDetail"]["ErrorCode"] for e in again["Errors"]] == ["AlreadyExistsException"] * 2
    assert len(glue.get_partitions(DatabaseName=database, TableName="processed")["Partitions"]) == 2
