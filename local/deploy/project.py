"""This project's stack: `deploy_project_stack`, the one call the command makes to deploy it.

It knows which app this project deploys (`infra/app.py` with `cdk.json`'s context and retrain.toml's
`[local]` settings) and which files and packages its synthesis depends on, and hands both to the
`IncrementalDeployer`, with the deploy records kept in the local AWS's state directory. The rest of
the package knows nothing of which app it deploys.
"""

from __future__ import annotations

import json
from pathlib import Path

from local.clients import LocalClients
from local.deploy.assembly import SYNTH_TIMEOUT_SECONDS, CdkApp, DeployError
from local.deploy.fingerprints import DeploymentRecords, SourceFingerprint
from local.deploy.incremental import IncrementalDeployer, Progress
from local.deploy.stacks import STACK_TIMEOUT_SECONDS, LocalCdkDeployer
from local.deploy.synth_cache import SynthCache, default_cache_directory
from local.home import StateDirectory

PROJECT_APP_ENTRY = "infra/app.py"
DEFAULT_CONFIG_FILE = "retrain.toml"  # what `retrain:config` defaults to in infra/settings.py
# What `python infra/app.py` reads: the app, the packages it imports, the Lambda code asset, the
# job files it archives, the definition it inlines, the config and the CDK context.
PROJECT_SOURCES = (
    "cdk.json",
    "*.toml",
    "infra/**/*.py",
    "retrain/**/*.py",
    "tasks/**/*.py",
    "jobs/**/*.py",
    "jobs/**/requirements.txt",
    "statemachines/**/*.py",
    "definitions/**/*.json",
)
# The synthesis itself (CDK, its checks) and the SageMaker SDK's image table the stack reads.
SYNTH_DISTRIBUTIONS = ("aws-cdk-lib", "constructs", "jsii", "cdk-nag", "sagemaker")


def project_app(project_root: Path, config_file: str = DEFAULT_CONFIG_FILE) -> CdkApp:
    """The project's CDK app as `cdk deploy -c ...` runs it: `infra/app.py` with `cdk.json`'s context,
    plus the `[local]` table of the config as run defaults (short data waits and endpoint polls), so a
    laptop cycle takes minutes. The rollout's waits and alarm periods are AWS's: the local AWS runs
    them at its clock scale (`local.clock`). `config_file` (relative to the project root) is
    `retrain:config`, another config than retrain.toml."""
    from retrain.config import load_config

    local = load_config(project_root / config_file).local
    context: dict[str, object] = {"retrain:runDefaults": json.dumps(local.execution_input())}
    if config_file != DEFAULT_CONFIG_FILE:  # the default adds no key: earlier deploy records stay valid
        context["retrain:config"] = config_file
    return CdkApp(project_root, entry=PROJECT_APP_ENTRY, context=context)


def project_sources(project_root: Path, config_file: str = DEFAULT_CONFIG_FILE) -> SourceFingerprint:
    outside = Path(config_file).is_absolute()  # a config outside the project: hashed by its path
    patterns = PROJECT_SOURCES if outside else (*PROJECT_SOURCES, config_file)
    extra = (Path(config_file),) if outside else ()
    return SourceFingerprint(project_root, patterns, SYNTH_DISTRIBUTIONS, extra_files=extra)


def config_file_in_project(project_root: Path, config_path: str | Path) -> str:
    """A config path (as a user passes it, from the working directory) as `retrain:config` takes it:
    relative to the project root when inside it (`infra/app.py` reads it from there), else absolute."""
    path, root = Path(config_path).resolve(), project_root.resolve()
    if not path.is_file():
        raise DeployError(f"{config_path}: no such config file")
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def deploy_project_stack(
    clients: LocalClients,
    project_root: Path,
    home: StateDirectory | None = None,
    *,
    progress: Progress | None = None,
    stack_timeout: float = STACK_TIMEOUT_SECONDS,
    synth_timeout: float = SYNTH_TIMEOUT_SECONDS,
    config_file: str = DEFAULT_CONFIG_FILE,
    synth_cache: SynthCache | None = None,
) -> dict[str, str]:
    """Make sure this project's stack (`infra/app.py`) is deployed, as it is now, into the local
    AWS that `clients` reach and whose state directory is `home` (default: `RETRAIN_HOME`, as
    `LocalAws` uses it); return the stack's outputs (`StateMachineArn`, `DataBucketName`, ...).

    The CLI calls this before anything that needs the pipeline. When nothing changed since the
    last deploy into this local AWS it returns at once, without synthesizing; a synthesis of the
    same sources made for another local AWS is reused (`SynthCache`); when the code or the
    config changed, the stack is updated (functions get the new code, the definition the new
    substitutions). Synthesis and each stack operation have hard timeouts (`DeployError`).
    `progress` receives one line per slow step ("synthesizing ...", "deploying stack ...").
    `config_file` is the config to deploy with, relative to the project root or absolute.
    `synth_cache` defaults to the user's (`default_cache_directory`).
    """
    home = home or StateDirectory.from_environment()
    root = project_root.resolve()
    if not (root / PROJECT_APP_ENTRY).is_file():
        raise DeployError(f"{root} has no {PROJECT_APP_ENTRY}; run from the project root (the folder of retrain.toml)")
    deployer = IncrementalDeployer(
        LocalCdkDeployer(clients, stack_timeout=stack_timeout),
        DeploymentRecords(home.deployments),
        synth_timeout=synth_timeout,
        progress=progress,
        synth_cache=synth_cache or SynthCache(default_cache_directory()),
    )
    home.tmp.mkdir(parents=True, exist_ok=True)
    deployment = deployer.deploy_if_changed(
        project_app(root, config_file), project_sources(root, config_file), work_dir=home.tmp
    )
    if len(deployment.stacks) != 1:
        names = ", ".join(stack.stack_name for stack in deployment.stacks) or "none"
        raise DeployError(f"{PROJECT_APP_ENTRY} should define exactly one stack, it defines: {names}")
    return deployment.stacks[0].outputs
