"""Deploying only what changed: `IncrementalDeployer.deploy_if_changed`.

The same deploy as `LocalCdkDeployer`'s, skipped when nothing changed since the last deploy into this
local AWS: first without synthesizing (the sources hash as recorded and every recorded stack is
live, settled, with its template and assets in place), then per stack after synthesis. So a command
can "make sure the stack is deployed" on every run and pay a few local API calls when it is.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from local.clients import LocalClients
from local.deploy.assembly import LOCAL_ACCOUNT, SYNTH_TIMEOUT_SECONDS, CdkApp, CloudAssembly
from local.deploy.fingerprints import (
    DeploymentRecords,
    SourceFingerprint,
    StackFingerprint,
    canonical_template_sha256,
)
from local.deploy.stacks import LocalCdkDeployer, StackDeployment
from local.deploy.synth_cache import SynthCache

# A stack in one of these states is deployed and can be left alone when nothing changed.
_SETTLED = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
Progress = Callable[[str], None]


@dataclass
class AppDeployment:
    """The outcome of `deploy_if_changed`."""

    stacks: list[StackDeployment]
    synthesized: bool  # the app ran (a cached assembly of the same sources counts as not)
    seconds: float
    reused_synthesis: bool = False  # the assembly came from the synth cache

    @property
    def changed(self) -> bool:
        return any(stack.action in ("created", "updated") for stack in self.stacks)

    def outputs(self) -> dict[str, str]:
        """Every stack's outputs (a later stack's key wins; this project has one stack)."""
        merged: dict[str, str] = {}
        for stack in self.stacks:
            merged.update(stack.outputs)
        return merged


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
        synth_cache: SynthCache | None = None,
    ) -> None:
        self.deployer = deployer
        self.records = records
        self.synth_timeout = synth_timeout
        self.progress = progress or (lambda _message: None)
        self.synth_cache = synth_cache

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
                assembly, reused = self._assembly(app, source_fingerprint, Path(out))
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
            return AppDeployment(
                results, synthesized=not reused, seconds=time.monotonic() - started, reused_synthesis=reused
            )

    def _assembly(self, app: CdkApp, source_fingerprint: str, out: Path) -> tuple[CloudAssembly, bool]:
        """The app's cloud assembly: the cached one of the same sources, or a new synthesis (then cached)."""
        region = self.clients.region
        if not self.synth_cache:
            return self._synthesize(app, out), False
        key = SynthCache.key(source_fingerprint, LOCAL_ACCOUNT, region)
        with self.synth_cache.producing(key, self.synth_timeout + 60):
            if cached := self.synth_cache.lookup(key):
                self.progress(f"reusing the synthesis of {app.directory / app.entry} (sources unchanged)")
                return CloudAssembly(cached), True
            self._synthesize(app, out)
            return CloudAssembly(self.synth_cache.store(key, out)), False

    def _synthesize(self, app: CdkApp, out: Path) -> CloudAssembly:
        self.progress(f"synthesizing {app.directory / app.entry}")
        return app.synthesize(out, timeout=self.synth_timeout, region=self.clients.region)

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
