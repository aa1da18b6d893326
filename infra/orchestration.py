"""The Standard state machine, from the generated definition, and exactly the permissions it uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.findings import acknowledge, stack_arn
from retrain.naming import SUFFIXES
from statemachines.placeholders import PLACEHOLDER_NAMES, Placeholder

_TOKEN = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# The managed EventBridge rules through which `.sync` learns that a SageMaker job finished.
SAGEMAKER_SYNC_RULES = (
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
)


@dataclass(frozen=True)
class DefinitionFile:
    """A generated ASL file with `${Placeholder}` tokens for everything deployment-specific."""

    path: Path

    def text(self) -> str:
        if not self.path.is_file():
            raise FileNotFoundError(
                f"{self.path}: the state machine definition is missing; generate it with "
                "`python -m statemachines build`"
            )
        return self.path.read_text(encoding="utf-8")

    def placeholders(self) -> set[str]:
        return set(_TOKEN.findall(self.text()))

    def check(self, substitutions: Mapping[str, str]) -> None:
        """Every token has a value, and every value has a token (a stale one hides a rename)."""
        used = self.placeholders()
        unknown = used - PLACEHOLDER_NAMES
        if unknown:
            raise ValueError(f"{self.path}: placeholders {sorted(unknown)} are not in statemachines/placeholders.py")
        missing = used - set(substitutions)
        if missing:
            raise ValueError(f"{self.path}: no substitution for {sorted(missing)}; add them to the stack")
        unused = set(substitutions) - used
        if unused:
            raise ValueError(
                f"{self.path}: substitutions {sorted(unused)} are not used by the definition; "
                "regenerate it or remove them from the stack"
            )


@dataclass(frozen=True)
class Targets:
    """Names and ARNs of what the state machine drives."""

    function_arns: list[str]
    glue_job_arn: str
    sagemaker_role: iam.IRole
    table_arn: str
    endpoint_name: str
    model_package_group: str
    monitoring_schedule: str | None  # the endpoint's data-quality schedule; None when monitoring is off


class RetrainStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        definition: DefinitionFile,
        substitutions: Mapping[Placeholder, str],
        targets: Targets,
    ) -> None:
        super().__init__(scope, construct_id)
        values = {placeholder.value: value for placeholder, value in substitutions.items()}
        definition.check(values)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # The vendedlogs prefix keeps the logs resource policy small as pipelines are added.
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            # Inline (not an S3 asset): the template shows the exact definition that was deployed.
            definition_body=sfn.DefinitionBody.from_string(definition.text()),
            definition_substitutions=values,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        for statement in self._statements(targets):
            self.state_machine.add_to_role_policy(statement)
        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5",
            "SageMaker job, model and endpoint-config names derive from each execution's "
            "name, and package versions from the registry, so those ARNs end in '*' (scoped "
            "to their resource type and, for packages, to this group). Log delivery and X-Ray "
            "actions support no resource-level permissions (AWS requires '*').",
            findings=[
                stack_arn("sagemaker", "training-job/*"),
                stack_arn("sagemaker", "processing-job/*"),
                stack_arn("sagemaker", "model/*"),
                stack_arn("sagemaker", "endpoint-config/*"),
                stack_arn("sagemaker", f"model/*{SUFFIXES['model']}"),
                stack_arn("sagemaker", f"endpoint-config/*{SUFFIXES['endpoint_config']}"),
                stack_arn("sagemaker", f"model-package/{targets.model_package_group.lower()}/*"),
                "Resource::*",
            ],
        )

    @property
    def arn(self) -> str:
        return self.state_machine.state_machine_arn

    @staticmethod
    def _statements(targets: Targets) -> list[iam.PolicyStatement]:
        def sagemaker(resource: str) -> str:
            # SageMaker reports its ARNs in lower case; IAM compares them case-sensitively.
            return f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource.lower()}"

        endpoint = sagemaker(f"endpoint/{targets.endpoint_name}")
        endpoint_configs = sagemaker("endpoint-config/*")
        models = sagemaker("model/*")
        run_models = sagemaker(f"model/*{SUFFIXES['model']}")
        run_endpoint_configs = sagemaker(f"endpoint-config/*{SUFFIXES['endpoint_config']}")
        training_jobs = sagemaker("training-job/*")
        processing_jobs = sagemaker("processing-job/*")
        group = targets.model_package_group
        packages = [sagemaker(f"model-package/{group}"), sagemaker(f"model-package/{group}/*")]
        schedules = (
            [sagemaker(f"monitoring-schedule/{targets.monitoring_schedule}")] if targets.monitoring_schedule else []
        )
        return [
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=targets.function_arns),
            # glue:startJobRun.sync
            iam.PolicyStatement(
                actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                resources=[targets.glue_job_arn],
            ),
            # sagemaker:createTrainingJob.sync / createProcessingJob.sync (and the redrive lookups)
            iam.PolicyStatement(
                actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"],
                resources=[training_jobs],
            ),
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                ],
                resources=[processing_jobs],
            ),
            iam.PolicyStatement(
                actions=["sagemaker:AddTags"],
                resources=[training_jobs, processing_jobs, models, endpoint_configs, endpoint, *packages, *schedules],
            ),
            # The SageMaker integrations read back the tags of what they create (AWS's generated
            # Step Functions policies for SageMaker, and CDK's SageMaker tasks, grant ListTags).
            iam.PolicyStatement(
                actions=["sagemaker:ListTags"],
                resources=[training_jobs, processing_jobs, models, endpoint_configs, endpoint],
            ),
            iam.PolicyStatement(actions=["sagemaker:CreateModel"], resources=[models]),
            iam.PolicyStatement(actions=["sagemaker:CreateEndpointConfig"], resources=[endpoint_configs]),
            iam.PolicyStatement(
                actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"],
                resources=[endpoint, endpoint_configs],
            ),
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint"], resources=[endpoint]),
            # A rollout that fails before the endpoint takes the candidate deletes the run's model and
            # config: only names a run gives them (retrain/naming.py), never a champion's in use.
            iam.PolicyStatement(actions=["sagemaker:DeleteEndpointConfig"], resources=[run_endpoint_configs]),
            iam.PolicyStatement(actions=["sagemaker:DeleteModel"], resources=[run_models]),
            # ScheduleMonitoring updates the endpoint's one schedule, or creates it (tagged) the first time.
            *(
                [
                    iam.PolicyStatement(
                        actions=["sagemaker:CreateMonitoringSchedule", "sagemaker:UpdateMonitoringSchedule"],
                        resources=schedules,
                    )
                ]
                if schedules
                else []
            ),
            # The registry: the state machine only registers candidates as pending and rejects
            # them (approval rejected, deployment rolled back); approving is PromoteChampion's.
            iam.PolicyStatement(
                actions=["sagemaker:CreateModelPackage"],
                resources=[*packages, sagemaker(f"model-package-group/{group}")],
                conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
            ),
            iam.PolicyStatement(
                actions=["sagemaker:UpdateModelPackage"],
                resources=packages,
                conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "Rejected"}},
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[targets.sagemaker_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{rule}"
                    for rule in SAGEMAKER_SYNC_RULES
                ],
            ),
            # AdvanceWatermark writes the watermark record directly (dynamodb:putItem).
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[targets.table_arn]),
        ]
