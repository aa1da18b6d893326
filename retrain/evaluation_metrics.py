"""The `evaluation.json` the evaluation job writes, read back and checked.

    {"candidate": {"average_precision": 0.41, "roc_auc": 0.88, ...},
     "champion":  {...} | null,          # null only when there is no champion yet
     ...}                                # anything else (sample counts, plots) is kept out

Candidate and champion are scored on the same test split by the same job, so their metrics compare.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from retrain.errors import EvaluationFailed

_SHAPE = 'expected {"candidate": {metric: number}, "champion": {metric: number} or null}'


@dataclass(frozen=True)
class EvaluationMetrics:
    """The candidate's and the champion's metrics as `evaluation.json` gives them."""

    candidate: dict[str, float]
    champion: dict[str, float] | None
    # Metrics the job reported as null, by role: it could not compute them (e.g. one class only).
    uncomputed: dict[str, frozenset[str]] = field(default_factory=dict)


def parse_evaluation(text: str | bytes, source: str) -> EvaluationMetrics:
    """Raise EvaluationFailed naming what is wrong with the document at `source`."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise EvaluationFailed(f"{source} is not valid JSON ({error}); {_SHAPE}") from None
    if not isinstance(document, dict):
        raise EvaluationFailed(f"{source}: {_SHAPE}, got a JSON {type(document).__name__}")
    for role in ("candidate", "champion"):
        if role not in document:
            raise EvaluationFailed(f"{source}: {role!r} is missing; {_SHAPE}")
    champion = document["champion"]
    roles = {"candidate": document["candidate"]} | ({} if champion is None else {"champion": champion})
    return EvaluationMetrics(
        candidate=_metrics(document["candidate"], f"{source}: candidate"),
        champion=None if champion is None else _metrics(champion, f"{source}: champion"),
        uncomputed={role: frozenset(k for k, v in values.items() if v is None) for role, values in roles.items()},
    )


def _metrics(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise EvaluationFailed(f"{where}: expected an object of metric values, got {value!r:.60}")
    metrics: dict[str, float] = {}
    for name, number in value.items():
        # Non-numeric entries (a confusion matrix, a threshold list) are details, not metrics.
        if isinstance(number, bool) or not isinstance(number, int | float):
            continue
        if not math.isfinite(number):
            raise EvaluationFailed(
                f"{where}.{name} is {number}; the evaluation could not compute it "
                "(does the test split hold both classes?)"
            )
        metrics[name] = float(number)
    if not metrics:
        raise EvaluationFailed(f"{where}: no numeric metric in {value!r:.80}")
    return metrics
