"""The one factory of boto3 clients that reach the local AWS.

Everything that talks to a local AWS builds its clients here: the lifecycle and the deployer
(`local/aws.py`, `local/deploy/`), the local SageMaker and Glue reaching the other local services
from inside the emulator, and the `retrain` command's local mode. A `LocalClients` is bound to one
endpoint; `for_command()` picks that endpoint the way localstack-client does (`AWS_ENDPOINT_URL`
when set, so one setting points the command at a LocalStack or a local AWS elsewhere; otherwise
127.0.0.1:`RETRAIN_LOCAL_PORT`), while the emulator's own clients stay bound to the emulator that
runs them, whatever the environment says.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import localstack_client.config
from botocore.config import Config

from retrain.errors import ConfigError

DEFAULT_LOCAL_PORT = 4566
DEFAULT_REGION = "us-east-1"
# Any non-empty credentials: "test" is the emulator's root key; they keep boto3 off the instance metadata.
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"  # the emulator's fixed dummy key  # nosec B105
# Local calls answer in milliseconds: a stuck emulator fails a call instead of hanging it. Path-style
# S3 because the endpoint is an address, not a domain that bucket names can prefix.
CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=120,
    retries={"max_attempts": 3, "mode": "standard"},
    s3={"addressing_style": "path"},
)


def local_port() -> int:
    text = os.environ.get("RETRAIN_LOCAL_PORT", str(DEFAULT_LOCAL_PORT))
    port = int(text) if text.strip().isdigit() else 0
    if not 1 <= port <= 65535:
        raise ConfigError(
            f"RETRAIN_LOCAL_PORT={text!r} is not a TCP port: set it to a number of 1-65535 (default "
            f"{DEFAULT_LOCAL_PORT}) or unset it"
        )
    return port


def local_endpoint(port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or local_port()}"


class LocalClients:
    """boto3 clients of one local AWS endpoint, built once per service and region; thread-safe."""

    def __init__(self, endpoint_url: str, region: str = DEFAULT_REGION) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        # One session for all of them: each session parses botocore's endpoints file (~7 MB of objects) and
        # keeps its own copy of every service model, so a session per client held that many copies.
        self._session: boto3.session.Session | None = None

    @classmethod
    def at_port(cls, port: int | None = None, region: str = DEFAULT_REGION) -> LocalClients:
        """The local AWS on 127.0.0.1:`port` (default `RETRAIN_LOCAL_PORT`)."""
        return cls(local_endpoint(port), region)

    @classmethod
    def for_command(cls, region: str = DEFAULT_REGION) -> LocalClients:
        """Where the command's local mode goes: `AWS_ENDPOINT_URL` when set, else the local AWS on
        127.0.0.1:`RETRAIN_LOCAL_PORT` (localstack-client's rule; every service shares the endpoint)."""
        endpoint = localstack_client.config.get_service_endpoint("sts", localstack_host=f"127.0.0.1:{local_port()}")
        return cls(endpoint or local_endpoint(), region)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                # boto3 sessions are not thread-safe, so this session only ever builds clients under the
                # lock (boto3's default session is shared with other code, so it is not used); the clients
                # themselves are thread-safe.
                if self._session is None:
                    self._session = boto3.session.Session()
                found = self._session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=key[1],
                    aws_access_key_id=ACCESS_KEY_ID,
                    aws_secret_access_key=SECRET_ACCESS_KEY,
                    config=CLIENT_CONFIG,
                )
                self._clients[key] = found
            return found

    def process_environment(self, region: str | None = None) -> dict[str, str]:
        """What a process needs so that its own boto3 calls reach this local AWS."""
        region = region or self.region
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
