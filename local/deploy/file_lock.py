"""An exclusive lock on a file, held by one process at a time and waited for with a bound.

`fcntl.flock` rather than a lock library: the lock dies with its holder (a killed deploy never leaves
one behind), which is all two deploys of one machine need.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

POLL_SECONDS = 0.25


@contextlib.contextmanager
def exclusive(path: Path, timeout: float, busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold `path`'s lock for the block; raise `busy()` when another holder keeps it over `timeout` s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise busy() from None
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
