"""Streaming ingestion: a Kinesis Data Stream for producers and a Firehose delivery stream that reads it
and delivers JSON lines into the landing prefix, in the layout CheckForNewData counts.

Each record goes to the `date=` partition of its own timestamp column, not of its arrival: Firehose's
dynamic partitioning extracts the day with a JQ query (Amazon Data Firehose developer guide, "Dynamic
partitioning": "Partitioning keys with inline parsing"). A record that is not JSON, or whose timestamp
is missing, is written under the error prefix with its error type, never under landing. Each delivered
object is an S3 Object Created event like a landed file, so the new-data rule starts the run.
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.findings import acknowledge, objects_under
from infra.storage import DataBucket
from retrain.config import StreamConfig

PARTITION_KEY = "date"
# Firehose writes its parse and delivery errors to this stream of the log group.
LOG_STREAM = "DestinationDelivery"
# How long Firehose retries a failed S3 delivery before the records go to the error prefix.
RETRY_SECONDS = 300


def date_query(timestamp_column: str) -> str:
    """The JQ 1.6 query that takes the day (`YYYY-MM-DD`) from an ISO 8601 timestamp's first ten
    characters: the pipeline's timestamps are UTC text (`2026-03-01T14:05:00Z`, docs/your-data.md)."""
    return f"{{{PARTITION_KEY}: .{json.dumps(timestamp_column)}[0:10]}}"


def landing_prefix_expression(landing_prefix: str) -> str:
    """Objects go directly into `landing/date=YYYY-MM-DD/`. The arrival time leads the object's name:
    keys of one day then sort by delivery, as the watermark needs, and the prefix holds a timestamp
    expression, so Firehose appends no `yyyy/MM/dd/HH/` folders of its own."""
    day = f"!{{partitionKeyFromQuery:{PARTITION_KEY}}}"
    return f"{landing_prefix}{PARTITION_KEY}={day}/!{{timestamp:yyyy-MM-dd'T'HH-mm-ss}}-"


def error_prefix_expression(error_prefix: str) -> str:
    return f"{error_prefix}!{{firehose:error-output-type}}/!{{timestamp:yyyy-MM-dd}}/"


class StreamingIngestion(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        stream: StreamConfig,
        data: DataBucket,
        timestamp_column: str,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        landing_prefix = data.data.landing_prefix
        on_demand = stream.capacity_mode == "ON_DEMAND"
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_name=f"{name}-events",
            stream_mode=kinesis.StreamMode.ON_DEMAND if on_demand else kinesis.StreamMode.PROVISIONED,
            shard_count=None if on_demand else stream.shard_count,
            retention_period=Duration.hours(stream.retention_hours),
            # The AWS-managed aws/kinesis key: cdk-nag (KDS3) prefers it unless a customer key is required.
            encryption=kinesis.StreamEncryption.MANAGED,
        )
        log_group = logs.LogGroup(
            self,
            "DeliveryLogs",
            log_group_name=f"/aws/kinesisfirehose/{name}-landing",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        logs.LogStream(self, "DeliveryLogStream", log_group=log_group, log_stream_name=LOG_STREAM)

        role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}}
            ),
            description="Lets the landing delivery stream read the event stream and write landing and error objects",
        )
        # Reads the stream: DescribeStream, GetShardIterator,
        # GetRecords, ListShards (Firehose developer guide, "Grant Firehose access to an Amazon S3 destination").
        self.stream.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[data.bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=[data.objects(landing_prefix), data.objects(stream.error_prefix)],
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["logs:PutLogEvents"], resources=[log_group.log_group_arn]))
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Firehose names each object it delivers (arrival time and a UUID) under the landing prefix's "
            "date partitions or the error prefix, so writes are scoped to those two prefixes.",
            findings=[objects_under(data.bucket, landing_prefix), objects_under(data.bucket, stream.error_prefix)],
        )

        extension = ".jsonl.gz" if stream.compression == "GZIP" else ".jsonl"
        self.delivery = firehose.CfnDeliveryStream(
            self,
            "Delivery",
            delivery_stream_name=f"{name}-landing",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=self.stream.stream_arn, role_arn=role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=data.bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=landing_prefix_expression(landing_prefix),
                error_output_prefix=error_prefix_expression(stream.error_prefix),
                file_extension=extension,
                compression_format=stream.compression,
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=stream.buffer_interval_seconds, size_in_m_bs=stream.buffer_size_mb
                ),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(duration_in_seconds=RETRY_SECONDS),
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        _processor(
                            "MetadataExtraction",
                            MetadataExtractionQuery=date_query(timestamp_column),
                            JsonParsingEngine="JQ-1.6",
                        ),
                        # One JSON object per line, whatever the producer sent (JSON lines for Glue).
                        _processor("AppendDelimiterToRecord", Delimiter="\\n"),
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True, log_group_name=log_group.log_group_name, log_stream_name=LOG_STREAM
                ),
            ),
        )
        # Firehose checks its role when the delivery stream is created.
        self.delivery.node.add_dependency(role)
        acknowledge(
            self.delivery,
            "AwsSolutions-KDF1",
            "A delivery stream with a Kinesis source cannot take its own server-side encryption "
            "(DeliveryStreamEncryptionConfigurationInput is for Direct PUT); the source stream is encrypted "
            "with the aws/kinesis key and the bucket with SSE-S3.",
        )
        self._alarms(name, stream, topic)

    def _alarms(self, name: str, stream: StreamConfig, topic: sns.ITopic) -> None:
        period = Duration.minutes(5)
        delivery = {"DeliveryStreamName": str(self.delivery.delivery_stream_name)}
        self.failed_deliveries = cloudwatch.Alarm(
            self,
            "FailedDeliveries",
            alarm_name=f"{name}-landing-delivery-failed",
            alarm_description=(
                "Firehose failed to put landing objects into S3; records are retried, then go to the error prefix."
            ),
            # The share of successful S3 puts (AWS/Firehose DeliveryToS3.Success): below 1, some failed.
            metric=cloudwatch.Metric(
                namespace="AWS/Firehose",
                metric_name="DeliveryToS3.Success",
                dimensions_map=delivery,
                statistic="Average",
                period=period,
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.iterator_age = cloudwatch.Alarm(
            self,
            "IteratorAge",
            alarm_name=f"{name}-events-iterator-age",
            alarm_description=(
                f"The oldest unread record of the event stream is older than {stream.max_iterator_age_seconds} s: "
                "Firehose falls behind, and records expire after the stream's retention."
            ),
            metric=self.stream.metric_get_records_iterator_age_milliseconds(statistic="Maximum", period=period),
            threshold=stream.max_iterator_age_seconds * 1000,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.failed_deliveries, self.iterator_age):
            alarm.add_alarm_action(actions.SnsAction(topic))


def _processor(kind: str, **parameters: str) -> firehose.CfnDeliveryStream.ProcessorProperty:
    return firehose.CfnDeliveryStream.ProcessorProperty(
        type=kind,
        parameters=[
            firehose.CfnDeliveryStream.ProcessorParameterProperty(parameter_name=k, parameter_value=v)
            for k, v in parameters.items()
        ],
    )
