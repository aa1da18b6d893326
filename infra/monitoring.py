"""The endpoint alarms that SageMaker's blue/green update watches to roll a canary back.

Their names are `deployment.alarm_names` of `retrain.toml`, in this order: the error-rate alarm,
then the latency alarm. The definition passes those names as `AutoRollbackConfiguration`, so a name
here that differs from the config would make every rollout unguarded.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from retrain.config import DeploymentConfig

# The production variant the definition's endpoint configs create (one variant; blue/green swaps
# its fleet, so the metrics keep these dimensions through a rollout).
VARIANT_NAME = "AllTraffic"
NAMESPACE = "AWS/SageMaker"
# One-minute datapoints (SageMaker publishes endpoint metrics each minute), 2 bad periods out of 3:
# fires well inside a canary's baking period. A test stack may use shorter periods
# (`retrain:alarmPeriodSeconds`); the local one keeps these and compresses its clocks instead.
DEFAULT_PERIOD_SECONDS = 60
EVALUATION_PERIODS = 3
DATAPOINTS_TO_ALARM = 2


class EndpointAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: DeploymentConfig,
        topic: sns.ITopic,
        period_seconds: int = DEFAULT_PERIOD_SECONDS,
    ) -> None:
        super().__init__(scope, construct_id)
        period = Duration.seconds(period_seconds)
        if len(deployment.alarm_names) != 2:
            raise ValueError(
                "deployment.alarm_names: expected two names, the error-rate alarm then the latency "
                f"alarm, got {deployment.alarm_names!r}"
            )
        errors_name, latency_name = deployment.alarm_names
        dimensions = {"EndpointName": deployment.endpoint_name, "VariantName": VARIANT_NAME}

        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=NAMESPACE, metric_name=name, dimensions_map=dimensions, statistic=statistic, period=period
            )

        error_rate = cloudwatch.MathExpression(
            # No traffic in a minute is not an error; without IF the division would yield no data.
            expression="IF(invocations > 0, errors / invocations, 0)",
            using_metrics={
                "errors": metric("Invocation5XXErrors", "Sum"),
                "invocations": metric("Invocations", "Sum"),
            },
            label="Share of invocations answered with a 5XX error",
            period=period,
        )
        self.errors = cloudwatch.Alarm(
            self,
            "ErrorRate",
            alarm_name=errors_name,
            alarm_description=(
                f"Share of 5XX invocations of endpoint {deployment.endpoint_name} above "
                f"{deployment.error_rate_threshold}; a blue/green rollout in progress rolls back."
            ),
            metric=error_rate,
            threshold=deployment.error_rate_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=EVALUATION_PERIODS,
            datapoints_to_alarm=DATAPOINTS_TO_ALARM,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency = cloudwatch.Alarm(
            self,
            "ModelLatency",
            alarm_name=latency_name,
            alarm_description=(
                f"p99 ModelLatency of endpoint {deployment.endpoint_name} above "
                f"{deployment.latency_p99_threshold_ms} ms; a blue/green rollout in progress rolls back."
            ),
            # SageMaker reports ModelLatency in microseconds.
            metric=metric("ModelLatency", "p99"),
            threshold=deployment.latency_p99_threshold_ms * 1000,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=EVALUATION_PERIODS,
            datapoints_to_alarm=DATAPOINTS_TO_ALARM,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.errors, self.latency):
            alarm.add_alarm_action(actions.SnsAction(topic))

    def grant_describe(self, grantee: iam.IGrantable) -> None:
        """Lets `grantee` read these alarms' states (what a blue/green update's rollback watches)."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["cloudwatch:DescribeAlarms"],
            resource_arns=[self.errors.alarm_arn, self.latency.alarm_arn],
        )
