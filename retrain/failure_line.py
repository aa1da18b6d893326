"""The failure-line protocol: how a job script says why it failed, and how everything else reads it.

A job script that fails ends its stderr with one line, `<Name>: <message>`: `Name` is the error's
class name (for the domain errors of `retrain.errors`, the ASL `ErrorEquals` name) and the message
fits on that line. An uncaught exception's traceback ends in the same shape, possibly with the
module path (`retrain.errors.SchemaMismatch: ...`), which readers drop.

Writers: the scripts of `jobs/` (through `jobs/failure_line.py`: they run flat inside managed
containers and cannot import this package). Readers: the local runtime, which turns a failed
script's output into the run's error message (`local.runtime.failures`), and `retrain.failures`,
which finds the line again inside the reason a service reports (a Glue `ErrorMessage`, a SageMaker
`FailureReason` that quotes it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TRACEBACK_HEADER = "Traceback (most recent call last)"
# A traceback's exception line: a class name, its module path optional, its `: message` optional.
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*(?P<name>[A-Za-z_]\w*)(?P<rest>(?::.*)?)$")
# A failure line: a class-like (capitalised) name, module path optional, a colon, a space, a message.
FAILURE_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*(?P<name>[A-Z]\w*): (?P<message>\S.*)$")


def is_failure_line(line: str) -> bool:
    return FAILURE_LINE.match(line) is not None


def without_module(line: str) -> str:
    """`retrain.errors.SchemaMismatch: x` -> `SchemaMismatch: x`; any other line unchanged."""
    match = EXCEPTION_LINE.match(line)
    return match.group("name") + match.group("rest") if match else line


def named_failure_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """The failure line of one of `names` anywhere in a text, module-qualified or quoted by a service
    (`ErrorMessage "TrainingScriptFailed: ..."`); groups: the name, the message."""
    return re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(names) + r")\s*:\s*([^\n]*)")


def last_named_failure(text: str, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    """(name, message) of the last failure line `pattern` finds in `text`; the name when no message."""
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    name, message = matches[-1].groups()
    return name, message.strip() or name
