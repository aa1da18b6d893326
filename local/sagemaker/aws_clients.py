"""boto3 clients that the local SageMaker itself uses to reach the other local services.

SageMaker on AWS reads S3, writes CloudWatch Logs and publishes CloudWatch metrics through those
services' APIs; the local one does the same through the emulator's endpoint, so what it writes is
what any client of the emulator reads. Never used on the emulator's event loop (that would wait on
itself): only from job, deployment and publisher threads.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# Any non-empty credentials: the emulator accepts them; they keep boto3 off the instance metadata.
DUMMY_ACCESS_KEY = "test"
DUMMY_SECRET_KEY = "test"


class AwsClients:
    def __init__(self, endpoint_url: str, default_region: str = "us-east-1") -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.default_region = default_region
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            s3={"addressing_style": "path"},
        )

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.default_region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = boto3.session.Session().client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=key[1],
                    aws_access_key_id=DUMMY_ACCESS_KEY,
                    aws_secret_access_key=DUMMY_SECRET_KEY,
                    config=self._config,
                )
                self._clients[key] = found
            return found

    def process_environment(self, region: str) -> dict[str, str]:
        """What a job or model server needs so its own boto3 calls reach the local AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
