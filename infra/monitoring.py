"""The endpoint alarms that SageMaker's blue/green update watches to roll a canary back, and the drift
and quality alarms that start a retrain (`DriftAlarm`, `QualityAlarm`).

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
from retrain.quality_alarm import quality_alarm_name, quality_metric_name

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


# Model Monitor publishes an endpoint's data-quality metrics here, with these dimensions
# (SageMaker developer guide, model-monitor-interpreting-cloudwatch).
DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
# CloudWatch: an alarm's Period x EvaluationPeriods is at most a day (PutMetricAlarm), so one period.
DRIFT_EVALUATION_PERIODS = 1
# A composite alarm's rule is at most 10240 characters (PutCompositeAlarm AlarmRule); each child costs
# one `ALARM("<arn>")` of ~100: far more than a dataset has columns, but say so rather than fail at deploy.
MAX_DRIFT_FEATURES = 80


class DriftAlarm(Construct):
    """One alarm per model input column on Model Monitor's `feature_baseline_drift_<feature>` of the
    endpoint's schedule, and one composite alarm over them: what starts a `drift` retrain.

    A metric-math alarm over all features would also be one alarm, but its state says only that the
    largest distance crossed; the composite's children keep which features and by how much, which the
    starter reads into the run's reason (`retrain/drift_alarm.py`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        schedule_name: str,
        features: list[str],
        threshold: float,
        period_seconds: int,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        if not features or len(features) > MAX_DRIFT_FEATURES:
            raise ValueError(
                f"dataset: the drift alarm watches 1 to {MAX_DRIFT_FEATURES} model input columns, the config has "
                f'{len(features)}; exclude columns (exclude_columns) or turn monitoring off (schedule_expression = "")'
            )
        dimensions = {"Endpoint": endpoint_name, "MonitoringSchedule": schedule_name}
        self.features: dict[str, cloudwatch.Alarm] = {}
        for feature in features:
            self.features[feature] = cloudwatch.Alarm(
                self,
                f"Feature{len(self.features)}",
                alarm_name=f"{schedule_name}-drift-{feature}",
                alarm_description=(
                    f"Drift distance of {feature} in the traffic of endpoint {endpoint_name} from the champion's "
                    f"baseline above {threshold:g} (the monitoring schedule {schedule_name})."
                ),
                metric=cloudwatch.Metric(
                    namespace=DATA_METRICS_NAMESPACE,
                    metric_name=f"feature_baseline_drift_{feature}",
                    dimensions_map=dimensions,
                    statistic="Maximum",
                    period=Duration.seconds(period_seconds),
                ),
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=DRIFT_EVALUATION_PERIODS,
                # No monitoring run in a period (no traffic, a failed run) is no evidence of drift.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        self.alarm = cloudwatch.CompositeAlarm(
            self,
            "Drift",
            composite_alarm_name=f"{schedule_name}-drift",
            alarm_description=(
                f"Any model input of endpoint {endpoint_name} drifted from the champion's baseline; starts a "
                "drift retrain."
            ),
            alarm_rule=cloudwatch.AlarmRule.any_of(
                *(
                    cloudwatch.AlarmRule.from_alarm(alarm, cloudwatch.AlarmState.ALARM)
                    for alarm in self.features.values()
                )
            ),
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))

    def grant_describe(self, grantee: iam.IGrantable) -> None:
        """Lets `grantee` read the feature alarms' states and values (the starter, for a run's reason)."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["cloudwatch:DescribeAlarms"],
            resource_arns=[alarm.alarm_arn for alarm in self.features.values()],
        )


class QualityAlarm(Construct):
    """One metric alarm on the live value of the promotion metric (`model_quality_<metric>`, published by the
    monitoring job when a window has enough labelled predictions): what starts a `quality` retrain.

    It judges the schedule's longest gap in one period, as the drift alarms do; missing data (a quiet window,
    labels not landed yet) is no evidence of a wrong model. `Minimum` (`Maximum` for a metric to minimize)
    takes the worst of the runs a period holds.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        schedule_name: str,
        metric: str,
        direction: str,
        threshold: float,
        period_seconds: int,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        maximize = direction == "maximize"
        self.alarm = cloudwatch.Alarm(
            self,
            "Quality",
            alarm_name=quality_alarm_name(schedule_name),
            alarm_description=(
                f"Live {metric} of endpoint {endpoint_name} (its captured predictions joined with the labels landed "
                f"for them) {'below' if maximize else 'above'} {threshold:g}; starts a quality retrain."
            ),
            metric=cloudwatch.Metric(
                namespace=DATA_METRICS_NAMESPACE,
                metric_name=quality_metric_name(metric),
                dimensions_map={"Endpoint": endpoint_name, "MonitoringSchedule": schedule_name},
                statistic="Minimum" if maximize else "Maximum",
                period=Duration.seconds(period_seconds),
            ),
            threshold=threshold,
            comparison_operator=(
                cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
                if maximize
                else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
            ),
            evaluation_periods=DRIFT_EVALUATION_PERIODS,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))
