"""An endpoint's invocation metrics, published to CloudWatch as SageMaker publishes them.

Namespace `AWS/SageMaker`, dimensions `EndpointName` and `VariantName`: `Invocations`,
`Invocation4XXErrors` and `Invocation5XXErrors` (one sample per request, 0 or 1, so their Sum counts
and their Average is the error rate), `ModelLatency` and `OverheadLatency` in microseconds (each
request's value, so percentiles work), and `InvocationsPerInstance`. Requests are aggregated per
second and published at one-second resolution by a background thread.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("local.sagemaker")

NAMESPACE = "AWS/SageMaker"
_MAX_VALUES = 150  # PutMetricData's limit of distinct values in one datum


@dataclass
class _Second:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    instances: int = 1
    model_latency: collections.Counter[int] = field(default_factory=collections.Counter)
    overhead_latency: collections.Counter[int] = field(default_factory=collections.Counter)


def _distribution(
    name: str, counter: collections.Counter[int], dimensions: list[dict[str, str]], stamp: dt.datetime, unit: str
) -> list[dict[str, Any]]:
    items = sorted(counter.items())
    return [
        {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": stamp,
            "Unit": unit,
            "StorageResolution": 1,
            "Values": [float(value) for value, _ in chunk],
            "Counts": [float(count) for _, count in chunk],
        }
        for chunk in (items[i : i + _MAX_VALUES] for i in range(0, len(items), _MAX_VALUES))
    ]


class InvocationMetrics:
    def __init__(
        self, publish: Callable[[str, list[dict[str, Any]]], None] | None = None, interval: float = 1.0
    ) -> None:
        self._publish = publish
        self._interval = interval
        self._lock = threading.Lock()
        self._seconds: dict[tuple[str, str, str, int], _Second] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self,
        region: str,
        endpoint: str,
        variant: str,
        status: int,
        model_latency_us: int,
        overhead_latency_us: int,
        instances: int = 1,
        at: float | None = None,
    ) -> None:
        second = int(at if at is not None else time.time())
        with self._lock:
            bucket = self._seconds.setdefault((region, endpoint, variant, second), _Second())
            bucket.requests += 1
            bucket.instances = max(1, instances)
            if 400 <= status < 500:
                bucket.errors_4xx += 1
            elif status >= 500:
                bucket.errors_5xx += 1
            bucket.model_latency[max(0, int(model_latency_us))] += 1
            bucket.overhead_latency[max(0, int(overhead_latency_us))] += 1

    def drain(self, before: float) -> dict[str, list[dict[str, Any]]]:
        """MetricData per region for every second that ended before `before` (removed)."""
        with self._lock:
            done = [key for key in self._seconds if key[3] + 1 <= before]
            taken = {key: self._seconds.pop(key) for key in done}
        by_region: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for (region, endpoint, variant, second), bucket in sorted(taken.items()):
            dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
            stamp = dt.datetime.fromtimestamp(second, dt.UTC)
            common = {"Dimensions": dims, "Timestamp": stamp, "StorageResolution": 1}
            n = bucket.requests
            data = by_region[region]
            data.append({"MetricName": "Invocations", "Unit": "None", "Values": [1.0], "Counts": [float(n)], **common})
            for name, errors in (
                ("Invocation4XXErrors", bucket.errors_4xx),
                ("Invocation5XXErrors", bucket.errors_5xx),
            ):
                values = [(0.0, n - errors), (1.0, errors)]
                kept = [(value, count) for value, count in values if count]
                data.append(
                    {
                        "MetricName": name,
                        "Unit": "None",
                        "Values": [v for v, _ in kept],
                        "Counts": [float(c) for _, c in kept],
                        **common,
                    }
                )
            data.append(
                {"MetricName": "InvocationsPerInstance", "Unit": "None", "Value": n / bucket.instances, **common}
            )
            data.extend(_distribution("ModelLatency", bucket.model_latency, dims, stamp, "Microseconds"))
            data.extend(_distribution("OverheadLatency", bucket.overhead_latency, dims, stamp, "Microseconds"))
        return dict(by_region)

    def start(self) -> None:
        if self._publish is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sagemaker-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush(time.time() + 1)

    def flush(self, before: float) -> None:
        if self._publish is None:
            return
        for region, data in self.drain(before).items():
            for start in range(0, len(data), 500):
                try:
                    self._publish(region, data[start : start + 500])
                except Exception as error:  # metrics are best effort; serving must go on
                    logger.warning("could not publish %d endpoint metrics: %s", len(data), error)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush(time.time())
