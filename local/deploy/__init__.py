"""Deploy a CDK app into the local AWS, the way `cdk deploy` does into an account.

1. `CdkApp.synthesize`: run the app (`python app.py`) with `CDK_OUTDIR`, which writes a cloud
   assembly (templates and `*.assets.json` manifests); no `cdk` CLI needed.
2. `LocalCdkDeployer.deploy`: upload every file asset to its staging bucket and key (creating the
   bootstrap bucket and version parameter a bootstrapped account has), then `CreateStack` or
   `UpdateStack` each stack in dependency order, and wait with a hard timeout: a resource the local
   AWS cannot create must fail the deploy, never leave it hanging.
3. `IncrementalDeployer.deploy_if_changed`: the same, skipped when nothing changed since the last
   deploy into this local AWS (fingerprints kept in its state directory, checked against the live
   stacks), so a command can "make sure the stack is deployed" on every run.

`deploy_project_stack` is the one call the CLI makes for this project's stack (`infra/app.py`).
Everything else here knows nothing of which app it deploys.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local.clients import LocalClients
from local.home import StateDirectory
from local.runtime.process import Ending, ScriptProcess
from retrain.errors import RetrainError

LOCAL_ACCOUNT = "000000000000"
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"
SYNTH_TIMEOUT_SECONDS = 300.0
STACK_TIMEOUT_SECONDS = 300.0
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
# Templates above this size cannot go inline in CreateStack; they go through the staging bucket.
_INLINE_TEMPLATE_LIMIT = 51_200
_POLL_SECONDS = 0.25
# A stack in one of these states is deployed and can be left alone when nothing changed.
_SETTLED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
Progress = Callable[[str], None]


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

    def deploy_app(self, app: CdkApp, work_dir: Path | None = None) -> list[StackDeployment]:
        with tempfile.TemporaryDirectory(prefix="cdk-out-", dir=work_dir) as out:
            return self.deploy(app.synthesize(Path(out), region=self.clients.region))

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
            time.sleep(_POLL_SECONDS)

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


# --- deploying only what changed ------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_template_sha256(template: Any) -> str:
    """A template's hash independent of key order and whitespace (GetTemplate reformats it)."""
    document = json.loads(template) if isinstance(template, str) else template
    return _sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())


