"""What starts a retrain: an EventBridge Scheduler schedule, new objects under the landing prefix,
the drift or the quality alarm going to ALARM, and the end of a run that triggers were queued behind.

All go through the starter function (`tasks/start_retrain.py`), never straight to the state
machine: the starter never starts a second retrain while one runs but queues the trigger, starts
one follow-up run for the queue when the run ends, and names executions by time bucket so two
triggers that race produce one execution (see `retrain/triggers.py`).
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.functions import TaskFunction
from retrain.config import PipelineConfig
from retrain.drift_alarm import ALARM, ALARM_STATE_CHANGE, CLOUDWATCH_SOURCE
from retrain.triggers import EXECUTION_STATUS_CHANGE, FINAL_STATUSES, OBJECT_CREATED, S3_SOURCE, STATES_SOURCE

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
        state_machine_arn: str,
        bucket: s3.IBucket,
        landing_prefix: str,
        drift_alarm: cloudwatch.IAlarm | None = None,
        quality_alarm: cloudwatch.IAlarm | None = None,
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
        self.new_data_rule = self._starter_rule(
            "NewDataRule",
            f"{pipeline.name}-new-data",
            "Starts a retrain when an object lands under the landing prefix",
            starter,
            events.EventPattern(
                source=[S3_SOURCE],
                detail_type=[OBJECT_CREATED],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": landing_prefix}]},
                },
            ),
        )
        # Step Functions sends every execution status change to the default bus
        # (https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html).
        self.run_ended_rule = self._starter_rule(
            "RunEndedRule",
            f"{pipeline.name}-run-ended",
            "Starts the follow-up retrain for triggers queued while a run went",
            starter,
            events.EventPattern(
                source=[STATES_SOURCE],
                detail_type=[EXECUTION_STATUS_CHANGE],
                detail={"stateMachineArn": [state_machine_arn], "status": list(FINAL_STATUSES)},
            ),
        )
        # CloudWatch sends every alarm state change to the default bus, composite alarms' too
        # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html).
        self.drift_rule = self._alarm_rule(
            "DriftRule", f"{pipeline.name}-drift", "a drift retrain", "the endpoint's drift alarm", starter, drift_alarm
        )
        self.quality_rule = self._alarm_rule(
            "QualityRule",
            f"{pipeline.name}-quality",
            "a quality retrain",
            "the live model quality alarm",
            starter,
            quality_alarm,
        )

    def _alarm_rule(
        self,
        construct_id: str,
        name: str,
        what: str,
        which: str,
        starter: TaskFunction,
        alarm: cloudwatch.IAlarm | None,
    ) -> events.Rule | None:
        """A rule that takes `alarm`'s change to ALARM to the starter; None without the alarm."""
        if alarm is None:
            return None
        return self._starter_rule(
            construct_id,
            name,
            f"Starts {what} when {which} goes to ALARM",
            starter,
            events.EventPattern(
                source=[CLOUDWATCH_SOURCE],
                detail_type=[ALARM_STATE_CHANGE],
                resources=[alarm.alarm_arn],
                detail={"state": {"value": [ALARM]}},
            ),
        )

    def _starter_rule(
        self, construct_id: str, name: str, description: str, starter: TaskFunction, pattern: events.EventPattern
    ) -> events.Rule:
        """A rule of the default bus whose events go to the starter, retried as the schedule's are."""
        return events.Rule(
            self,
            construct_id,
            rule_name=name,
            description=description,
            event_pattern=pattern,
            targets=[
                targets.LambdaFunction(starter.function, max_event_age=MAX_EVENT_AGE, retry_attempts=RETRY_ATTEMPTS)
            ],
        )
