"""How a binary classifier is scored: the same metrics for validation (training) and test (evaluation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

DEFAULT_THRESHOLD = 0.5
# The metrics SageMaker reads from the training log, as `validation:<name>=<value>;`.
LOGGED_METRICS = ("roc_auc", "average_precision", "log_loss", "brier", "precision", "recall", "f1")


class BinaryClassificationMetrics:
    """Ranking (ROC AUC, average precision), probability quality (log loss, Brier) and the decision at
    a threshold (precision, recall, F1). A metric undefined for the labels given (one class only) is None."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold

    def compute(self, labels: Any, scores: Any) -> dict[str, Any]:
        y = np.asarray(labels, dtype=int)
        p = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
        if y.shape != p.shape:
            raise ValueError(f"{y.shape[0]} labels but {p.shape[0]} scores")
        positives = int(y.sum())
        both_classes = 0 < positives < y.shape[0]
        predicted = (p >= self.threshold).astype(int)
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, predicted, average="binary", pos_label=1, zero_division=0
        )
        # The metrics a model is scored by: `retrain check-config` reads their names from this literal,
        # as the ones [promotion] and its guardrails may compare.
        metrics: dict[str, Any] = {
            "roc_auc": roc_auc_score(y, p) if both_classes else None,
            "average_precision": average_precision_score(y, p) if both_classes else None,
            "log_loss": log_loss(y, p, labels=[0, 1]) if y.size else None,
            "brier": brier_score_loss(y, p, pos_label=1) if y.size else None,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
        # What they were computed on and at: reported with them, never compared.
        details = {
            "threshold": self.threshold,
            "rows": int(y.size),
            "positives": positives,
            "positive_rate": positives / y.size if y.size else None,
        }
        return {name: _plain(value) for name, value in {**metrics, **details}.items()}

    @staticmethod
    def log_lines(prefix: str, metrics: dict[str, Any]) -> list[str]:
        """`prefix:name=value;` lines for the metric definitions of a SageMaker training job."""
        return [f"{prefix}:{name}={metrics[name]:.6f};" for name in LOGGED_METRICS if metrics.get(name) is not None]


def _plain(value: Any) -> Any:
    """A JSON-safe number: numpy scalars become Python ones, NaN becomes None."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    number = float(value)
    return None if math.isnan(number) else round(number, 6)
