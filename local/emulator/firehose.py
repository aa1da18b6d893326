"""Amazon Data Firehose: delivery into S3 buffered and shaped as Firehose delivers it.

The emulator already reads a Kinesis source (each record a Kinesis stream accepts goes to the delivery
streams that read it), extracts partition keys with its own evaluator of the JQ subset Firehose's
metadata extraction uses (`{key: .field[0:10]}`, `strftime`), evaluates `!{...}` prefixes and writes a
record it cannot parse or partition under the error output prefix with its error type. Gaps closed here
(`BufferedDelivery`), each pinned by `tests/contract/emulator/test_firehose.py`:

- it wrote one S3 object per record, on arrival. Firehose buffers the records of each partition (the
  partition keys' values) and writes one object per buffer when it reaches BufferingHints' SizeInMBs or
  IntervalInSeconds, timestamps evaluated at the oldest record's arrival (developer guide, "Buffer data
  for dynamic partitioning" and "Custom prefixes for Amazon S3 objects"). Locally the interval runs at
  the local AWS's clock scale (`local.clock`, as SageMaker's rollout clocks): 60 s in 1 s at 1/60;
- the `AppendDelimiterToRecord` processor was ignored: each record is now followed by its delimiter
  (developer guide, "Dynamic partitioning": "Add a new line delimiter");
- `CompressionFormat` GZIP was ignored: the object is now gzip-compressed, named with `.gz` unless a
  `FileExtension` is set (developer guide, "Configure Amazon S3 object name format").

Records whose partitioning fails, and streams with format conversion, still take the emulator's own
per-record path (which writes the error document). Buffers live in the emulator's memory: records not yet
delivered when it stops are lost (Firehose keeps them); a bounded burst is delivered within one interval.
"""

from __future__ import annotations

import codecs
import gzip
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.clock import ClockScale
from local.emulator.seam import replace, require, service

logger = logging.getLogger("retrain.local.firehose")

MIB = 1024 * 1024
# botocore firehose BufferingHints defaults (the API reference's "default value is 5 ... 300").
DEFAULT_SIZE_MB = 5
DEFAULT_INTERVAL_SECONDS = 300
TICK_SECONDS = 0.2


@dataclass
class _Buffer:
    stream: dict[str, Any]
    dest: dict[str, Any]
    query_keys: dict[str, str] | None
    lambda_keys: dict[str, str] | None
    first_arrival: float
    records: list[bytes] = field(default_factory=list)
    size: int = 0


class BufferedDelivery:
    """Per-partition buffers flushed by size at once and by age from a background thread."""

    def __init__(self, clock: ClockScale | None = None) -> None:
        self.clock = clock or ClockScale.from_environment()
        self._buffers: dict[tuple[str, str, str], _Buffer] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        firehose = service("firehose")
        for name in ("_metadata_extraction_keys", "_evaluate_prefix", "_java_time", "_DeliveryError"):
            require(firehose, name)
        for name in ("_s3_bucket_from_arn", "_put_s3_object", "new_uuid"):
            require(firehose, name)
        replace(firehose, "_deliver_to_s3", self._buffering, fix="firehose-buffered-delivery")
        self._thread = threading.Thread(target=self._flush_forever, name="firehose-buffers", daemon=True)
        self._thread.start()

    def _buffering(self, original: Callable[..., None]) -> Callable[..., None]:
        def deliver(stream: dict[str, Any], dest: dict[str, Any], data: bytes, lambda_keys: Any = None) -> None:
            config = dest["config"]
            if (config.get("DataFormatConversionConfiguration") or {}).get("Enabled"):
                original(stream, dest, data, lambda_keys)
                return
            firehose = service("firehose")
            try:
                query_keys = None
                if (config.get("DynamicPartitioningConfiguration") or {}).get("Enabled"):
                    query_keys = firehose._metadata_extraction_keys(config, data)
                # The prefix must evaluate with these keys, or the record is an error now, not at delivery.
                firehose._evaluate_prefix(config.get("Prefix", ""), time.gmtime(), query_keys, lambda_keys)
            except firehose._DeliveryError:
                original(stream, dest, data, lambda_keys)  # writes the error document under the error prefix
                return
            self.add(stream, dest, data + _delimiter(config), query_keys, lambda_keys)

        return deliver

    def add(
        self,
        stream: dict[str, Any],
        dest: dict[str, Any],
        data: bytes,
        query_keys: dict[str, str] | None,
        lambda_keys: dict[str, str] | None,
    ) -> None:
        key = (
            stream["name"],
            dest["id"],
            repr((sorted((query_keys or {}).items()), sorted((lambda_keys or {}).items()))),
        )
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None:
                buffer = self._buffers[key] = _Buffer(stream, dest, query_keys, lambda_keys, time.time())
            buffer.records.append(data)
            buffer.size += len(data)
            full = buffer.size >= _hints(dest["config"])[0] * MIB
            if full:
                del self._buffers[key]
        if full:
            self._deliver(buffer)

    def flush_due(self, now: float | None = None) -> int:
        """Delivers every buffer older than its interval (at the clock scale); returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            due = [
                key
                for key, buffer in self._buffers.items()
                if now - buffer.first_arrival >= self.clock.seconds(_hints(buffer.dest["config"])[1])
            ]
            buffers = [self._buffers.pop(key) for key in due]
        for buffer in buffers:
            self._deliver(buffer)
        return len(buffers)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            try:
                self.flush_due()
            except Exception:  # a delivery problem must not stop the flusher
                logger.exception("Firehose buffered delivery failed")

    def _deliver(self, buffer: _Buffer) -> None:
        firehose = service("firehose")
        config = buffer.dest["config"]
        arrived = time.gmtime(buffer.first_arrival)
        prefix = firehose._evaluate_prefix(config.get("Prefix", ""), arrived, buffer.query_keys, buffer.lambda_keys)
        stream = buffer.stream
        suffix = (
            f"{stream['name']}-{stream.get('version', 1)}-{firehose._java_time('yyyy-MM-dd-HH-mm-ss', arrived)}-"
            f"{firehose.new_uuid()}"
        )
        body = b"".join(buffer.records)
        extension = ""
        if config.get("CompressionFormat") == "GZIP":
            body, extension = gzip.compress(body), ".gz"
        bucket = firehose._s3_bucket_from_arn(config.get("BucketARN", ""))
        firehose._put_s3_object(bucket, f"{prefix}{suffix}{config.get('FileExtension') or extension}", body)


def _hints(config: dict[str, Any]) -> tuple[int, int]:
    hints = config.get("BufferingHints") or {}
    return int(hints.get("SizeInMBs", DEFAULT_SIZE_MB)), int(hints.get("IntervalInSeconds", DEFAULT_INTERVAL_SECONDS))


def _delimiter(config: dict[str, Any]) -> bytes:
    """The `AppendDelimiterToRecord` processor's delimiter, written escaped (`\\n`) as the API takes it."""
    processing = config.get("ProcessingConfiguration") or {}
    if not processing.get("Enabled"):
        return b""
    for processor in processing.get("Processors") or []:
        if processor.get("Type") == "AppendDelimiterToRecord":
            values = {p.get("ParameterName"): p.get("ParameterValue") for p in processor.get("Parameters") or []}
            return codecs.decode(values.get("Delimiter", "\\n"), "unicode_escape").encode("utf-8")
    return b""
