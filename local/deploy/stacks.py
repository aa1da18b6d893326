"""CloudFormation: publish a cloud assembly's assets and create, update or delete its stacks.

`LocalCdkDeployer` does what `cdk deploy` does into an account: it leaves what `cdk bootstrap` would
(the staging bucket and the bootstrap version parameter), uploads each file asset (a directory
zipped) to its bucket and key, then creates or updates each stack in dependency order. Every wait is
bounded by `stack_timeout`: a resource the local AWS cannot create must fail the deploy with the
failed resources' reasons, never leave it hanging.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local.clients import LocalClients
from local.deploy.assembly import LOCAL_ACCOUNT, CloudAssembly, DeployError, FileAsset, StackArtifact

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"
STACK_TIMEOUT_SECONDS = 300.0
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# Templates above this size cannot go inline in CreateStack; they go through the staging bucket.
_INLINE_TEMPLATE_LIMIT = 51_200
POLL_SECONDS = 0.25


@dataclass
class StackDeployment:
    stack_name: str
    status: str
    outputs: dict[str, str]
    seconds: float
    action: str = ""  # created | updated | unchanged


class LocalCdkDeployer:
    """Publishes a cloud assembly's assets and deploys its stacks through CloudFormation."""

    def __init__(self, clients: LocalClients, stack_timeout: float = STACK_TIMEOUT_SECONDS) -> None:
        self.clients = clients
        self.stack_timeout = stack_timeout

    def deploy(self, assembly: CloudAssembly) -> list[StackDeployment]:
        return [self.deploy_artifact(stack) for stack in assembly.stacks(region=self.clients.region)]

    def deploy_artifact(self, stack: StackArtifact) -> StackDeployment:
        """Publish one stack's assets and create or update it."""
        self.bootstrap()
        for asset in stack.assets:
            self.publish(asset)
        return self.deploy_stack(stack)

    def bootstrap(self) -> None:
        """What `cdk bootstrap` leaves in an account and a synthesized app expects to find."""
        region = self.clients.region
        bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{LOCAL_ACCOUNT}-{region}"
        s3 = self.clients.client("s3")
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket)
        self.clients.client("ssm").put_parameter(
            Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
        )

    def publish(self, asset: FileAsset) -> None:
        s3 = self.clients.client("s3")
        try:
            s3.head_bucket(Bucket=asset.bucket)
        except ClientError:
            s3.create_bucket(Bucket=asset.bucket)
        if not asset.source.exists():
            raise DeployError(f"asset {asset.source} is missing from the cloud assembly")
        if asset.packaging == "zip" or asset.source.is_dir():
            with tempfile.TemporaryDirectory() as scratch:
                archive = shutil.make_archive(str(Path(scratch) / "asset"), "zip", root_dir=asset.source)
                s3.upload_file(archive, asset.bucket, asset.key)
        else:
            s3.upload_file(str(asset.source), asset.bucket, asset.key)

    def deploy_stack(self, stack: StackArtifact) -> StackDeployment:
        started = time.monotonic()
        cloudformation = self.clients.client("cloudformation")
        template = stack.template.read_text(encoding="utf-8")
        request: dict[str, Any] = {"StackName": stack.stack_name, "Capabilities": CAPABILITIES}
        request.update(self._template_argument(stack, template))
        if stack.parameters:
            request["Parameters"] = [{"ParameterKey": k, "ParameterValue": v} for k, v in stack.parameters.items()]
        current = self._status(stack.stack_name)
        if current is not None and current.endswith("_IN_PROGRESS"):
            # Another deploy (or a hung one) holds the stack: wait for it, bounded.
            current = self._wait(stack.stack_name, started)
        if current in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
            # A stack whose creation failed cannot be updated; AWS makes you delete it too.
            cloudformation.delete_stack(StackName=stack.stack_name)
            self._wait(stack.stack_name, started)
            current = None
        if current is None:
            try:
                cloudformation.create_stack(**request)
            except ClientError as error:
                raise DeployError(f"creating stack {stack.stack_name} failed: {error}") from None
            action = "create"
        else:
            try:
                cloudformation.update_stack(**request)
            except ClientError as error:
                if "No updates are to be performed" in str(error):
                    return StackDeployment(stack.stack_name, current, self.outputs(stack.stack_name), 0.0, "unchanged")
                raise DeployError(f"updating stack {stack.stack_name} failed: {error}") from None
            action = "update"
        status = self._wait(stack.stack_name, started)
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise DeployError(
                f"{action} of stack {stack.stack_name} ended {status}: {self._failure_reasons(stack.stack_name)}"
            )
        return StackDeployment(
            stack.stack_name,
            status,
            self.outputs(stack.stack_name),
            time.monotonic() - started,
            "created" if action == "create" else "updated",
        )

    def _template_argument(self, stack: StackArtifact, template: str) -> dict[str, str]:
        if len(template.encode()) <= _INLINE_TEMPLATE_LIMIT:
            return {"TemplateBody": template}
        bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{LOCAL_ACCOUNT}-{self.clients.region}"
        key = f"templates/{stack.stack_name}.json"
        self.clients.client("s3").put_object(Bucket=bucket, Key=key, Body=template.encode())
        return {"TemplateURL": f"{self.clients.endpoint_url}/{bucket}/{key}"}

    def delete_stack(self, stack_name: str) -> None:
        """Delete a stack and wait for it to go (hard timeout); no stack is not an error."""
        started = time.monotonic()
        if self._status(stack_name) is None:
            return
        self.clients.client("cloudformation").delete_stack(StackName=stack_name)
        status = self._wait(stack_name, started)
        if status is not None:
            raise DeployError(f"deleting stack {stack_name} ended {status}: {self._failure_reasons(stack_name)}")

    def status(self, stack_name: str) -> str | None:
        """The stack's status, or None when there is no such stack."""
        return self._status(stack_name)

    def _status(self, stack_name: str) -> str | None:
        try:
            stacks = self.clients.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
        status = stacks[0]["StackStatus"] if stacks else None
        return None if status == "DELETE_COMPLETE" else status

    def _wait(self, stack_name: str, started: float) -> str | None:
        deadline = started + self.stack_timeout
        while True:
            status = self._status(stack_name)
            if status is None or not status.endswith("_IN_PROGRESS"):
                return status
            if time.monotonic() > deadline:
                raise DeployError(
                    f"stack {stack_name} is still {status} after {self.stack_timeout:.0f}s "
                    f"({self._failure_reasons(stack_name) or 'no failed resource yet'}); a resource the local "
                    "AWS cannot create (a Node.js custom resource, auto_delete_objects, log_retention) hangs "
                    "there: remove it from the app"
                )
            time.sleep(POLL_SECONDS)

    def _failure_reasons(self, stack_name: str) -> str:
        try:
            events = self.clients.client("cloudformation").describe_stack_events(StackName=stack_name)["StackEvents"]
        except ClientError:
            return ""
        reasons = [
            f"{event['LogicalResourceId']} ({event.get('ResourceType', '?')}): {event['ResourceStatusReason']}"
            for event in events
            if event.get("ResourceStatus", "").endswith("_FAILED") and event.get("ResourceStatusReason")
        ]
        return "; ".join(reasons[:5])

    def outputs(self, stack_name: str) -> dict[str, str]:
        stacks = self.clients.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
