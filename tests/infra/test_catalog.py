"""The catalog of the processed data: a Glue database, an Athena workgroup with encrypted results, and the job's
role holding exactly the Data Catalog calls `jobs/catalog.py` makes, each on the catalog, database and table ARNs
(AWS Glue developer guide, "Specifying AWS Glue resource ARNs": a Data Catalog action is authorized on all three)."""

from __future__ import annotations

import ast
import json
from typing import Any

import boto3

from infra.app import PROJECT_ROOT
from infra.catalog import JOB_CATALOG_ACTIONS, QUERY_RESULTS_PREFIX
from tests.support.synth import Synthesized


def _calls_of_the_job_module() -> set[str]:
    """The Glue API of every `glue.<method>(...)` call in jobs/catalog.py, by botocore's own method names."""
    tree = ast.parse((PROJECT_ROOT / "jobs" / "catalog.py").read_text(encoding="utf-8"))
    methods = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "glue"
    }
    client = boto3.client("glue", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return {f"glue:{client.meta.method_to_api_mapping[method]}" for method in methods}


def _job_catalog_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    (role,) = [
        logical_id for logical_id in synthesized.resources("AWS::IAM::Role") if logical_id.startswith("PrepareData")
    ]
    found = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if role not in json.dumps(policy["Properties"].get("Roles", [])):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(action.startswith("glue:") for action in actions):
                found.append(statement)
    return found


def test_the_job_role_holds_exactly_the_catalog_calls_of_the_job(synthesized: Synthesized) -> None:
    assert set(JOB_CATALOG_ACTIONS) == _calls_of_the_job_module()
    (statement,) = _job_catalog_statements(synthesized)
    assert sorted(statement["Action"]) == sorted(JOB_CATALOG_ACTIONS)
    resources = [json.dumps(resource) for resource in statement["Resource"]]
    assert len(resources) == 3
    assert resources[0].endswith(':catalog"]]}')
    assert resources[1].endswith(':database/fraud_retrain"]]}')
    assert resources[2].endswith(':table/fraud_retrain/processed"]]}')


def test_the_database_is_the_configured_one_and_the_job_is_told_its_table(synthesized: Synthesized) -> None:
    _, database = synthesized.one("AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == "fraud_retrain"
    _, job = synthesized.one("AWS::Glue::Job")
    arguments = job["Properties"]["DefaultArguments"]
    assert (arguments["--catalog_database"], arguments["--catalog_table"]) == ("fraud_retrain", "processed")


def test_the_workgroup_encrypts_its_results_under_the_expiring_prefix(synthesized: Synthesized) -> None:
    _, workgroup = synthesized.one("AWS::Athena::WorkGroup")
    configuration = workgroup["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    results = configuration["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert json.dumps(results["OutputLocation"]).endswith(f'/{QUERY_RESULTS_PREFIX}"]]}}')
    assert workgroup["Properties"]["Name"] == "fraud-retrain"


def test_the_outputs_name_the_database_table_and_workgroup(synthesized: Synthesized) -> None:
    outputs = synthesized.document["Outputs"]
    assert outputs["CatalogTableName"]["Value"] == "processed"
    assert {"CatalogDatabaseName", "AthenaWorkGroupName"} <= set(outputs)
