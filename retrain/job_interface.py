"""What the jobs accept and produce, read from their own source, and the config checked against it.

A promotion metric the evaluation never writes is found only after Glue, training and evaluation
ran; a misspelled hyperparameter is ignored by the training script and the run succeeds without it.
The names come from the code that uses them, not from a list kept here:

- the metrics: the keys of the `metrics` dict literal of `BinaryClassificationMetrics.compute` in
  `jobs/scoring.py`, which the evaluation writes for candidate and champion (`evaluation.json`);
- the hyperparameters: the fields of the `Hyperparameters` dataclass in `jobs/train.py`, from which
  its argument parser is built (`--<field>`).

The sources arrive as text: reading the files is the caller's (the command's, the CDK app's).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from retrain.config import RetrainConfig
from retrain.errors import ConfigError
from retrain.planning import is_reserved_hyperparameter

SCORING_FILE = "scoring.py"
TRAINING_FILE = "train.py"


@dataclass(frozen=True)
class JobInterface:
    metrics: tuple[str, ...]
    hyperparameters: tuple[str, ...]

    @classmethod
    def from_sources(cls, scoring: str, training: str) -> JobInterface:
        return cls(metrics=_metric_names(scoring), hyperparameters=_hyperparameter_names(training))

    def check(self, config: RetrainConfig, source: str) -> None:
        """Raise ConfigError naming the first key the jobs would not understand."""
        metrics = ", ".join(self.metrics)
        promotion = config.promotion
        keys = [("promotion.metric", promotion.metric)] + [
            (f"promotion.guardrails[{index}].metric", guardrail.metric)
            for index, guardrail in enumerate(promotion.guardrails)
        ]
        for key, metric in keys:
            if metric not in self.metrics:
                raise ConfigError(
                    f"{source}: {key}: {metric!r} is not a metric the evaluation produces; use one of {metrics}"
                )
        accepted = [name for name in self.hyperparameters if not is_reserved_hyperparameter(name)]
        for name in config.training.hyperparameters:
            if is_reserved_hyperparameter(name):
                raise ConfigError(f"{source}: training.hyperparameters.{name}: reserved for the pipeline; remove it")
            if name not in accepted:
                raise ConfigError(
                    f"{source}: training.hyperparameters.{name}: not a hyperparameter of {TRAINING_FILE}, which "
                    f"would ignore it; use one of {', '.join(accepted)}"
                )


def _metric_names(source: str) -> tuple[str, ...]:
    compute = _find(ast.parse(source), "BinaryClassificationMetrics", "compute")
    for node in ast.walk(compute):
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(target, ast.Name) and target.id == "metrics" for target in targets):
                names = tuple(key.value for key in node.value.keys if isinstance(key, ast.Constant))
                if names and all(isinstance(name, str) for name in names):
                    return tuple(str(name) for name in names)
    raise ConfigError(f"{SCORING_FILE}: BinaryClassificationMetrics.compute has no `metrics = {{...}}` of names")


def _hyperparameter_names(source: str) -> tuple[str, ...]:
    fields = _find(ast.parse(source), "Hyperparameters")
    names = tuple(
        node.target.id for node in fields.body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    )
    if not names:
        raise ConfigError(f"{TRAINING_FILE}: the Hyperparameters dataclass has no fields")
    return names


def _find(tree: ast.Module, class_name: str, method: str | None = None) -> ast.ClassDef | ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            if method is None:
                return node
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    return item
    where = f"{class_name}.{method}" if method else class_name
    raise ConfigError(f"{where} not found in the job sources: run `retrain` from a checkout of the project")
