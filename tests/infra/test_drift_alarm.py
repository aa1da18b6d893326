"""The drift alarm: one alarm per model input column on Model Monitor's drift metric of the endpoint's
schedule, one composite alarm over them into the alarm topic, and a rule that takes its change to ALARM to
the starter; none of it when monitoring is off."""

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


def _is_drift(alarm: dict[str, Any]) -> bool:
    properties = alarm["Properties"]
    return properties.get("Namespace") == DATA_METRICS_NAMESPACE and properties["MetricName"].startswith(
        "feature_baseline_drift_"
    )


def _feature_alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["MetricName"]: alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if _is_drift(alarm)
    }


def test_each_model_input_has_a_drift_alarm_on_the_schedules_metric(
    synthesized: Synthesized, config: RetrainConfig
) -> None:
    alarms = _feature_alarms(synthesized)
    # The columns the champion's baseline covers (jobs/evaluate.py: the model's raw inputs).
    assert sorted(alarms) == sorted(f"feature_baseline_drift_{column}" for column in config.dataset.feature_columns)
    schedule = monitoring_schedule_name(config.deployment.endpoint_name)
    for alarm in alarms.values():
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "Endpoint", "Value": config.deployment.endpoint_name},
            {"Name": "MonitoringSchedule", "Value": schedule},
        ]
        assert alarm["Statistic"] == "Maximum"
        assert alarm["Period"] == 3600  # the hourly schedule of retrain.toml
        assert alarm["EvaluationPeriods"] == 1
        assert alarm["Threshold"] == config.monitoring.drift_threshold == 0.1
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert "AlarmActions" not in alarm  # the composite notifies, once


def test_one_composite_alarm_over_them_notifies_the_topic(synthesized: Synthesized, config: RetrainConfig) -> None:
    _, composite = synthesized.one("AWS::CloudWatch::CompositeAlarm")
    properties = composite["Properties"]
    assert properties["AlarmName"] == f"{monitoring_schedule_name(config.deployment.endpoint_name)}-drift"
    topic_id, _ = synthesized.one("AWS::SNS::Topic")
    assert properties["AlarmActions"] == [{"Ref": topic_id}]
    rule = json.dumps(properties["AlarmRule"])
    feature_ids = [
        logical for logical, alarm in synthesized.resources("AWS::CloudWatch::Alarm").items() if _is_drift(alarm)
    ]
    assert all(logical in rule for logical in feature_ids) and rule.count("ALARM(") == len(feature_ids)
    assert " OR " in rule


def test_the_composites_change_to_alarm_reaches_the_starter(synthesized: Synthesized) -> None:
    composite_id, _ = synthesized.one("AWS::CloudWatch::CompositeAlarm")
    ((rule_id, rule),) = [
        (logical_id, rule)
        for logical_id, rule in synthesized.resources("AWS::Events::Rule").items()
        if rule["Properties"]["Name"].endswith("-drift")
    ]
    properties = rule["Properties"]
    assert properties["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "resources": [{"Fn::GetAtt": [composite_id, "Arn"]}],
        "detail": {"state": {"value": ["ALARM"]}},
    }
    (target,) = properties["Targets"]
    starter_id = next(
        logical_id
        for logical_id, function in synthesized.resources("AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == STARTER.handler
    )
    assert target["Arn"]["Fn::GetAtt"][0] == starter_id
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission", {"Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}
    )


def test_the_starter_may_read_the_feature_alarms_only(synthesized: Synthesized) -> None:
    feature_arns = sorted(
        json.dumps({"Fn::GetAtt": [logical_id, "Arn"]})
        for logical_id, alarm in synthesized.resources("AWS::CloudWatch::Alarm").items()
        if _is_drift(alarm)
    )
    statements = [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "cloudwatch:DescribeAlarms"
        and any(json.dumps(resource) in feature_arns for resource in statement["Resource"])
    ]
    (statement,) = statements
    assert sorted(json.dumps(resource) for resource in statement["Resource"]) == feature_arns


def test_without_monitoring_there_is_no_drift_alarm_or_rule(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "retrain.toml").read_text(encoding="utf-8")
    path = tmp_path / "retrain.toml"
    path.write_text(text.replace('schedule_expression = "cron(0 * ? * * *)"', 'schedule_expression = ""'), "utf-8")
    outdir = tmp_path / "cdk.out"
    app, stack = build_app({**project_context(), "retrain:config": str(path)}, outdir=str(outdir))
    app.synth()
    document = json.loads((outdir / stack.template_file).read_text())
    types = {resource["Type"] for resource in document["Resources"].values()}
    assert "AWS::CloudWatch::CompositeAlarm" not in types
    names = [
        r["Properties"].get("Name", "") for r in document["Resources"].values() if r["Type"] == "AWS::Events::Rule"
    ]
    assert not [name for name in names if name.endswith("-drift")] and names  # the other rules stay
