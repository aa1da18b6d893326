"""jobs/catalog.py: Spark types to the Hive types Glue and Athena read, the requests that register a run, and
their idempotence. Shapes checked by botocore's Stubber against the glue service model; AWS's answers to a
second create are AlreadyExistsException (CreateTable) and an `Errors` entry per partition (BatchCreatePartition)."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from catalog import (
    STORAGE,
    CatalogError,
    RunRegistration,
    WrittenSplit,
    glue_columns,
    hive_type,
    parent_folder,
    register_run,
    union_columns,
)


@pytest.mark.parametrize(
    ("spark", "hive"),
    [
        ("string", "string"),
        ("long", "bigint"),
        ("integer", "int"),
        ("short", "smallint"),
        ("byte", "tinyint"),
        ("double", "double"),
        ("float", "float"),
        ("boolean", "boolean"),
        ("timestamp", "timestamp"),
        ("timestamp_ntz", "timestamp"),
        ("date", "date"),
        ("binary", "binary"),
        ("decimal(10,2)", "decimal(10,2)"),
        ({"type": "array", "elementType": "long", "containsNull": True}, "array<bigint>"),
        ({"type": "map", "keyType": "string", "valueType": "double", "valueContainsNull": True}, "map<string,double>"),
        (
            {"type": "struct", "fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "date"}]},
            "struct<a:int,b:date>",
        ),
    ],
)
def test_spark_types_map_to_hive_types(spark: Any, hive: str) -> None:
    assert hive_type(spark) == hive


def test_a_type_without_a_hive_type_is_named() -> None:
    with pytest.raises(CatalogError, match=r"'interval' has no Hive type"):
        hive_type("interval")
    with pytest.raises(CatalogError, match=r"'variant'"):
        hive_type({"type": "variant"})


def schema(*fields: tuple[str, Any]) -> dict[str, Any]:
    return {"type": "struct", "fields": [{"name": n, "type": t, "nullable": True, "metadata": {}} for n, t in fields]}


def test_columns_keep_the_order_and_refuse_a_partition_key_name() -> None:
    assert glue_columns(schema(("amount", "double"), ("is_fraud", "long"))) == [
        {"Name": "amount", "Type": "double"},
        {"Name": "is_fraud", "Type": "bigint"},
    ]
    with pytest.raises(CatalogError, match=r"column 'split' is named as a partition key"):
        glue_columns(schema(("Split", "string")))


def test_the_union_takes_each_column_once_and_refuses_two_types() -> None:
    test = glue_columns(schema(("id", "string"), ("x", "double"), ("y", "long")))
    train = glue_columns(schema(("x", "double"), ("y", "long")))
    assert [c["Name"] for c in union_columns([test, train])] == ["id", "x", "y"]
    with pytest.raises(CatalogError, match=r"'x' is double in one split and bigint"):
        union_columns([test, glue_columns(schema(("x", "long")))])


def registration() -> RunRegistration:
    test = glue_columns(schema(("transaction_id", "string"), ("event_time", "timestamp"), ("amount", "double")))
    train = glue_columns(schema(("amount", "double")))
    return RunRegistration(
        database="fraud_retrain",
        table="processed",
        table_location="s3://data/processed/",
        run_name="run-1",
        splits=[
            WrittenSplit("train", "s3://data/processed/run-1/train/", train),
            WrittenSplit("test", "s3://data/processed/run-1/test/", test),
        ],
    )


def test_the_table_is_partitioned_by_run_and_split_with_the_parquet_storage() -> None:
    table = registration().table_input()
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["transaction_id", "event_time", "amount"]
    assert table["PartitionKeys"] == [{"Name": "run", "Type": "string"}, {"Name": "split", "Type": "string"}]
    assert table["StorageDescriptor"]["Location"] == "s3://data/processed/"
    assert table["StorageDescriptor"]["SerdeInfo"] == STORAGE["parquet"]["SerdeInfo"]
    assert table["Parameters"]["classification"] == "parquet" and table["TableType"] == "EXTERNAL_TABLE"
    train, test = registration().partition_inputs()
    assert train["Values"] == ["run-1", "train"] and test["Values"] == ["run-1", "test"]
    assert train["StorageDescriptor"]["Location"] == "s3://data/processed/run-1/train/"
    assert [c["Name"] for c in train["StorageDescriptor"]["Columns"]] == ["amount"]
    assert parent_folder("s3://data/processed/run-1/") == "s3://data/processed/"


@pytest.fixture
def glue() -> Any:
    return boto3.client("glue", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def not_found(stub: Stubber) -> None:
    stub.add_client_error("get_table", "EntityNotFoundException", expected_params={"DatabaseName": ANY, "Name": ANY})


def test_a_first_run_creates_the_table_and_its_partitions(glue: Any) -> None:
    wanted = registration()
    with Stubber(glue) as stub:
        not_found(stub)
        stub.add_response("create_table", {}, {"DatabaseName": "fraud_retrain", "TableInput": wanted.table_input()})
        stub.add_response(
            "batch_create_partition",
            {"Errors": []},
            {
                "DatabaseName": "fraud_retrain",
                "TableName": "processed",
                "PartitionInputList": wanted.partition_inputs(),
            },
        )
        done = register_run(glue, wanted)
        stub.assert_no_pending_responses()
    assert done == {"table_created": 1, "table_updated": 0, "partitions_created": 2, "partitions_updated": 0}


def test_a_table_created_meanwhile_is_updated_instead(glue: Any) -> None:
    wanted = registration()
    with Stubber(glue) as stub:
        not_found(stub)
        stub.add_client_error("create_table", "AlreadyExistsException")
        stub.add_response("update_table", {}, {"DatabaseName": "fraud_retrain", "TableInput": wanted.table_input()})
        stub.add_response("batch_create_partition", {"Errors": []})
        assert register_run(glue, wanted)["table_updated"] == 1
        stub.assert_no_pending_responses()


def as_stored(item: dict[str, Any]) -> dict[str, Any]:
    """What Glue returns for an input: the input plus fields of its own."""
    stored = copy.deepcopy(item)
    stored["StorageDescriptor"].update(Compressed=False, NumberOfBuckets=-1, StoredAsSubDirectories=False)
    stored.update(DatabaseName="fraud_retrain")
    stored["CreateTime" if "Name" in stored else "CreationTime"] = "2026-01-01T00:00:00Z"
    return stored


def test_a_retried_run_changes_nothing_and_never_duplicates(glue: Any) -> None:
    wanted = registration()
    table = {**as_stored(wanted.table_input()), "Name": "processed"}
    exists = [
        {"PartitionValues": p["Values"], "ErrorDetail": {"ErrorCode": "AlreadyExistsException", "ErrorMessage": "x"}}
        for p in wanted.partition_inputs()
    ]
    with Stubber(glue) as stub:
        stub.add_response("get_table", {"Table": table})
        stub.add_response("batch_create_partition", {"Errors": exists})
        for partition in wanted.partition_inputs():
            stub.add_response(
                "get_partition",
                {"Partition": {**as_stored(partition), "TableName": "processed"}},
                {"DatabaseName": "fraud_retrain", "TableName": "processed", "PartitionValues": partition["Values"]},
            )
        done = register_run(glue, wanted)
        stub.assert_no_pending_responses()
    assert done == {"table_created": 0, "table_updated": 0, "partitions_created": 0, "partitions_updated": 0}


def test_a_changed_schema_updates_the_table_and_the_partition_written_again(glue: Any) -> None:
    wanted = registration()
    old_table = wanted.table_input()
    old_table["StorageDescriptor"]["Columns"][0]["Type"] = "float"
    train, _ = wanted.partition_inputs()
    old_train = copy.deepcopy(train)
    old_train["StorageDescriptor"]["Columns"] = [{"Name": "amount", "Type": "float"}]
    exists = {"ErrorDetail": {"ErrorCode": "AlreadyExistsException", "ErrorMessage": "x"}}
    with Stubber(glue) as stub:
        stub.add_response("get_table", {"Table": as_stored(old_table)})
        stub.add_response("update_table", {}, {"DatabaseName": "fraud_retrain", "TableInput": wanted.table_input()})
        stub.add_response("batch_create_partition", {"Errors": [{"PartitionValues": train["Values"], **exists}]})
        stub.add_response("get_partition", {"Partition": as_stored(old_train)})
        stub.add_response(
            "batch_update_partition",
            {"Errors": []},
            {
                "DatabaseName": "fraud_retrain",
                "TableName": "processed",
                "Entries": [{"PartitionValueList": train["Values"], "PartitionInput": train}],
            },
        )
        done = register_run(glue, wanted)
        stub.assert_no_pending_responses()
    assert done == {"table_created": 0, "table_updated": 1, "partitions_created": 1, "partitions_updated": 1}


def test_another_partition_error_fails_naming_it(glue: Any) -> None:
    with Stubber(glue) as stub:
        not_found(stub)
        stub.add_response("create_table", {})
        stub.add_response(
            "batch_create_partition",
            {
                "Errors": [
                    {
                        "PartitionValues": ["run-1", "train"],
                        "ErrorDetail": {"ErrorCode": "InvalidInputException", "ErrorMessage": "bad location"},
                    }
                ]
            },
        )
        with pytest.raises(
            CatalogError, match=r"\['run-1', 'train'\] of fraud_retrain.processed: InvalidInputException"
        ):
            register_run(glue, registration())
