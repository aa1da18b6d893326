"""The quality alarm: one metric alarm on the live value of the promotion metric the monitoring job publishes
for the endpoint's schedule, into the alarm topic, and a rule that takes its change to ALARM to the same
starter as the drift alarm's; the monitoring jobs' role reads the landed labels; none of it when monitoring
is off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.app import PROJECT_ROOT, build_app, project_context
from infra.monitoring import DATA_METRICS_NAMESPACE
from infra.stack import STARTER
from retrain.config import RetrainConfig, load_config
from retrain.monitoring import monitoring_schedule_name
from tests.support.synth import Synthesized


@pytest.fixture(scope="module")
def config() -> RetrainConfig:
    return load_config(PROJECT_ROOT / "retrain.toml")


def quality_alarm(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, alarm["Properties"])
        for logical_id, alarm in synthesized.resources("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("MetricName", "").startswith("model_quality_")
    ]
    return found


def test_the_quality_alarm_watches_the_live_promotion_metric_of_the_schedule(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    _, alarm = quality_alarm(synthesized)
    schedule = monitoring_schedule_name(config.deployment.endpoint_name)
    assert alarm["AlarmName"] == f"{schedule}-quality"
    assert alarm["Namespace"] == DATA_METRICS_NAMESPACE
    assert alarm["MetricName"] == f"model_quality_{config.promotion.metric}"
    assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "Endpoint", "Value": config.deployment.endpoint_name},
        {"Name": "MonitoringSchedule", "Value": schedule},
    ]
    # average_precision is maximized: the worst run of the period below the promotion's bar fires it
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Minimum", "LessThanThreshold")
    assert alarm["Threshold"] == config.quality_threshold == config.promotion.min_metric_value
    assert (alarm["Period"], alarm["EvaluationPeriods"]) == (3600, 1)
    assert alarm["TreatMissingData"] == "notBreaching"  # a quiet or unlabelled window is no evidence
    topic_id, _ = synthesized.one("AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_its_change_to_alarm_reaches_the_same_starter_as_the_drift_alarms(synthesized: Synthesized) -> None:
    alarm_id, _ = quality_alarm(synthesized)
    rules = synthesized.resources("AWS::Events::Rule")
    ((rule_id, rule),) = [(key, rule) for key, rule in rules.items() if rule["Properties"]["Name"].endswith("-quality")]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [{"Fn::GetAtt": [alarm_id, "Arn"]}],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    (drift_rule,) = [rule for rule in rules.values() if rule["Properties"]["Name"].endswith("-drift")]
    (target,) = rule["Properties"]["Targets"]
    (drift_target,) = drift_rule["Properties"]["Targets"]
    starter_id = next(
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == STARTER.handler
    )
    assert target["Arn"]["Fn::GetAtt"][0] == drift_target["Arn"]["Fn::GetAtt"][0] == starter_id
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission", {"Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
    )


def test_the_monitoring_jobs_role_lists_and_reads_the_landing_prefix_only_to_get_labels(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    landing = config.data.landing_prefix
    statements = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    readers = [
        statement
        for statement in statements
        if statement["Action"] == "s3:GetObject" and f"/{landing}*" in json.dumps(statement["Resource"])
    ]
    listers = [
        statement
        for statement in statements
        if statement["Action"] == "s3:ListBucket"
        and f"{landing}*" in json.dumps(statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", []))
    ]
    role_of = {
        json.dumps(policy["Properties"]["Roles"])
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement in readers
    }
    assert readers and listers and role_of
    sagemaker_role = next(
        logical_id
        for logical_id, role in synthesized.resources("AWS::IAM::Role").items()
        if "sagemaker.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    )
    assert any(sagemaker_role in roles for roles in role_of)
    # Read only: no statement lets anyone but the Glue job and the landing writers change the labels.
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions


def test_without_monitoring_or_a_threshold_there_is_no_quality_alarm_or_rule(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "retrain.toml").read_text(encoding="utf-8")
    for name, change in (
        ("off", ('schedule_expression = "cron(0 * ? * * *)"', 'schedule_expression = ""')),
        ("no-bar", ("min_metric_value = 0.2", "")),
    ):
        path = tmp_path / f"{name}.toml"
        path.write_text(text.replace(*change), "utf-8")
        outdir = tmp_path / name
        app, stack = build_app({**project_context(), "retrain:config": str(path)}, outdir=str(outdir))
        app.synth()
        document = json.loads((outdir / stack.template_file).read_text())
        resources = document["Resources"].values()
        assert not [r for r in resources if r.get("Properties", {}).get("MetricName", "").startswith("model_quality_")]
        names = [r.get("Properties", {}).get("Name", "") for r in resources if r["Type"] == "AWS::Events::Rule"]
        assert not [n for n in names if n.endswith("-quality")] and names
