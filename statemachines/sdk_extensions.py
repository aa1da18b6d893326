"""Fields of Amazon States Language that the `stepfunctions` SDK 2.3.0 does not know.

The SDK validates every keyword against an allow-list of `Field`s and rejects the rest, so each
subclass here extends that list by exactly the fields it adds; serialisation is the SDK's own
(snake_case keyword → PascalCase key).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from stepfunctions.steps import Fail, Retry, Task


class ExtraField(Enum):
    RESULT_SELECTOR = "result_selector"
    MAX_DELAY_SECONDS = "max_delay_seconds"
    JITTER_STRATEGY = "jitter_strategy"
    ERROR_PATH = "error_path"
    CAUSE_PATH = "cause_path"


class TrimmedTask(Task):
    """A Task that may carry `ResultSelector`, so it returns only what later states read."""

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), ExtraField.RESULT_SELECTOR]


class JitteredRetry(Retry):
    """A retrier with `MaxDelaySeconds` and `JitterStrategy` (backoff with full jitter)."""

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), ExtraField.MAX_DELAY_SECONDS, ExtraField.JITTER_STRATEGY]


class FailFromPaths(Fail):
    """A Fail state whose error and cause come from the state input (`ErrorPath`/`CausePath`)."""

    def allowed_fields(self) -> list[Any]:
        return [*super().allowed_fields(), ExtraField.ERROR_PATH, ExtraField.CAUSE_PATH]
