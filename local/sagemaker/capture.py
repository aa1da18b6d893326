"""Data capture of a real-time endpoint: what an endpoint config's `DataCaptureConfig` asks SageMaker
to record of each invocation, written to S3 in SageMaker's own layout and format.

On AWS the hosting platform (not the model's container) samples the invocations and writes them as
JSON lines under `<DestinationS3Uri>/<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<mm-ss-mmm>-<uuid>.jsonl`,
one object per line (SageMaker developer guide, "Capture data from real-time endpoint", and "View
captured data"; the shape read by Model Monitor's analyzer and by the SageMaker Python SDK):

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "...", "encoding": "CSV"},
                     "endpointOutput": {...,"mode": "OUTPUT", ...}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<caller's id, when given>",
                       "inferenceTime": "2024-01-01T12:00:00Z"},
     "eventVersion": "0"}

A payload whose content type is one of the config's `CaptureContentTypeHeader.CsvContentTypes` is kept
as text with encoding `CSV`, one of its `JsonContentTypes` as `JSON`; any other (and every one when the
header is absent, as `API_DataCaptureConfig` documents) as `BASE64`. Only invocations the model answered
are captured. Records are buffered and written by a flusher every `FLUSH_SECONDS`, one object per
endpoint, variant and hour per flush, as the platform batches them; `close` writes what is left.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("local.sagemaker")

FLUSH_SECONDS = 1.0
EVENT_VERSION = "0"
PutObject = Callable[[str, str, str, bytes, "str | None"], None]  # region, bucket, key, body, the writer's role


@dataclass(frozen=True)
class Invocation:
    """One answered invocation as the runtime API saw it."""

    endpoint: str
    variant: str
    region: str
    request_body: bytes
    request_content_type: str
    response_body: bytes
    response_content_type: str
    inference_id: str | None
    at: datetime
    role_arn: str | None = None  # the variant's model's execution role, which SageMaker writes the capture as


def _encoded(data: bytes, content_type: str, header: dict[str, Any] | None) -> tuple[str, str]:
    base = content_type.split(";", 1)[0].strip().lower()
    header = header or {}
    for encoding, key in (("CSV", "CsvContentTypes"), ("JSON", "JsonContentTypes")):
        if base in {value.lower() for value in header.get(key) or ()}:
            try:
                return data.decode("utf-8"), encoding
            except UnicodeDecodeError:
                break
    return base64.b64encode(data).decode("ascii"), "BASE64"


def capture_record(config: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
    """The JSON line SageMaker writes for `invocation` under the endpoint config's `DataCaptureConfig`."""
    modes = {option["CaptureMode"] for option in config.get("CaptureOptions") or ()}
    header = config.get("CaptureContentTypeHeader")
    captured: dict[str, Any] = {}
    sides = (
        ("endpointInput", "INPUT", "Input", invocation.request_body, invocation.request_content_type),
        ("endpointOutput", "OUTPUT", "Output", invocation.response_body, invocation.response_content_type),
    )
    for key, mode, option, body, content_type in sides:
        if modes & {option, "InputAndOutput"}:
            data, encoding = _encoded(body, content_type, header)
            captured[key] = {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}
    metadata = {"eventId": str(uuid.uuid4())}
    if invocation.inference_id:
        metadata["inferenceId"] = invocation.inference_id
    metadata["inferenceTime"] = invocation.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"captureData": captured, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}


def capture_prefix(config: dict[str, Any], invocation: Invocation) -> tuple[str, str]:
    """The bucket and the hour's folder (no trailing slash) a record of `invocation` goes to."""
    destination = str(config["DestinationS3Uri"]).split("://", 1)[1]
    bucket, _, prefix = destination.partition("/")
    hour = invocation.at.astimezone(UTC).strftime("%Y/%m/%d/%H")
    parts = [part for part in (prefix.strip("/"), invocation.endpoint, invocation.variant, hour) if part]
    return bucket, "/".join(parts)


def sampled(config: dict[str, Any], draw: float) -> bool:
    """Whether an invocation is captured: capture on (the default), and `draw` (in [0, 1)) in the sample."""
    if config.get("EnableCapture", True) is False:
        return False
    return draw * 100 < int(config.get("InitialSamplingPercentage", 0))


class CaptureWriter:
    """Buffers captured records and writes them to S3 every `FLUSH_SECONDS` (and on `close`)."""

    def __init__(self, put_object: PutObject, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._put = put_object
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        # (region, bucket, folder, role) -> lines
        self._pending: dict[tuple[str, str, str, str | None], list[str]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, config: dict[str, Any] | None, invocation: Invocation) -> None:
        if not config or not sampled(config, random.random()):  # capture sampling  # nosec B311
            return
        bucket, folder = capture_prefix(config, invocation)
        line = json.dumps(capture_record(config, invocation), separators=(",", ":"))
        with self._lock:
            self._pending.setdefault((invocation.region, bucket, folder, invocation.role_arn), []).append(line)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for (region, bucket, folder, role_arn), lines in pending.items():
            now = datetime.now(UTC)
            key = f"{folder}/{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            try:
                self._put(region, bucket, key, ("\n".join(lines) + "\n").encode(), role_arn)
            except Exception as error:  # a capture lost must never fail the endpoint; AWS drops it too
                logger.warning("data capture: %d record(s) for s3://%s/%s lost: %s", len(lines), bucket, key, error)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()
