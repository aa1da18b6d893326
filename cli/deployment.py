"""Deploying the stack, without running a cycle: into the local AWS with the project's incremental
deployer (`local.deploy`, skipped when nothing changed), or into an AWS account with the CDK CLI,
as docs/deploy.md does (`npx cdk deploy`, the app in infra/)."""

from __future__ import annotations

import shutil
import subprocess  # the CDK and AWS CLIs, argv lists, no shell  # nosec B404
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cli.config_file import load_checked_config
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError

if TYPE_CHECKING:
    from local.aws import LocalAws

Say = Callable[[str], None]


def deploy_locally(config_path: str, say: Say) -> DeployedPipeline:
    """The local AWS (started when none runs) with the stack deployed from `config_path` as the code is now."""
    from local.aws import LocalAws

    local = LocalAws()
    process = local.running()
    if process is None:
        say("starting the local AWS ...")
        process = local.start()
        say(f"local AWS up at {process.endpoint} (stop it with `retrain local down`)")
    else:
        say(f"using the local AWS at {process.endpoint}")
    return deploy_into(local, config_path, say)


def deploy_into(local: LocalAws, config_path: str, say: Say) -> DeployedPipeline:
    """Deploy (or update, or leave alone when unchanged) the stack into a running local AWS."""
    from local.deploy import config_file_in_project, deploy_project_stack
    from local.emulator.awslambda import build_function_environments
    from local.glue_runner import build_environments as build_glue_environments
    from local.home import find_project_root
    from local.sagemaker.images import build_environments

    config = load_checked_config(config_path)
    # What the stack's jobs, model servers and functions run in: built by the first deploy (a stat after that),
    # so that nothing waits on the package index, or fails for want of it, in the middle of a run.
    build_environments(say)
    build_function_environments(say)
    build_glue_environments(say)
    root = find_project_root()
    clients = local.clients()
    outputs = deploy_project_stack(
        clients, root, local.home, progress=say, config_file=config_file_in_project(root, config_path)
    )
    return DeployedPipeline(config=config, clients=clients, outputs=outputs)


def cdk_deploy_command(config_path: str, extra: Sequence[str] = ()) -> list[str]:
    """What deploys the stack to the account of your credentials, as docs/deploy.md runs it."""
    from local.deploy import config_file_in_project
    from local.home import find_project_root

    command = ["npx", "cdk", "deploy"]
    config_file = config_file_in_project(find_project_root(), config_path)
    if config_file != DEFAULT_CONFIG_FILE:
        command += ["-c", f"retrain:config={config_file}"]
    return [*command, *extra]


def deploy_to_aws(command: Sequence[str], say: Say) -> int:
    """Run the CDK CLI from the project root (where cdk.json names the app); its exit code."""
    from local.home import find_project_root

    if shutil.which(command[0]) is None:
        raise RetrainError(f"{command[0]} not found: install Node.js 20 and run `npm ci` (docs/deploy.md)")
    root = find_project_root()
    if not (root / "cdk.json").is_file():
        raise RetrainError(f"{root} has no cdk.json: run `retrain deploy` from the project root")
    say(f"deploying to the AWS account of your credentials: {' '.join(command)} (in {root})")
    return subprocess.run(list(command), cwd=Path(root), check=False).returncode  # the user's own deploy command  # nosec B603
