"""How the command reaches AWS: one setting, `RETRAIN_TARGET`, switches every client.

`local` (the default): the local AWS's clients (`local.clients`, the only code that knows how to
reach it: `AWS_ENDPOINT_URL` when set, else 127.0.0.1:`RETRAIN_LOCAL_PORT`). `aws`: plain boto3
clients with the ordinary credential chain and region, no endpoint override.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Protocol

import boto3

from local.clients import DEFAULT_REGION, LocalClients
from retrain.errors import ConfigError


class Clients(Protocol):
    """What the command needs of either target."""

    @property
    def region(self) -> str: ...

    @property
    def endpoint_url(self) -> str | None: ...

    def client(self, service: str) -> Any: ...


@dataclass
class AwsClients:
    """Clients of the AWS account of the ordinary credential chain, built once per service."""

    region: str = DEFAULT_REGION
    endpoint_url: None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = boto3.client(service, region_name=self.region)
        return self._cache[service]


def target_from_environment() -> str:
    """`local` or `aws`, from RETRAIN_TARGET."""
    target = os.environ.get("RETRAIN_TARGET", "local")
    if target not in ("local", "aws"):
        raise ConfigError(f"RETRAIN_TARGET={target!r}: set it to local (the default) or aws, or unset it")
    return target


def clients_from_environment() -> Clients:
    target = target_from_environment()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    return AwsClients(region) if target == "aws" else LocalClients.for_command(region)
