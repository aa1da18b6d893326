"""What starts a retrain: an EventBridge Scheduler schedule and new objects under the landing prefix.

Both go through the starter function (`tasks/start_retrain.py`), never straight to the state
machine: the starter refuses to start a second retrain while one runs, and names executions by
time bucket so two triggers that race produce one execution (see `retrain/triggers.py`).
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.functions import TaskFunction
from retrain.config import PipelineConfig
from retrain.triggers import OBJECT_CREATED, S3_SOURCE

SCHEDULE_INPUT = {"trigger": "schedule"}
# A trigger that cannot be delivered for this long is stale: the next schedule covers its data.
MAX_EVENT_AGE = Duration.hours(2)
RETRY_ATTEMPTS = 4


class RetrainTriggers(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: PipelineConfig,
        starter: TaskFunction,
        bucket: s3.IBucket,
        landing_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="Lets the retrain schedule invoke the starter function",
        )
        scheduler_role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[starter.function.function_arn])
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            name=f"{pipeline.name}-schedule",
            description="Starts a retrain on the schedule of retrain.toml",
            schedule_expression=pipeline.schedule_expression,
            schedule_expression_timezone=pipeline.schedule_timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=starter.function.function_arn,
                role_arn=scheduler_role.role_arn,
                input=json.dumps(SCHEDULE_INPUT),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds()),
                    maximum_retry_attempts=RETRY_ATTEMPTS,
                ),
            ),
        )
        self.new_data_rule = events.Rule(
            self,
            "NewDataRule",
            rule_name=f"{pipeline.name}-new-data",
            description="Starts a retrain when an object lands under the landing prefix",
            event_pattern=events.EventPattern(
                source=[S3_SOURCE],
                detail_type=[OBJECT_CREATED],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": landing_prefix}]},
                },
            ),
            targets=[
                targets.LambdaFunction(starter.function, max_event_age=MAX_EVENT_AGE, retry_attempts=RETRY_ATTEMPTS)
            ],
        )
