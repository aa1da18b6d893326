"""Deploy a CDK app into the local AWS, the way `cdk deploy` does into an account.

1. `assembly`: `CdkApp.synthesize` runs the app (`python app.py`) with `CDK_OUTDIR`, which writes a
   cloud assembly (templates and `*.assets.json` manifests); no `cdk` CLI needed.
2. `stacks`: `LocalCdkDeployer.deploy` uploads every file asset to its staging bucket and key
   (creating the bootstrap bucket and version parameter a bootstrapped account has), then
   `CreateStack` or `UpdateStack` each stack in dependency order, and waits with a hard timeout: a
   resource the local AWS cannot create must fail the deploy, never leave it hanging.
3. `incremental`: `IncrementalDeployer.deploy_if_changed` does the same, skipped when nothing changed
   since the last deploy into this local AWS (the `fingerprints` kept in its state directory, checked
   against the live stacks), so a command can "make sure the stack is deployed" on every run; a
   `synth_cache` shares one synthesis of the same sources between local AWSes.
4. `project`: `deploy_project_stack` is the one call the CLI makes for this project's stack
   (`infra/app.py`); everything else here knows nothing of which app it deploys.

The names below are the package's interface; callers import them from `local.deploy`.
"""

from __future__ import annotations

from local.deploy.assembly import CdkApp, CloudAssembly, DeployError
from local.deploy.fingerprints import DeploymentRecords, SourceFingerprint, StackFingerprint
from local.deploy.incremental import AppDeployment, IncrementalDeployer
from local.deploy.project import config_file_in_project, deploy_project_stack, project_app, project_sources
from local.deploy.stacks import LocalCdkDeployer, StackDeployment
from local.deploy.synth_cache import SynthCache

__all__ = [
    "AppDeployment",
    "CdkApp",
    "CloudAssembly",
    "DeployError",
    "DeploymentRecords",
    "IncrementalDeployer",
    "LocalCdkDeployer",
    "SourceFingerprint",
    "StackDeployment",
    "StackFingerprint",
    "SynthCache",
    "config_file_in_project",
    "deploy_project_stack",
    "project_app",
    "project_sources",
]
