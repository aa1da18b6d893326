"""Bounded polling for tests: wait for a condition with a deadline instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

# The bound on a subprocess that starts Python and imports the data stack (scikit-learn, pandas, scipy,
# boto3): only a hang passes it. Two test workers and other work on 2 cores have made such a start take
# over 60 s, which is load, not a failure.
PROCESS_START_BOUND = 300.0


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