@dataclass(frozen=True)
class StackFingerprint:
    """What a stack is deployed from: its template, the objects of its assets and its parameters.

    Asset object keys are content hashes (CDK names them so), so the keys stand for the bytes.
    """

    stack_name: str
    template_sha256: str
    assets: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, stack: StackArtifact) -> StackFingerprint:
        return cls(
            stack_name=stack.stack_name,
            template_sha256=canonical_template_sha256(stack.template.read_text(encoding="utf-8")),
            assets=tuple(sorted({(asset.bucket, asset.key) for asset in stack.assets})),
            parameters=tuple(sorted(stack.parameters.items())),
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "stack_name": self.stack_name,
            "template_sha256": self.template_sha256,
            "assets": [list(asset) for asset in self.assets],
            "parameters": [list(parameter) for parameter in self.parameters],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StackFingerprint:
        return cls(
            stack_name=str(record["stack_name"]),
            template_sha256=str(record["template_sha256"]),
            assets=tuple((str(bucket), str(key)) for bucket, key in record.get("assets", [])),
            parameters=tuple((str(name), str(value)) for name, value in record.get("parameters", [])),
        )


@dataclass(frozen=True)
class SourceFingerprint:
    """What an app's synthesized output depends on, hashed without running the app: the files it
    reads (glob patterns relative to its root), the packages that synthesize it, and the context.

    Equal fingerprints let a deploy skip synthesis (seconds of node and jsii); anything the
    patterns miss only costs a synthesis, because the templates are compared again after it.
    """

    root: Path
    patterns: tuple[str, ...]
    distributions: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()  # fnmatch patterns of relative paths (`*` spans folders)
    ignored_parts: tuple[str, ...] = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache")

    def files(self) -> list[Path]:
        found: set[Path] = set()
        for pattern in self.patterns:
            for path in self.root.glob(pattern):
                relative = path.relative_to(self.root)
                if not path.is_file() or set(relative.parts) & set(self.ignored_parts):
                    continue
                if any(fnmatch.fnmatchcase(relative.as_posix(), exclude) for exclude in self.excludes):
                    continue
                found.add(path)
        return sorted(found)

    def compute(self, context: dict[str, Any]) -> str:
        digest = hashlib.sha256()
        for path in self.files():
            digest.update(path.relative_to(self.root).as_posix().encode() + b"\0")
            digest.update(_sha256(path.read_bytes()).encode() + b"\n")
        for name in self.distributions:
            try:
                found = version(name)
            except PackageNotFoundError:
                found = "absent"
            digest.update(f"{name}=={found}\n".encode())
        digest.update(f"python {sys.version_info[:3]}\n".encode())
        digest.update(json.dumps(context, sort_keys=True).encode())
        return digest.hexdigest()


@dataclass
class AppDeployment:
    """The outcome of `deploy_if_changed`."""

    stacks: list[StackDeployment]
    synthesized: bool
    seconds: float

    @property
    def changed(self) -> bool:
        return any(stack.action in ("created", "updated") for stack in self.stacks)

    def outputs(self) -> dict[str, str]:
        """Every stack's outputs (a later stack's key wins; this project has one stack)."""
        merged: dict[str, str] = {}
        for stack in self.stacks:
            merged.update(stack.outputs)
        return merged


class DeploymentRecords:
    """The fingerprints of what was last deployed into one local AWS, one JSON file per app,
    under its state directory, and a lock that keeps two deploys of one app from interleaving."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, app: CdkApp) -> Path:
        identity = json.dumps(
            {"app": str(app.directory.resolve()), "entry": app.entry, "context": app.context}, sort_keys=True
        )
        return self.directory / f"app-{_sha256(identity.encode())[:16]}.json"

    def load(self, app: CdkApp) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path(app).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def save(self, app: CdkApp, record: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(app)
        scratch = target.with_suffix(".tmp")
        scratch.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
        scratch.replace(target)

    def forget(self, app: CdkApp) -> None:
        self.path(app).unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self, app: CdkApp, timeout: float) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.path(app).with_suffix(".lock").open("a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise DeployError(
                            f"another deploy of {app.directory / app.entry} into this local AWS did not finish "
                            f"within {timeout:.0f}s; if none is running, delete {handle.name}"
                        ) from None
                    time.sleep(_POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class IncrementalDeployer:
    """Deploys an app into the local AWS only when it changed since the last deploy there.

    1. Without synthesizing: if the app's sources hash as they did at the last successful deploy
       and every stack is live, settled, holds the recorded template, and its assets are still in
       their buckets, nothing is done (a few local API calls).
    2. Otherwise the app is synthesized, and each stack whose template, assets and parameters are
       unchanged (and live as above) is left alone; the others are created or updated.

    The record is written only after a deploy succeeded, so a failed one is retried next time.
    """

    def __init__(
        self,
        deployer: LocalCdkDeployer,
        records: DeploymentRecords,
        *,
        synth_timeout: float = SYNTH_TIMEOUT_SECONDS,
        progress: Progress | None = None,
    ) -> None:
        self.deployer = deployer
        self.records = records
        self.synth_timeout = synth_timeout
        self.progress = progress or (lambda _message: None)

    @property
    def clients(self) -> LocalClients:
        return self.deployer.clients

    def deploy_if_changed(self, app: CdkApp, sources: SourceFingerprint, work_dir: Path | None = None) -> AppDeployment:
        started = time.monotonic()
        lock_timeout = self.synth_timeout + self.deployer.stack_timeout * 2 + 60
        with self.records.locked(app, lock_timeout):
            source_fingerprint = sources.compute(app.context)
            record = self.records.load(app) or {}
            recorded = [StackFingerprint.from_record(item) for item in record.get("stacks", [])]
            if (
                recorded
                and record.get("source_fingerprint") == source_fingerprint
                and all(self.is_live(stack) for stack in recorded)
            ):
                unchanged = [
                    StackDeployment(
                        stack.stack_name,
                        self._status_of(stack),
                        self.deployer.outputs(stack.stack_name),
                        0.0,
                        "unchanged",
                    )
                    for stack in recorded
                ]
                return AppDeployment(unchanged, synthesized=False, seconds=time.monotonic() - started)
            by_name = {stack.stack_name: stack for stack in recorded}
            with tempfile.TemporaryDirectory(prefix="cdk-out-", dir=work_dir) as out:
                self.progress(f"synthesizing {app.directory / app.entry}")
                assembly = app.synthesize(Path(out), timeout=self.synth_timeout, region=self.clients.region)
                results: list[StackDeployment] = []
                fingerprints: list[StackFingerprint] = []
                for stack in assembly.stacks(region=self.clients.region):
                    fingerprint = StackFingerprint.of(stack)
                    fingerprints.append(fingerprint)
                    if by_name.get(stack.stack_name) == fingerprint and self.is_live(fingerprint):
                        results.append(
                            StackDeployment(
                                stack.stack_name,
                                self._status_of(fingerprint),
                                self.deployer.outputs(stack.stack_name),
                                0.0,
                                "unchanged",
                            )
                        )
                        continue
                    self.progress(f"deploying stack {stack.stack_name}")
                    results.append(self.deployer.deploy_artifact(stack))
            self.records.save(
                app,
                {
                    "source_fingerprint": source_fingerprint,
                    "stacks": [fingerprint.as_record() for fingerprint in fingerprints],
                    "deployed_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "results": [asdict(result) for result in results],
                },
            )
            return AppDeployment(results, synthesized=True, seconds=time.monotonic() - started)

    def is_live(self, stack: StackFingerprint) -> bool:
        """The stack exists, settled, with this template, and its assets are in their buckets."""
        if self.deployer.status(stack.stack_name) not in _SETTLED:
            return False
        cloudformation = self.clients.client("cloudformation")
        try:
            template = cloudformation.get_template(StackName=stack.stack_name)["TemplateBody"]
        except ClientError:
            return False
        if canonical_template_sha256(template) != stack.template_sha256:
            return False
        s3 = self.clients.client("s3")
        for bucket, key in stack.assets:
            try:
                s3.head_object(Bucket=bucket, Key=key)
            except ClientError:
                return False
        return True

    def _status_of(self, stack: StackFingerprint) -> str:
        return self.deployer.status(stack.stack_name) or "?"


# --- this project's stack ---------------------------------------------------------------------

PROJECT_APP_ENTRY = "infra/app.py"
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


def project_app(project_root: Path) -> CdkApp:
    """The project's CDK app as `cdk deploy -c ...` runs it: `infra/app.py` with `cdk.json`'s context,
    plus the `[local]` table of retrain.toml as deployment settings the app offers any account
    (run defaults with short rollout timings, 10-second alarm periods), so a laptop cycle takes
    minutes and an alarm can fire within a short canary."""
    from retrain.config import load_config

    local = load_config(project_root / "retrain.toml").local
    context = {
        "retrain:runDefaults": json.dumps(local.execution_input()),
        "retrain:alarmPeriodSeconds": local.alarm_period_seconds,
    }
    return CdkApp(project_root, entry=PROJECT_APP_ENTRY, context=context)


def project_sources(project_root: Path) -> SourceFingerprint:
    return SourceFingerprint(project_root, PROJECT_SOURCES, SYNTH_DISTRIBUTIONS)


def deploy_project_stack(
    clients: LocalClients,
    project_root: Path,
    home: StateDirectory | None = None,
    *,
    progress: Progress | None = None,
    stack_timeout: float = STACK_TIMEOUT_SECONDS,
    synth_timeout: float = SYNTH_TIMEOUT_SECONDS,
) -> dict[str, str]:
    """Make sure this project's stack (`infra/app.py`) is deployed, as it is now, into the local
    AWS that `clients` reach and whose state directory is `home` (default: `RETRAIN_HOME`, as
    `LocalAws` uses it); return the stack's outputs (`StateMachineArn`, `DataBucketName`, ...).

    The CLI calls this before anything that needs the pipeline. When nothing changed since the
    last deploy into this local AWS it returns at once, without synthesizing; when the code or the
    config changed, the stack is updated (functions get the new code, the definition the new
    substitutions). Synthesis and each stack operation have hard timeouts (`DeployError`).
    `progress` receives one line per slow step ("synthesizing ...", "deploying stack ...").
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
    )
    home.tmp.mkdir(parents=True, exist_ok=True)
    deployment = deployer.deploy_if_changed(project_app(root), project_sources(root), work_dir=home.tmp)
    if len(deployment.stacks) != 1:
        names = ", ".join(stack.stack_name for stack in deployment.stacks) or "none"
        raise DeployError(f"{PROJECT_APP_ENTRY} should define exactly one stack, it defines: {names}")
    return deployment.stacks[0].outputs


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
    "deploy_project_stack",
    "project_app",
    "project_sources",
]
