"""A CDK app deploys into the local AWS, and a code change redeploys as a stack update.

The tiny app's cases are one walk through its deploys: a synthesis costs ~30 s, so the app is synthesized
once for each of its three distinct sources, and every other deploy takes the synthesis from the cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from local.deploy import (
    AppDeployment,
    CdkApp,
    CloudAssembly,
    DeployError,
    DeploymentRecords,
    IncrementalDeployer,
    LocalCdkDeployer,
    SourceFingerprint,
    SynthCache,
)
from tests.support.emulator import StateMachineRunner

pytestmark = [pytest.mark.local, pytest.mark.slow]

APP = Path(__file__).parent / "cdk_app"


def test_the_tiny_app_deploys_runs_and_redeploys_only_what_changed(
    tmp_path: Path, aws_clients, machines: StateMachineRunner, unique_name: str
) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(APP, app_dir)
    app, sources = CdkApp(app_dir, context={"stack_name": unique_name}), SourceFingerprint(app_dir, ("**/*.py",))
    cache = SynthCache(tmp_path / "synth-cache")
    deployer = LocalCdkDeployer(aws_clients, stack_timeout=60)

    def deploy(home: str = "home-1") -> AppDeployment:
        """A deploy by the local AWS of `home` (its own deployment records); every home shares the cache."""
        records = DeploymentRecords(tmp_path / home)
        return IncrementalDeployer(deployer, records, synth_cache=cache).deploy_if_changed(app, sources, tmp_path)

    def outcome(deployment: AppDeployment) -> tuple[bool, bool, list[str]]:
        return deployment.synthesized, deployment.reused_synthesis, [stack.action for stack in deployment.stacks]

    def echo(machine: str, event: dict[str, int]) -> object:
        return machines.wait(machines.start(machine, event)).output

    first = deploy()
    assert outcome(first) == (True, False, ["created"])
    assert deployer.status(unique_name) == "CREATE_COMPLETE"
    machine = first.outputs()["StateMachineArn"]
    # The definition got the function's ARN through DefinitionSubstitutions.
    definition = json.loads(machines.sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    function_arn = definition["States"]["Echo"]["Parameters"]["FunctionName"]
    assert function_arn.startswith("arn:aws:lambda:") and function_arn.endswith(first.outputs()["FunctionName"])
    assert echo(machine, {"n": 1}) == {"echo": {"version": "v1", "event": {"n": 1}}}

    # Nothing changed: no synthesis, no stack operation, the same outputs.
    again = deploy()
    assert outcome(again) == (False, False, ["unchanged"])
    assert again.outputs() == first.outputs()

    # Another local AWS (its own records) with the same sources: the app is not run again, and the
    # stack deployed from the cached assembly is the one the synthesis made.
    deployer.delete_stack(unique_name)
    second = deploy("home-2")
    assert outcome(second) == (False, True, ["created"])
    machine = second.outputs()["StateMachineArn"]
    assert echo(machine, {"n": 2}) == {"echo": {"version": "v1", "event": {"n": 2}}}

    # A source change that leaves the template as it was: synthesized (a new key, never the cached
    # entry), but the stack is left alone.
    entry = app_dir / "app.py"
    entry.write_text(entry.read_text() + "\n# a comment changes the sources, not the template\n")
    assert outcome(deploy()) == (True, False, ["unchanged"])

    # New code: synthesized again, the stack is updated in place and the function runs the new code.
    handler = app_dir / "function" / "handler.py"
    handler.write_text(handler.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    updated = deploy()
    assert outcome(updated) == (True, False, ["updated"])
    assert deployer.status(unique_name) == "UPDATE_COMPLETE"
    assert updated.outputs() == second.outputs()
    assert echo(machine, {"n": 3}) == {"echo": {"version": "v2", "event": {"n": 3}}}
    events = aws_clients.client("cloudformation").describe_stack_events(StackName=unique_name)["StackEvents"]
    assert any(
        e["ResourceType"] == "AWS::Lambda::Function" and e["ResourceStatus"] == "UPDATE_COMPLETE" for e in events
    )

    # The stack went away behind the record's back (a reset, a manual delete): deployed again, from the cache.
    deployer.delete_stack(unique_name)
    assert outcome(deploy()) == (False, True, ["created"])
    assert deployer.status(unique_name) == "CREATE_COMPLETE"


def test_an_unsupported_resource_fails_the_deploy_with_its_reason(
    tmp_path: Path, aws_clients, unique_name: str
) -> None:
    template = {"Resources": {"Odd": {"Type": "AWS::NoSuch::Thing", "Properties": {}}}}
    (tmp_path / "Odd.template.json").write_text(json.dumps(template))
    manifest = {
        "version": "36.0.0",
        "artifacts": {
            "Odd": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": "Odd.template.json", "stackName": unique_name},
            }
        },
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DeployError, match=rf"stack {unique_name} .*AWS::NoSuch::Thing"):
        LocalCdkDeployer(aws_clients, stack_timeout=30).deploy(CloudAssembly(tmp_path))
