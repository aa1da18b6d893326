"""Approval in the SageMaker Model Registry: an ML lead who approves or rejects the candidate's model
package (in Studio, or `aws sagemaker update-model-package`) answers the run that waits on it.

SageMaker sends "SageMaker Model Package State Change" to the default bus ("Events that Amazon
SageMaker sends to Amazon EventBridge", SageMaker developer guide); a rule of this pipeline's group
invokes `tasks/answer_from_registry.py`, which sends the stored task token back (retrain.approval_answers).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.functions import LambdaCode, TaskFunction, TaskSpec
from infra.triggers import MAX_EVENT_AGE, RETRY_ATTEMPTS
from retrain.approval_answers import APPROVED, MODEL_PACKAGE_STATE_CHANGE, REJECTED, SAGEMAKER_SOURCE

ANSWER_FROM_REGISTRY = TaskSpec(
    "answer_from_registry",
    "Answers the run waiting on a model package approved or rejected in the Model Registry",
    timeout_seconds=30,
    memory_mb=256,
)


class RegistryApprovals(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        code: LambdaCode,
        environment: dict[str, str],
        table_arn: str,
        table_name: str,
        model_package_group: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.answerer = TaskFunction(
            self,
            "AnswerFromRegistryFunction",
            spec=ANSWER_FROM_REGISTRY,
            code=code,
            function_name=f"{name}-{ANSWER_FROM_REGISTRY.slug}",
            environment={**environment, "STATE_TABLE_NAME": table_name, "PIPELINE_NAME": name},
        )
        # AWS requires "*" for these two (a task token is not an ARN); the function only sends a token
        # stored by this pipeline's RequestApproval, for a package of this pipeline's group.
        self.answerer.allow(
            iam.PolicyStatement(actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=["*"])
        )
        # Finds the request waiting on the package and claims it: the pipeline's partition only.
        self.answerer.allow(
            iam.PolicyStatement(
                actions=["dynamodb:Query", "dynamodb:UpdateItem"],
                resources=[table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [name]}},
            )
        )
        self.rule = events.Rule(
            self,
            "DecisionRule",
            rule_name=f"{name}-registry-decision",
            description="Answers the waiting run when its model package is approved or rejected",
            event_pattern=events.EventPattern(
                source=[SAGEMAKER_SOURCE],
                detail_type=[MODEL_PACKAGE_STATE_CHANGE],
                detail={"ModelPackageGroupName": [model_package_group], "ModelApprovalStatus": [APPROVED, REJECTED]},
            ),
            # Delivered as triggers are: retried for up to MAX_EVENT_AGE, after which the lead answers
            # with `retrain approve|reject` (the run may have timed out by then anyway).
            targets=[
                targets.LambdaFunction(
                    self.answerer.function, max_event_age=MAX_EVENT_AGE, retry_attempts=RETRY_ATTEMPTS
                )
            ],
        )
