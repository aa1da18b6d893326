"""The single factory of boto3 clients for the CLI and the tests.

One setting switches every client between the embedded local AWS and a real account:
`RETRAIN_TARGET=local` (the default) builds clients through `localstack-client` against
127.0.0.1:`RETRAIN_LOCAL_PORT`; `RETRAIN_TARGET=aws` builds plain boto3 clients that use the
ordinary credential chain and region.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

import boto3
import localstack_client.session
from botocore.config import Config

Target = Literal["local", "aws"]
DEFAULT_LOCAL_PORT = 4566
DEFAULT_REGION = "us-east-1"
# Local calls answer in milliseconds; a stuck emulator should fail a command, not hang it.
_LOCAL_CONFIG = Config(connect_timeout=5, read_timeout=120, retries={"max_attempts": 2, "mode": "standard"})


def local_port() -> int:
    return int(os.environ.get("RETRAIN_LOCAL_PORT", DEFAULT_LOCAL_PORT))


def local_endpoint(port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or local_port()}"


@dataclass
class AwsClients:
    """Builds and caches clients for one target."""

    target: Target = "local"
    port: int = field(default_factory=local_port)
    region: str = DEFAULT_REGION
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environment(cls) -> AwsClients:
        target = os.environ.get("RETRAIN_TARGET", "local")
        if target not in ("local", "aws"):
            raise ValueError(f"RETRAIN_TARGET must be 'local' or 'aws', got {target!r}")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return cls(target=target, region=region)  # type: ignore[arg-type]

    @property
    def endpoint_url(self) -> str | None:
        return local_endpoint(self.port) if self.target == "local" else None

    def client(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._build(service)
        return self._cache[service]

    def _build(self, service: str) -> Any:
        if self.target == "aws":
            return boto3.client(service, region_name=self.region)
        session = localstack_client.session.Session(region_name=self.region, localstack_host=f"127.0.0.1:{self.port}")
        return session.client(service, config=_LOCAL_CONFIG)
