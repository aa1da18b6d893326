"""The deployed pipeline as the CLI sees it: config, clients and the stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cli.clients import Clients, clients_from_environment
from cli.config_file import load_checked_config
from retrain.config import RetrainConfig
from retrain.errors import RetrainError
from tasks._aws.dynamodb_state import DynamoPipelineStateTable


class PipelineNotDeployed(RetrainError):
    """No stack of this pipeline where the CLI looked."""


@dataclass
class DeployedPipeline:
    config: RetrainConfig
    clients: Clients
    outputs: dict[str, str]

    @classmethod
    def connect(cls, config_path: str, clients: Clients | None = None) -> DeployedPipeline:
        config = load_checked_config(config_path)
        clients = clients or clients_from_environment()
        return cls(config=config, clients=clients, outputs=read_stack_outputs(clients, config.pipeline.name))

    @property
    def state_machine_arn(self) -> str:
        return self.outputs["StateMachineArn"]

    @property
    def bucket(self) -> str:
        return self.outputs["DataBucketName"]

    @property
    def state_table(self) -> str:
        return self.outputs["StateTableName"]

    @property
    def endpoint_name(self) -> str:
        return self.outputs.get("EndpointName", self.config.deployment.endpoint_name)

    def execution_arn(self, run: str) -> str:
        """A run is named by its execution name or ARN."""
        if run.startswith("arn:"):
            return run
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run}"

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    def state_store(self) -> DynamoPipelineStateTable:
        """The state table, through the adapter the Lambdas use."""
        return DynamoPipelineStateTable(self.client("dynamodb"), self.state_table, self.config.pipeline.name)


def read_stack_outputs(clients: Clients, stack_name: str) -> dict[str, str]:
    """The deployed stack's outputs: where every command finds the bucket, state machine, table, endpoint."""
    where = clients.endpoint_url or "the AWS account of your credentials"
    deploy = "RETRAIN_TARGET=aws retrain deploy" if clients.endpoint_url is None else "retrain deploy"
    try:
        stacks = clients.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise PipelineNotDeployed(f"no stack {stack_name!r} at {where}: deploy it with `{deploy}`") from error
    except BotoCoreError as error:
        raise PipelineNotDeployed(
            f"cannot reach {where} ({error}): start the local AWS with `retrain local up`"
        ) from error
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
