"""`retrain query`: StartQueryExecution in the stack's workgroup with the catalog database as context,
GetQueryExecution polled with a bound, every page of GetQueryResults (Athena API reference; only a DML
result's first page starts with the header row, a NULL is a Datum without VarCharValue), one line for a
failed query."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cli.athena import QueryFailed, QueryTarget, run_query
from cli.main import main
from tests.support.fake_stack import REGION, FakeStack

TARGET = QueryTarget("fraud_retrain", "fraud-retrain")


@pytest.fixture
def athena() -> Any:
    return boto3.client("athena", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def execution(state: str, statement: str = "DML", reason: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"State": state}
    if reason:
        status["StateChangeReason"] = reason
    return {
        "QueryExecution": {
            "QueryExecutionId": "q-1",
            "StatementType": statement,
            "Status": status,
            "Statistics": {"DataScannedInBytes": 2048},
        }
    }


def page(rows: list[list[str | None]], columns: list[str], token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "ResultSet": {
            "Rows": [{"Data": [{} if value is None else {"VarCharValue": value} for value in row]} for row in rows],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": name, "Type": "varchar"} for name in columns]},
        }
    }
    if token:
        answer["NextToken"] = token
    return answer


def expect_start(stub: Stubber, sql: str, **more: Any) -> None:
    """StartQueryExecution in the stack's workgroup, with the catalog database as the query's context."""
    expected = {
        "QueryString": sql,
        "QueryExecutionContext": {"Database": "fraud_retrain"},
        "WorkGroup": "fraud-retrain",
    }
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"}, {**expected, **more})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_query_runs_in_the_workgroup_and_reads_every_page(athena: Any) -> None:
    columns = ["run", "rows"]
    clock = Clock()
    with Stubber(athena) as stub:
        expect_start(stub, "SELECT 1")
        stub.add_response("get_query_execution", execution("QUEUED"), {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", execution("RUNNING"), {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", execution("SUCCEEDED"), {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_results", page([columns, ["run-1", "10"]], columns, "t2"))
        stub.add_response(
            "get_query_results", page([["run-2", None]], columns), {"QueryExecutionId": "q-1", "NextToken": "t2"}
        )
        result = run_query(athena, "SELECT 1", TARGET, sleep=clock.sleep, clock=lambda: clock.now)
        stub.assert_no_pending_responses()
    assert result.columns == columns
    assert result.rows == [["run-1", "10"], ["run-2", None]]
    assert result.scanned_bytes == 2048 and clock.sleeps == [0.2, 0.4]
    assert result.table_lines() == ["run    rows", "-----  ----", "run-1  10", "run-2  NULL"]
    assert json.loads(result.as_json())["rows"][1] == {"run": "run-2", "rows": None}


def test_a_ddl_result_has_no_header_row_and_the_output_location_is_passed(athena: Any) -> None:
    with Stubber(athena) as stub:
        expect_start(stub, "SHOW PARTITIONS processed", ResultConfiguration={"OutputLocation": "s3://results/here/"})
        stub.add_response("get_query_execution", execution("SUCCEEDED", statement="UTILITY"))
        stub.add_response("get_query_results", page([["run=run-1/split=test"]], ["partition"]))
        target = QueryTarget("fraud_retrain", "fraud-retrain", "s3://results/here/")
        result = run_query(athena, "SHOW PARTITIONS processed", target, sleep=lambda _: None)
    assert result.rows == [["run=run-1/split=test"]]


def test_a_failed_query_is_one_line_with_athenas_reason(athena: Any) -> None:
    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved\n or requester is not authorized"
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", execution("FAILED", reason=reason))
        with pytest.raises(
            QueryFailed, match=r"^query q-1 FAILED: COLUMN_NOT_FOUND: .* resolved or requester"
        ) as error:
            run_query(athena, "SELECT nope FROM processed", TARGET, sleep=lambda _: None)
    assert "\n" not in str(error.value)


def test_a_query_past_the_timeout_is_cancelled(athena: Any) -> None:
    clock = Clock()
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        for _ in range(4):
            stub.add_response("get_query_execution", execution("RUNNING"))
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": "q-1"})
        with pytest.raises(QueryFailed, match=r"still RUNNING after the timeout; it was cancelled"):
            run_query(athena, "SELECT 1", TARGET, timeout_seconds=2, sleep=clock.sleep, clock=lambda: clock.now)
        stub.assert_no_pending_responses()


def test_the_command_prints_the_rows_of_the_stacks_catalog(
    catalog_stack: FakeStack, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto.athena.models import QueryResults, athena_backends

    catalog_stack.client("athena").create_work_group(Name="fraud-retrain")
    header, row = {"Data": [{"VarCharValue": "split"}]}, {"Data": [{"VarCharValue": "test"}]}
    athena_backends["123456789012"][REGION].query_results_queue.append(
        QueryResults(rows=[header, row], column_info=[{"Name": "split", "Type": "varchar"}])
    )
    assert main(["query", "SELECT split FROM processed", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["rows"] == [{"split": "test"}]
    (execution_id,) = catalog_stack.client("athena").list_query_executions()["QueryExecutionIds"]
    started = catalog_stack.client("athena").get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert started["QueryExecutionContext"]["Database"] == "fraud_retrain" and started["WorkGroup"] == "fraud-retrain"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["query", " "], "the query is empty"),
        (["query", "SELECT 1", "--timeout", "0"], "--timeout must be 1-3600 seconds"),
        (["query", "SELECT 1", "--output-location", "results/"], "--output-location: expected an s3://bucket/key URI"),
    ],
)
def test_bad_arguments_are_one_line(
    catalog_stack: FakeStack, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 2
    assert capsys.readouterr().err.strip().startswith(f"retrain: {message}")


def test_a_stack_without_the_catalog_says_to_deploy(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "SELECT 1"]) == 2
    assert "has no catalog yet; update it with `retrain deploy`" in capsys.readouterr().err
