"""A job's or model server's output, kept in a file and shipped to CloudWatch Logs.

SageMaker writes training jobs to `/aws/sagemaker/TrainingJobs`, processing jobs to
`/aws/sagemaker/ProcessingJobs` (stream `<job>/algo-1-<epoch>`) and endpoints to
`/aws/sagemaker/Endpoints/<endpoint>` (stream `<variant>/<instance>`); the local one does the same
in the emulator's CloudWatch Logs, and keeps a plain file beside the work directory. SageMaker writes
them as the execution role: a caller that may not write the stream passes no client (the file only), one
that may write it but not create the group `create_group=False`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger("local.sagemaker")

_FLUSH_SECONDS = 1.0
_MAX_BATCH = 5000


class LogStream:
    def __init__(
        self, logs_client: Any | None, group: str, stream: str, local_file: Path, create_group: bool = True
    ) -> None:
        self.group = group
        self.stream = stream
        self.local_file = local_file
        self._client = logs_client
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        local_file.parent.mkdir(parents=True, exist_ok=True)
        self._file = local_file.open("a", encoding="utf-8")
        self._created = False
        self._create_group = create_group
        self._thread = threading.Thread(target=self._run, name=f"logs-{stream}", daemon=True)
        self._thread.start()

    def write(self, line: str) -> None:
        line = line.rstrip("\n")
        with self._lock:
            if self._file.closed:
                return
            self._file.write(line + "\n")
            self._file.flush()
            if self._client is not None:
                self._pending.append({"timestamp": int(time.time() * 1000), "message": line or " "})

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join(timeout=10)
        self._ship()
        with self._lock:
            self._file.close()

    def _run(self) -> None:
        while not self._closed.wait(_FLUSH_SECONDS):
            self._ship()

    def _ensure_stream(self) -> None:
        if self._created or self._client is None:
            return
        calls = [(self._client.create_log_stream, {"logGroupName": self.group, "logStreamName": self.stream})]
        if self._create_group:
            calls.insert(0, (self._client.create_log_group, {"logGroupName": self.group}))
        for call, kwargs in calls:
            with contextlib.suppress(self._client.exceptions.ResourceAlreadyExistsException):
                call(**kwargs)
        self._created = True

    def _ship(self) -> None:
        with self._lock:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
        if not batch or self._client is None:
            return
        try:
            self._ensure_stream()
            self._client.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=batch)
        except Exception as error:  # logs are best effort: the local file always has them
            logger.warning("could not ship %d log lines to %s/%s: %s", len(batch), self.group, self.stream, error)
