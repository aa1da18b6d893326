"""What a failed script's output says went wrong, read by the failure-line protocol (`retrain.failure_line`).

`read_failure` finds the three things a service reports a failure from: the last traceback's
exception, the last `Name: message` line and, failing both, the last lines. Each service words its
own reason from them (Glue's `ErrorMessage`, SageMaker's `FailureReason`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from retrain.failure_line import TRACEBACK_HEADER, is_failure_line


@dataclass(frozen=True)
class ScriptFailure:
    exception: tuple[str, ...]  # the last traceback's exception and the lines after it; () without one
    failure_line: str | None  # the last `Name: message` line
    lines: tuple[str, ...]  # every line that says something (blank and noise lines dropped)


def read_failure(output: str | Iterable[str], noise: re.Pattern[str] | None = None) -> ScriptFailure:
    """The failure in `output` (the text, or its lines); lines `noise` matches (a framework's own log
    lines interleaved with the script's) are never part of it."""
    raw = output.splitlines() if isinstance(output, str) else output
    lines = tuple(line.rstrip() for line in raw if line.strip() and not (noise is not None and noise.match(line)))
    marker = max((i for i, line in enumerate(lines) if line.startswith(TRACEBACK_HEADER)), default=-1)
    exception: tuple[str, ...] = ()
    if marker >= 0:
        # The frames are indented; what follows the last of them is the exception and its message.
        index = marker + 1
        while index < len(lines) and lines[index].startswith(" "):
            index += 1
        exception = lines[index:]
    failure_line = next((line for line in reversed(lines) if is_failure_line(line)), None)
    return ScriptFailure(exception, failure_line, lines)
