"""A CDK app deploys into the local AWS, and a code change redeploys as a stack update."""

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


def test_tiny_app_deploys_runs_and_redeploys_after_a_code_change(
    tmp_path: Path, aws_clients, machines: StateMachineRunner, unique_name: str
) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(APP, app_dir)
    app = CdkApp(app_dir, context={"stack_name": unique_name})
    deployer = LocalCdkDeployer(aws_clients, stack_timeout=60)

    [first] = deployer.deploy_app(app, work_dir=tmp_path)
    assert first.status == "CREATE_COMPLETE"
    machine = first.outputs["StateMachineArn"]
    definition = json.loads(machines.sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    function_arn = definition["States"]["Echo"]["Parameters"]["FunctionName"]
    assert function_arn.startswith("arn:aws:lambda:") and function_arn.endswith(first.outputs["FunctionName"])
    assert machines.wait(machines.start(machine, {"n": 1})).output == {"echo": {"version": "v1", "event": {"n": 1}}}

    handler = app_dir / "function" / "handler.py"
    handler.write_text(handler.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    [second] = deployer.deploy_app(app, work_dir=tmp_path)
    assert second.status == "UPDATE_COMPLETE"
    assert second.outputs == first.outputs
    assert machines.wait(machines.start(machine, {"n": 2})).output == {"echo": {"version": "v2", "event": {"n": 2}}}
    events = aws_clients.client("cloudformation").describe_stack_events(StackName=unique_name)["StackEvents"]
    assert any(
        e["ResourceType"] == "AWS::Lambda::Function" and e["ResourceStatus"] == "UPDATE_COMPLETE" for e in events
    )


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


@pytest.fixture
def tiny_app(tmp_path: Path, unique_name: str) -> tuple[Path, CdkApp, SourceFingerprint]:
    """A copy of the tiny app (tests change its files), the app and its sources."""
    app_dir = tmp_path / "app"
    shutil.copytree(APP, app_dir)
    return app_dir, CdkApp(app_dir, context={"stack_name": unique_name}), SourceFingerprint(app_dir, ("**/*.py",))


def test_an_unchanged_app_is_not_deployed_again_and_a_changed_one_is_updated(
    tmp_path: Path, aws_clients, machines: StateMachineRunner, unique_name: str, tiny_app
) -> None:
    app_dir, app, sources = tiny_app
    deployer = LocalCdkDeployer(aws_clients, stack_timeout=60)
    incremental = IncrementalDeployer(deployer, DeploymentRecords(tmp_path / "records"))

    first = incremental.deploy_if_changed(app, sources, work_dir=tmp_path)
    assert (first.synthesized, [s.action for s in first.stacks]) == (True, ["created"])

    # Nothing changed: no synthesis, no stack operation, the same outputs.
    again = incremental.deploy_if_changed(app, sources, work_dir=tmp_path)
    assert (again.synthesized, [s.action for s in again.stacks]) == (False, ["unchanged"])
    assert again.outputs() == first.outputs()

    # A source change that leaves the template as it was: synthesized, but the stack is left alone.
    entry = app_dir / "app.py"
    entry.write_text(entry.read_text() + "\n# a comment changes the sources, not the template\n")
    comment = incremental.deploy_if_changed(app, sources, work_dir=tmp_path)
    assert (comment.synthesized, [s.action for s in comment.stacks]) == (True, ["unchanged"])

    # New code: the stack is updated and the function runs it.
    handler = app_dir / "function" / "handler.py"
    handler.write_text(handler.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    updated = incremental.deploy_if_changed(app, sources, work_dir=tmp_path)
    assert [s.action for s in updated.stacks] == ["updated"]
    machine = updated.outputs()["StateMachineArn"]
    assert machines.wait(machines.start(machine, {"n": 1})).output["echo"]["version"] == "v2"

    # The stack went away behind the record's back (a reset, a manual delete): deployed again.
    deployer.delete_stack(unique_name)
    recreated = incremental.deploy_if_changed(app, sources, work_dir=tmp_path)
    assert (recreated.synthesized, [s.action for s in recreated.stacks]) == (True, ["created"])
    assert deployer.status(unique_name) == "CREATE_COMPLETE"


def test_a_second_local_aws_deploys_the_cached_synthesis_of_the_same_sources(
    tmp_path: Path, aws_clients, machines: StateMachineRunner, unique_name: str, tiny_app
) -> None:
    app_dir, app, sources = tiny_app
    cache = SynthCache(tmp_path / "synth-cache")
    deployer = LocalCdkDeployer(aws_clients, stack_timeout=60)

    def deploy(records: str) -> AppDeployment:
        return IncrementalDeployer(
            deployer, DeploymentRecords(tmp_path / records), synth_cache=cache
        ).deploy_if_changed(app, sources, work_dir=tmp_path)

    first = deploy("home-1")
    assert (first.synthesized, first.reused_synthesis, [s.action for s in first.stacks]) == (True, False, ["created"])
    # Another home (its own records) with the same sources: the app is not run again, and the
    # stack deployed from the cached assembly is the one the synthesis made.
    deployer.delete_stack(unique_name)
    second = deploy("home-2")
    assert (second.synthesized, second.reused_synthesis, [s.action for s in second.stacks]) == (
        False,
        True,
        ["created"],
    )
    assert machines.wait(machines.start(second.outputs()["StateMachineArn"], {"n": 1})).output["echo"]["version"] == (
        "v1"
    )
    # Changed sources are a new key: synthesized again, never the stale entry.
    handler = app_dir / "function" / "handler.py"
    handler.write_text(handler.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    changed = deploy("home-3")
    assert (changed.synthesized, changed.reused_synthesis) == (True, False)
    assert machines.wait(machines.start(changed.outputs()["StateMachineArn"], {"n": 2})).output["echo"]["version"] == (
        "v2"
    )
