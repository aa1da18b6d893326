"""The model registry tells EventBridge of an approval change, as SageMaker does.

"Events that Amazon SageMaker sends to Amazon EventBridge", "SageMaker model package state change"
(SageMaker developer guide, automating-sagemaker-with-eventbridge): source aws.sagemaker, detail-type
"SageMaker Model Package State Change", the package ARN as resource, the package described in the
detail. The pipeline's registry-decision rule (infra/approvals.py) matches exactly that."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.polling import wait_until
from tests.support.sagemaker import IMAGE, SageMakerWorld

pytestmark = pytest.mark.local


def register(world: SageMakerWorld, group: str) -> str:
    """A package version in the group, PendingManualApproval as the pipeline registers candidates."""
    arn: str = world.sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": world.put(f"registry/{group}/model.tar.gz", b"")}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return arn


def _queue_of_rule(world: SageMakerWorld, name: str, group: str) -> tuple[Any, str]:
    """An SQS queue that receives what a rule like the pipeline's registry-decision rule matches."""
    sqs, events = world.client("sqs"), world.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [group], "ModelApprovalStatus": ["Approved", "Rejected"]},
    }
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    return sqs, url


def _received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_an_approval_in_the_registry_reaches_a_rule_on_the_group(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_model_package_group(ModelPackageGroupName=unique_name)
    arn = register(world, unique_name)
    sqs, url = _queue_of_rule(world, unique_name, unique_name)

    world.sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="AP +0.01, latency flat"
    )

    [event] = wait_until(lambda: _received(sqs, url), 30, "the state change event")
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["resources"] == [arn]
    detail = event["detail"]
    assert detail["ModelPackageArn"] == arn
    assert detail["ModelPackageGroupName"] == unique_name
    assert detail["ModelPackageVersion"] == 1
    assert detail["ModelApprovalStatus"] == "Approved"
    assert detail["ApprovalDescription"] == "AP +0.01, latency flat"
    assert detail["LastModifiedBy"]  # who: a user profile or an IAM identity, as in DescribeModelPackage
    assert isinstance(detail["CreationTime"], int) and isinstance(detail["LastModifiedTime"], int)
    assert not [key for key in detail if key.startswith("_")]


def test_an_update_that_keeps_the_status_sends_no_approval_event(world: SageMakerWorld, unique_name: str) -> None:
    world.sm.create_model_package_group(ModelPackageGroupName=unique_name)
    arn = register(world, unique_name)
    sqs, url = _queue_of_rule(world, unique_name, unique_name)

    world.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="no")
    [rejected] = wait_until(lambda: _received(sqs, url), 30, "the rejection's event")
    world.sm.update_model_package(ModelPackageArn=arn, ApprovalDescription="still no")
    world.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    world.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="yes")

    # The next event the queue holds is the approval's: nothing came of the two updates between.
    [approved] = wait_until(lambda: _received(sqs, url), 30, "the approval's event")
    assert rejected["detail"]["ModelApprovalStatus"] == "Rejected"
    assert approved["detail"]["ModelApprovalStatus"] == "Approved"
    assert approved["detail"]["ApprovalDescription"] == "yes"
