"""Streaming ingestion (a `[stream]` table): the event stream, the delivery stream into the landing layout,
its role, alarms and cdk-nag, on a synth with that table; the default config deploys none of it."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match
from cfnlint.api import ManualArgs, lint_file

from infra.streaming import date_query
from tests.support.synth import Synthesized, acknowledged

STREAMING = "/Streaming/"


def _delivery(synthesized: Synthesized) -> dict[str, Any]:
    properties: dict[str, Any] = synthesized.one("AWS::KinesisFirehose::DeliveryStream")[1]["Properties"]
    return properties


def test_the_default_config_deploys_no_stream(synthesized: Synthesized) -> None:
    assert synthesized.resources("AWS::Kinesis::Stream") == {}
    assert synthesized.resources("AWS::KinesisFirehose::DeliveryStream") == {}


def test_the_event_stream_is_encrypted_and_on_demand(streaming_synthesized: Synthesized) -> None:
    streaming_synthesized.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "Name": "fraud-retrain-events",
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "RetentionPeriodHours": 24,
        },
    )


def test_firehose_reads_the_stream_and_lands_by_event_day(streaming_synthesized: Synthesized) -> None:
    delivery = _delivery(streaming_synthesized)
    stream_id = streaming_synthesized.one("AWS::Kinesis::Stream")[0]
    assert delivery["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert delivery["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    s3 = delivery["ExtendedS3DestinationConfiguration"]
    # Directly inside landing/date=YYYY-MM-DD/, the layout CheckForNewData counts (docs/your-data.md).
    assert s3["Prefix"].startswith("landing/date=!{partitionKeyFromQuery:date}/")
    assert "/" not in s3["Prefix"].removeprefix("landing/date=!{partitionKeyFromQuery:date}/")
    assert s3["ErrorOutputPrefix"] == "stream-errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/"
    assert s3["FileExtension"] == ".jsonl" and s3["CompressionFormat"] == "UNCOMPRESSED"
    assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True
    # retrain.toml's [stream] buffering (this synth's config sets the interval to 120 s).
    assert s3["BufferingHints"] == {"IntervalInSeconds": 120, "SizeInMBs": 64}
    processors = {
        p["Type"]: {q["ParameterName"]: q["ParameterValue"] for q in p["Parameters"]}
        for p in s3["ProcessingConfiguration"]["Processors"]
    }
    assert processors["MetadataExtraction"] == {
        "MetadataExtractionQuery": '{date: ."event_time"[0:10]}',
        "JsonParsingEngine": "JQ-1.6",
    }
    assert processors["AppendDelimiterToRecord"] == {"Delimiter": "\\n"}
    assert s3["CloudWatchLoggingOptions"]["Enabled"] is True


@pytest.mark.parametrize(
    ("column", "query"), [("event_time", '{date: ."event_time"[0:10]}'), ("placed at", '{date: ."placed at"[0:10]}')]
)
def test_the_query_reads_the_configured_timestamp_column(column: str, query: str) -> None:
    assert date_query(column) == query


def test_the_delivery_role_reads_the_stream_and_writes_only_landing_and_errors(
    streaming_synthesized: Synthesized,
) -> None:
    role_id, role = next(
        (i, r) for i, r in streaming_synthesized.resources("AWS::IAM::Role").items() if "StreamingDeliveryRole" in i
    )
    principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert principal["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert principal["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}
    policy = next(
        p
        for p in streaming_synthesized.resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    )
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "s3:DeleteObject" not in actions and not any(a.endswith("*") and ":" not in a for a in actions)
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "s3:PutObject"} <= actions
    writes = next(s for s in statements if "s3:PutObject" in s["Action"])
    prefixes = sorted(str(r["Fn::Join"][1][-1]) for r in writes["Resource"])
    assert prefixes == ["/landing/*", "/stream-errors/*"]


def _statements_of_role(synthesized: Synthesized, role_prefix: str) -> list[dict[str, Any]]:
    (role_id,) = [i for i in synthesized.resources("AWS::IAM::Role") if i.startswith(role_prefix)]
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_check_for_new_data_lists_and_reads_exactly_the_error_prefix_too(
    synthesized: Synthesized, streaming_synthesized: Synthesized
) -> None:
    """It counts the run's refused records (retrain.delivery_errors): list and read the error prefix,
    nothing else of it; without [stream] it holds no such grant."""

    def s3(synth: Synthesized) -> list[tuple[Any, Any, Any]]:
        return [
            (s["Action"], s["Resource"], s.get("Condition"))
            for s in _statements_of_role(synth, "CheckForNewDataFunctionRole")
            if str(s["Action"]).startswith("s3:")
        ]

    [(listing, _, condition), (read, objects, _)] = s3(streaming_synthesized)
    assert (listing, condition) == ("s3:ListBucket", {"StringLike": {"s3:prefix": ["landing/*", "stream-errors/*"]}})
    assert read == "s3:GetObject" and str(objects["Fn::Join"][1][-1]) == "/stream-errors/*"
    [(listing, _, condition)] = s3(synthesized)
    assert (listing, condition) == ("s3:ListBucket", {"StringLike": {"s3:prefix": ["landing/*"]}})


def test_failed_deliveries_and_iterator_age_alarm_into_the_pipeline_topic(
    streaming_synthesized: Synthesized,
) -> None:
    topic = {"Ref": streaming_synthesized.one("AWS::SNS::Topic")[0]}
    streaming_synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Firehose",
            "MetricName": "DeliveryToS3.Success",
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1,
            "AlarmActions": [topic],
        },
    )
    streaming_synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Kinesis",
            "MetricName": "GetRecords.IteratorAgeMilliseconds",
            "Statistic": "Maximum",
            "Threshold": 900_000,
            "AlarmActions": [topic],
            "Dimensions": [{"Name": "StreamName", "Value": Match.any_value()}],
        },
    )


def test_outputs_name_the_stream_for_producers(streaming_synthesized: Synthesized) -> None:
    outputs = streaming_synthesized.document["Outputs"]
    assert {"EventStreamName", "LandingDeliveryStreamName"} <= set(outputs)


def test_streaming_findings_are_all_acknowledged_and_none_stale(
    streaming_synthesized: Synthesized, streaming_audit_violations: list[tuple[str, str]]
) -> None:
    findings = [(rule, path) for rule, path in streaming_audit_violations if STREAMING in path]
    assert findings, "the audit synth reported nothing of the streaming constructs"
    acknowledgments = [a for a in acknowledged(streaming_synthesized) if STREAMING in a.path + "/"]
    for acknowledgment in acknowledgments:
        assert any(rule in acknowledgment.rule and path.startswith(acknowledgment.path) for rule, path in findings)
    for rule, path in findings:
        assert any(a.rule.startswith(rule) and path.startswith(a.path) for a in acknowledgments), (rule, path)


def test_the_streaming_template_passes_cfn_lint(streaming_synthesized: Synthesized) -> None:
    matches = lint_file(streaming_synthesized.template_file(), ManualArgs(regions=["us-east-1", "eu-west-1"]))
    # W3005: CDK's explicit DependsOn of a resource a GetAtt already orders (as in test_nag_and_lint).
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id != "W3005"] == []
