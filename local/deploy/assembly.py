"""Synthesis: run a CDK app into a cloud assembly and read what it lists.

`CdkApp.synthesize` runs the app (`python app.py`) with `CDK_OUTDIR`, as `cdk synth` does, under a
hard timeout and in its own process group (the app starts a node process too), so no `cdk` CLI is
needed; `CloudAssembly.stacks` reads the assembly's `manifest.json` and `*.assets.json` manifests
into stacks in dependency order, each with the file assets it needs in the local account's staging
bucket. `DeployError`, the error of every step of a deploy, lives here, at the bottom of the package.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.runtime.process import Ending, ScriptProcess
from retrain.errors import RetrainError

LOCAL_ACCOUNT = "000000000000"
SYNTH_TIMEOUT_SECONDS = 300.0


class DeployError(RetrainError):
    """Synthesis or deployment failed; the message names the stack, resource and reason."""


@dataclass(frozen=True)
class FileAsset:
    source: Path
    packaging: str  # "file" or "zip" (a directory zipped)
    bucket: str
    key: str


@dataclass(frozen=True)
class StackArtifact:
    name: str  # the artifact id
    stack_name: str
    template: Path
    dependencies: tuple[str, ...]
    assets: tuple[FileAsset, ...]
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CloudAssembly:
    """A synthesized cloud assembly (`manifest.json` and what it lists)."""

    directory: Path

    def stacks(self, account: str = LOCAL_ACCOUNT, region: str = "us-east-1") -> list[StackArtifact]:
        """Every stack, dependencies first."""
        try:
            manifest = json.loads((self.directory / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DeployError(f"{self.directory} is not a cloud assembly (manifest.json: {error})") from None
        artifacts: dict[str, Any] = manifest.get("artifacts", {})
        assets_by_stack: dict[str, list[FileAsset]] = {}
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != "cdk:asset-manifest":
                continue
            stack_id = artifact_id.removesuffix(".assets")
            file_name = artifact["properties"]["file"]
            assets_by_stack[stack_id] = self._file_assets(self.directory / file_name, account, region)
        stacks: dict[str, StackArtifact] = {}
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            properties = artifact.get("properties", {})
            stacks[artifact_id] = StackArtifact(
                name=artifact_id,
                stack_name=properties.get("stackName", artifact_id),
                template=self.directory / properties["templateFile"],
                dependencies=tuple(d for d in artifact.get("dependencies", []) if d in artifacts),
                assets=tuple(assets_by_stack.get(artifact_id, [])),
                parameters=dict(properties.get("parameters", {})),
            )
        return self._ordered(stacks)

    @staticmethod
    def _file_assets(manifest_path: Path, account: str, region: str) -> list[FileAsset]:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("dockerImages"):
            raise DeployError(
                f"{manifest_path.name} has Docker image assets; the local AWS has no Docker: "
                "use Code.from_asset (file assets) instead"
            )
        assets = []
        for asset in manifest.get("files", {}).values():
            source = asset["source"]
            if "path" not in source:
                raise DeployError(
                    f"asset {source} is built by a command; only file and directory assets deploy locally"
                )
            for destination in asset.get("destinations", {}).values():
                assets.append(
                    FileAsset(
                        source=manifest_path.parent / source["path"],
                        packaging=source.get("packaging", "file"),
                        bucket=_substitute(destination["bucketName"], account, region),
                        key=_substitute(destination["objectKey"], account, region),
                    )
                )
        return assets

    @staticmethod
    def _ordered(stacks: dict[str, StackArtifact]) -> list[StackArtifact]:
        ordered: list[StackArtifact] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if any(stack.name == name for stack in ordered):
                return
            if name in visiting:
                raise DeployError(f"stack {name} depends on itself through {sorted(visiting)}")
            visiting.add(name)
            for dependency in stacks[name].dependencies:
                if dependency in stacks:
                    visit(dependency)
            visiting.discard(name)
            ordered.append(stacks[name])

        for name in stacks:
            visit(name)
        return ordered


def _substitute(value: str, account: str, region: str) -> str:
    return (
        value.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


@dataclass(frozen=True)
class CdkApp:
    """A CDK app: a directory with an entry script, run with this interpreter."""

    directory: Path
    entry: str = "app.py"
    context: dict[str, Any] = field(default_factory=dict)

    def synthesize(
        self, out_dir: Path, timeout: float = SYNTH_TIMEOUT_SECONDS, region: str | None = None
    ) -> CloudAssembly:
        entry = self.directory / self.entry
        if not entry.is_file():
            raise DeployError(f"{entry} does not exist; point the deployer at the CDK app's directory")
        out_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "CDK_OUTDIR": str(out_dir),
            "CDK_DEFAULT_ACCOUNT": LOCAL_ACCOUNT,
            "CDK_DEFAULT_REGION": region or os.environ.get("AWS_REGION", "us-east-1"),
            "CDK_CONTEXT_JSON": json.dumps(self.context),
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        }
        stdout: list[str] = []
        stderr: list[str] = []
        # Its own process group: on a timeout the whole group goes (the app runs a node process too).
        process = ScriptProcess([sys.executable, self.entry], cwd=self.directory, env=env)
        process.start(on_stdout=stdout.append, on_stderr=stderr.append)
        ending = process.supervise(timeout, grace=0)
        process.join_output(timeout=10)
        if ending is Ending.TIMED_OUT:
            raise DeployError(f"synthesizing {entry} took more than {timeout:.0f}s")
        if process.returncode != 0:
            output = "".join(stderr) or "".join(stdout)
            raise DeployError(f"synthesizing {entry} failed:\n{output.strip()[-3000:]}")
        return CloudAssembly(out_dir)
