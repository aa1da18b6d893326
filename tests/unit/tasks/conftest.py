"""Fixtures for the Lambda handlers: moto-backed AWS, the stack's resources, a fake LambdaContext."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws  # imported before any handler, so the handlers' clients route to moto

from tests.support.lambda_context import ACCOUNT, REGION, FakeLambdaContext

PIPELINE = "fraud-retrain"
BUCKET = "retrain-data"
TABLE = "retrain-state"


def execution_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{PIPELINE}:{name}"


@dataclass
class Stack:
    """The resources infra deploys, created in moto."""

    s3: Any
    dynamodb: Any
    sns: Any
    sqs: Any
    sagemaker: Any
    topic_arn: str
    queue_url: str
    region: str = REGION
    pipeline: str = PIPELINE
    bucket: str = BUCKET
    table: str = TABLE

    @staticmethod
    def execution_arn(name: str) -> str:
        return execution_arn(name)

    def messages(self) -> list[dict[str, str]]:
        """Every SNS message published so far ({"Subject", "Message"}), drained from the queue."""
        received: list[dict[str, str]] = []
        for _ in range(20):  # bounded: moto delivers synchronously, so one empty poll ends it
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                envelope = json.loads(message["Body"])
                received.append({"Subject": envelope.get("Subject", ""), "Message": envelope["Message"]})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received

    def item(self, sort_key: str) -> dict[str, Any] | None:
        key = {"pk": {"S": PIPELINE}, "sk": {"S": sort_key}}
        item: dict[str, Any] | None = self.dynamodb.get_item(TableName=TABLE, Key=key).get("Item")
        return item

    def sort_keys(self) -> list[str]:
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return sorted(item["sk"]["S"] for item in items)

    def model_package(self, name: str = "fraud-detector-models") -> str:
        self.sagemaker.create_model_package_group(ModelPackageGroupName=name)
        arn: str = self.sagemaker.create_model_package(
            ModelPackageGroupName=name,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "sklearn:1.2-1", "ModelDataUrl": f"s3://{BUCKET}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        return arn


def validate_input_event(execution_name: str = "fraud-retrain-2024-06-01", **given: Any) -> dict[str, Any]:
    """What the definition passes to ValidateInput."""
    return {
        "execution_name": execution_name,
        "execution_id": execution_arn(execution_name),
        "start_time": "2024-06-01T03:00:00.123Z",
        "input": given,
        "resources": {
            "bucket": BUCKET,
            "state_table": TABLE,
            "sagemaker_role_arn": f"arn:aws:iam::{ACCOUNT}:role/retrain-sagemaker",
            "image_uri": f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "training_code_uri": f"s3://{BUCKET}/code/sourcedir.tar.gz",
            "model_package_group": "fraud-detector-models",
            "endpoint_name": "fraud-detector",
            "code_version": "abc1234",
        },
    }


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_SERVICE_NAME": "retrain-pipeline",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "RetrainPipeline",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "RETRAIN_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="retrain-notifications")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="ml-leads")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        yield Stack(s3, dynamodb, sns, sqs, boto3.client("sagemaker", region_name=REGION), topic_arn, queue_url)


@pytest.fixture
def load_handler(stack: Stack) -> Callable[[str], ModuleType]:
    """Import `tasks.<name>` inside the mock, as Lambda imports it at cold start."""

    def load(name: str) -> ModuleType:
        return importlib.import_module(f"tasks.{name}")

    return load


@pytest.fixture
def validate_event() -> Callable[..., dict[str, Any]]:
    return validate_input_event


@pytest.fixture
def plan(load_handler: Callable[[str], ModuleType], context: FakeLambdaContext) -> Callable[..., dict[str, Any]]:
    """A RunPlan as ValidateInput returns it, for the events of later states."""

    def make(execution_name: str = "fraud-retrain-2024-06-01", start_time: str | None = None, **given: Any):
        event = validate_input_event(execution_name, **given)
        if start_time:
            event["start_time"] = start_time
        run: dict[str, Any] = load_handler("validate_input").handler(event, context)["run"]
        return run

    return make


def pytest_configure(config: pytest.Config) -> None:
    # A handler that fails on its input never adds a metric; Powertools warns about that.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")
