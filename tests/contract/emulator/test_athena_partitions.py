"""Athena reads a partitioned table from the partitions registered in the Glue Data Catalog
(`local.emulator.athena.RegisteredPartitions`).

Athena user guide, "Partition your data": partitions whose folders are not `key=value` are added with their own
LOCATION (ALTER TABLE ADD PARTITION, or the Glue API as the Glue job does), and a query reads the partitions in
the catalog, each with its values; files under the table's location outside them are not read. The emulator read
every file under the table's location (a `quality.json` there would break a Parquet read) and took partition
values only from `key=value` folder names. The emulator runs queries on DuckDB (the `local` extra installs it).
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.clients import LocalClients
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local]
pytest.importorskip("duckdb", reason="the local extra installs duckdb, on which the emulator runs Athena queries")

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


def parquet(table: dict[str, list[Any]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(table), buffer)
    return buffer.getvalue()


def query(aws_clients: LocalClients, sql: str, database: str, bucket: str) -> list[list[str | None]]:
    athena = aws_clients.client("athena")
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": f"s3://{bucket}/results/"},
    )["QueryExecutionId"]
    status = wait_until(
        lambda: (
            (s := athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"])["State"]
            in ("SUCCEEDED", "FAILED", "CANCELLED")
            and s
        ),
        30,
        "the Athena query",
    )
    assert status["State"] == "SUCCEEDED", status.get("StateChangeReason")
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"][1:]
    return [[datum.get("VarCharValue") for datum in row["Data"]] for row in rows]


@pytest.fixture
def catalog(aws_clients: LocalClients, unique_name: str) -> tuple[str, str]:
    """A table partitioned by run and split whose partitions sit in folders named run/split (not key=value),
    beside a JSON file and an unregistered run under the same table location."""
    s3, glue = aws_clients.client("s3"), aws_clients.client("glue")
    bucket, database = unique_name, unique_name.replace("-", "_")
    s3.create_bucket(Bucket=bucket)
    test = {"id": ["a", "b"], "amount": [1.5, 2.5], "label": [0, 1]}
    train = {"amount": [3.0, 4.0, 5.0], "label": [1, 0, 0]}
    s3.put_object(Bucket=bucket, Key="processed/r1/test/part-0.parquet", Body=parquet(test))
    s3.put_object(Bucket=bucket, Key="processed/r1/train/part-0.parquet", Body=parquet(train))
    s3.put_object(Bucket=bucket, Key="processed/r1/train/_spec.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="processed/r1/quality.json", Body=b'{"rows": 5}')
    s3.put_object(Bucket=bucket, Key="processed/r2/train/part-0.parquet", Body=parquet(train))  # not registered
    columns = [
        {"Name": "id", "Type": "string"},
        {"Name": "amount", "Type": "double"},
        {"Name": "label", "Type": "bigint"},
    ]
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "processed",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {"Columns": columns, "Location": f"s3://{bucket}/processed/", **PARQUET},
            "PartitionKeys": [{"Name": "run", "Type": "string"}, {"Name": "split", "Type": "string"}],
        },
    )
    glue.batch_create_partition(
        DatabaseName=database,
        TableName="processed",
        PartitionInputList=[
            {
                "Values": ["r1", split],
                "StorageDescriptor": {
                    "Columns": [c for c in columns if c["Name"] in data],
                    "Location": f"s3://{bucket}/processed/r1/{split}/",
                    **PARQUET,
                },
            }
            for split, data in (("test", test), ("train", train))
        ],
    )
    return bucket, database


def test_a_query_reads_the_registered_partitions_with_their_values(
    aws_clients: LocalClients, catalog: tuple[str, str]
) -> None:
    bucket, database = catalog
    counted = query(
        aws_clients,
        "SELECT run, split, count(*), sum(label) FROM processed GROUP BY run, split ORDER BY split",
        database,
        bucket,
    )
    assert counted == [["r1", "test", "2", "1"], ["r1", "train", "3", "1"]]


def test_a_column_a_partition_lacks_reads_as_null(aws_clients: LocalClients, catalog: tuple[str, str]) -> None:
    bucket, database = catalog
    rows = query(
        aws_clients, "SELECT id, amount FROM processed WHERE split = 'train' ORDER BY amount", database, bucket
    )
    assert rows == [[None, "3.0"], [None, "4.0"], [None, "5.0"]]


def test_a_partitioned_table_without_partitions_has_no_rows(
    aws_clients: LocalClients, catalog: tuple[str, str]
) -> None:
    bucket, database = catalog
    glue = aws_clients.client("glue")
    for split in ("test", "train"):
        glue.delete_partition(DatabaseName=database, TableName="processed", PartitionValues=["r1", split])
    assert query(aws_clients, "SELECT count(*) FROM processed", database, bucket) == [["0"]]
