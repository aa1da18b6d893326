"""Account-specific settings reach the template (one more synth, with every override set)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app, project_context

LAYER = "arn:aws:lambda:eu-west-1:123456789012:layer:powertools-private:4"
LEADS = "arn:aws:iam::123456789012:role/MLLeadsSSO"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    context = {
        **project_context(),
        "retrain:mlLeadsPrincipal": LEADS,
        "retrain:powertoolsLayerArn": LAYER,
        "retrain:generateBootstrapVersionRule": "false",
        "retrain:starterReservedConcurrency": "0",
        "retrain:stackName": "FraudRetrainStaging",
    }
    _, stack = build_app(context, outdir=str(tmp_path_factory.mktemp("cdk.overrides")))
    assert stack.stack_name == "FraudRetrainStaging"
    document = dict(Template.from_stack(stack).to_json())
    return document


def test_the_ml_leads_role_trusts_the_given_principal(template: dict[str, Any]) -> None:
    roles = [r for logical_id, r in template["Resources"].items() if logical_id.startswith("MLLeads")]
    roles = [r for r in roles if r["Type"] == "AWS::IAM::Role"]
    (statement,) = roles[0]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": LEADS}


def test_a_layer_arn_replaces_the_public_layer_and_its_parameter(template: dict[str, Any]) -> None:
    assert "PowertoolsLayerVersion" not in template.get("Parameters", {})
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    ours = [f for f in functions if f["Properties"]["Handler"].startswith("tasks.")]
    assert ours and all(f["Properties"]["Layers"] == [LAYER] for f in ours)
    assert all("ReservedConcurrentExecutions" not in f["Properties"] for f in ours)


def test_no_bootstrap_version_rule_for_targets_without_the_ssm_parameter(template: dict[str, Any]) -> None:
    assert "BootstrapVersion" not in template.get("Parameters", {})
    assert "CheckBootstrapVersion" not in json.dumps(template.get("Rules", {}))
