"""The pipeline's Lambda functions: one per module in `tasks/`, each with its own role and log group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnParameter, Duration, Fn, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.archives import build_directory, stage_lambda_code
from infra.findings import acknowledge
from infra.settings import POWERTOOLS_LAYER_ACCOUNT, POWERTOOLS_LAYER_NAME

RUNTIME = lambda_.Runtime.PYTHON_3_11
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS


@dataclass(frozen=True)
class TaskSpec:
    """One handler module of `tasks/`."""

    module: str
    description: str
    timeout_seconds: int = 60
    memory_mb: int = 512

    @property
    def handler(self) -> str:
        return f"tasks.{self.module}.handler"

    @property
    def slug(self) -> str:
        return self.module.replace("_", "-")


class LambdaCode(Construct):
    """The code asset and the Powertools layer shared by every function.

    The asset is a folder staged at synth time: the pure core, the handlers, and the config the stack
    is synthesized with as `retrain.toml` at its root, where the handlers read it; so `retrain:config`
    (another file, inside the project or not) is what every function reads. Dependencies come from the
    runtime (boto3) and the Powertools layer (Powertools, pydantic, the X-Ray SDK): nothing is
    bundled, so no Docker is needed.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        project_root: Path,
        config_file: Path,
        layer_version: int,
        layer_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        staged = stage_lambda_code(project_root, config_file, build_directory(self) / "lambda-code")
        self.code = lambda_.Code.from_asset(str(staged))
        if layer_arn is None:
            # The public layer of the deploy region; its version can change at deploy time.
            version = CfnParameter(
                scope,
                "PowertoolsLayerVersion",
                type="Number",
                default=layer_version,
                min_value=1,
                description=f"Version of the public Powertools layer {POWERTOOLS_LAYER_NAME} "
                f"(account {POWERTOOLS_LAYER_ACCOUNT}) in the deploy region",
            )
            layer_arn = Fn.sub(
                f"arn:aws:lambda:${{AWS::Region}}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{POWERTOOLS_LAYER_NAME}:"
                "${Version}",
                {"Version": version.value_as_string},
            )
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", layer_arn)


class TaskFunction(Construct):
    """A handler of `tasks/` with a least-privilege role of its own and an explicit log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: TaskSpec,
        code: LambdaCode,
        function_name: str,
        environment: dict[str, str],
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {function_name} Lambda function",
        )
        # Instead of AWSLambdaBasicExecutionRole (any log group): only this function's own.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=spec.description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=spec.handler,
            code=code.code,
            layers=[code.powertools],
            role=self.role,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment=environment,
            reserved_concurrent_executions=reserved_concurrency,
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The project pins Python 3.11 (pyproject requires-python) and the matching "
            "Powertools python3.11 layer, so Lambda runs the interpreter the tests run.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "X-Ray active tracing: xray:PutTraceSegments and PutTelemetryRecords support "
            "no resource-level permissions, so AWS requires Resource '*'.",
            findings=["Resource::*"],
        )

    @property
    def arn(self) -> str:
        return self.function.function_arn

    def allow(self, statement: iam.PolicyStatement) -> None:
        self.role.add_to_policy(statement)
