"""A stand-in of the deployed stack in moto: a CloudFormation stack with the outputs the command reads
(bucket, state table, state machine), so unit tests of a command find the pipeline as it does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from retrain.state_table import PARTITION_KEY, SORT_KEY

REGION = "us-east-1"
TEMPLATE = {
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket"},
        "State": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                    {"AttributeName": SORT_KEY, "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
                ],
            },
        },
    },
    "Outputs": {
        "DataBucketName": {"Value": {"Ref": "Data"}},
        "StateTableName": {"Value": {"Ref": "State"}},
        "StateMachineArn": {"Value": f"arn:aws:states:{REGION}:123456789012:stateMachine:fraud-retrain"},
    },
}


@dataclass
class FakeStack:
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    @property
    def bucket(self) -> str:
        return self.outputs["DataBucketName"]

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]


@contextmanager
def fake_stack(
    name: str = "fraud-retrain", *, event_stream: bool = False, catalog: bool = False
) -> Iterator[FakeStack]:
    """Inside moto; the caller sets RETRAIN_TARGET=aws (see `aws_environment`). `event_stream` adds the
    Kinesis stream of a `[stream]` config and its output; `catalog` the outputs of the Glue database, its
    table and the Athena workgroup."""
    template: dict[str, Any] = json.loads(json.dumps(TEMPLATE))
    if catalog:
        template["Outputs"].update(
            CatalogDatabaseName={"Value": "fraud_retrain"},
            CatalogTableName={"Value": "processed"},
            AthenaWorkGroupName={"Value": name},
        )
    if event_stream:
        template["Resources"]["Events"] = {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}}
        template["Outputs"]["EventStreamName"] = {"Value": {"Ref": "Events"}}
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
        [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
        yield FakeStack({output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]})


AWS_ENVIRONMENT = {"RETRAIN_TARGET": "aws", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
NOT_SET = ("AWS_ENDPOINT_URL", "RETRAIN_BUCKET")
