"""The `sagemaker-runtime` API: `InvokeEndpoint` through the router to a variant's model server.

`POST /endpoints/<name>/invocations` with the payload, `Content-Type` and `Accept`; the answer
carries the model's payload and content type and `X-Amzn-Invoked-Production-Variant`. A model that
answers 4xx or 5xx reaches the caller as SageMaker's `ModelError` (HTTP 424) with the original
status and message. Every invocation is counted in the endpoint's CloudWatch metrics, and an answered
one is captured when the serving fleet's endpoint config asks for it (`local.sagemaker.capture`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from local.sagemaker.capture import CaptureWriter, Invocation
from local.sagemaker.metrics import InvocationMetrics
from local.sagemaker.router import EndpointRouter, Lease, UnknownVariant
from local.sagemaker.store import StateStore

_INVOKE_PATH = re.compile(r"^/endpoints/([^/]+)/invocations/?$")
# InvokeEndpoint's Body (botocore `sagemaker-runtime/2017-05-13/service-2.json`, BodyBlob: max 6291456).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
Response = tuple[int, dict[str, str], bytes]


def _error(code: str, message: str, status: int, **extra: Any) -> Response:
    body = {"__type": code, "message": message, "Message": message, **extra}
    return status, {"content-type": "application/json", "x-amzn-ErrorType": code}, json.dumps(body).encode()


class RuntimeApi:
    def __init__(
        self, store: StateStore, router: EndpointRouter, metrics: InvocationMetrics, capture: CaptureWriter
    ) -> None:
        self._store = store
        self._router = router
        self._metrics = metrics
        self._capture = capture

    @staticmethod
    def matches(method: str, path: str) -> bool:
        return method == "POST" and _INVOKE_PATH.match(path) is not None

    async def handle(self, path: str, headers: dict[str, str], body: bytes, account: str) -> Response:
        match = _INVOKE_PATH.match(path)
        assert match is not None
        name = unquote(match.group(1))
        lowered = {key.lower(): value for key, value in headers.items()}
        record = self._store.get("Endpoint", name)
        if record is None:
            return _error("ValidationError", f"Endpoint {name} of account {account} not found.", 400)
        if len(body) > MAX_PAYLOAD_BYTES:
            return _error(
                "ValidationError",
                "1 validation error detected: Value at 'body' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}",
                400,
            )
        target = lowered.get("x-amzn-sagemaker-target-variant")
        arrived = time.perf_counter()
        lease = await self._acquire(name, target)
        if isinstance(lease, tuple):
            return lease
        status, reply_headers, payload, model_us = await self._forward(lease, body, lowered)
        self._router.release(lease)
        overhead_us = int((time.perf_counter() - arrived) * 1_000_000) - model_us
        self._metrics.record(
            record.get("_Region", "us-east-1"),
            name,
            lease.variant.name,
            status,
            model_us,
            overhead_us,
            instances=lease.variant.instance_count,
        )
        if 200 <= status < 300:
            self._record_capture(lease, record, lowered, body, reply_headers, payload)
            # Lower-case on purpose: the gateway rewrites a "Content-Type" it takes for an envelope.
            out = {
                "content-type": reply_headers.get("Content-Type", "application/json"),
                "x-Amzn-Invoked-Production-Variant": lease.variant.name,
            }
            if "X-Amzn-SageMaker-Custom-Attributes" in reply_headers:
                out["X-Amzn-SageMaker-Custom-Attributes"] = reply_headers["X-Amzn-SageMaker-Custom-Attributes"]
            return 200, out, payload
        kind = "client" if 400 <= status < 500 else "server"
        text = payload.decode("utf-8", errors="replace")
        region = record.get("_Region", "us-east-1")
        log_arn = f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{name}"
        message = (
            f'Received {kind} error ({status}) from primary with message "{text}". See '
            f"/aws/sagemaker/Endpoints/{name} in account {account} for more information."
        )
        response = _error(
            "ModelError", message, 424, OriginalStatusCode=status, OriginalMessage=text, LogStreamArn=log_arn
        )
        response[1]["x-Amzn-Invoked-Production-Variant"] = lease.variant.name
        return response

    def _record_capture(
        self,
        lease: Lease,
        endpoint: dict[str, Any],
        headers: dict[str, str],
        body: bytes,
        reply_headers: dict[str, str],
        payload: bytes,
    ) -> None:
        if not lease.fleet.data_capture:
            return
        invocation = Invocation(
            endpoint=lease.endpoint,
            variant=lease.variant.name,
            region=endpoint.get("_Region", "us-east-1"),
            request_body=body,
            request_content_type=headers.get("content-type", "application/octet-stream"),
            response_body=payload,
            response_content_type=reply_headers.get("Content-Type", "application/json"),
            inference_id=headers.get("x-amzn-sagemaker-inference-id"),
            at=datetime.now(UTC),
            role_arn=lease.variant.role_arn,
        )
        self._capture.record(lease.fleet.data_capture, invocation)

    async def _acquire(self, name: str, target: str | None) -> Lease | Response:
        # An endpoint being created or restarted has no fleet yet: SageMaker answers as unavailable.
        for _ in range(2):
            try:
                lease = self._router.acquire(name, target)
            except UnknownVariant:
                return _error("ValidationError", f"The variant {target} does not exist for endpoint {name}.", 400)
            if lease is not None:
                return lease
            await asyncio.sleep(0.05)
        record = self._store.get("Endpoint", name) or {}
        status = record.get("EndpointStatus", "")
        if status in ("Creating", "Failed", "Deleting", "OutOfService"):
            return _error("ValidationError", f"Endpoint {name} is not in service (status {status}).", 400)
        return _error("ServiceUnavailable", f"Endpoint {name} has no instance ready to serve.", 503)

    async def _forward(
        self, lease: Lease, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, int]:
        started = time.perf_counter()
        try:
            status, reply_headers, payload = await asyncio.to_thread(
                lease.instance.invoke,
                body,
                headers.get("content-type"),
                headers.get("accept"),
                headers.get("x-amzn-sagemaker-custom-attributes"),
            )
        except TimeoutError:
            status, reply_headers = 0, {}
            payload = b"Your invocation timed out while waiting for a response from container primary."
        except OSError as error:
            status, reply_headers, payload = 500, {}, f"The model server is unreachable: {error}".encode()
        return status, reply_headers, payload, int((time.perf_counter() - started) * 1_000_000)
