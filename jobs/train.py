"""SageMaker training entry point (scikit-learn script mode).

Hyperparameters arrive as `--name value` arguments, JSON-encoded by SageMaker (`--early_stopping true`,
strings possibly quoted): learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization,
early_stopping (true | false | auto), random_state, class_weight (balanced | none), target.
Data arrives in the channels SM_CHANNEL_TRAIN and SM_CHANNEL_VALIDATION: the train/ and validation/
Parquet folders written by prepare_data.py, each with its `_feature_spec.json`.

Writes to SM_MODEL_DIR `model.joblib` (the fitted pipeline) and `metadata.json` (features, target,
versions, validation metrics, row counts, hyperparameters), and `metrics.json` to SM_OUTPUT_DATA_DIR.
Prints `validation:<metric>=<value>;` lines for the job's metric definitions. Any failure ends with
`TrainingScriptFailed: <what and how to fix>` as the last line on stderr (`failure_line.py`) and a
non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from failure_line import JobFailure, run_job
from features import FeatureSpec, FeatureSpecError
from model_bundle import FORMAT_VERSION, ModelBundle
from scoring import BinaryClassificationMetrics

FEATURE_SPEC_FILE = "_feature_spec.json"
MAX_CATEGORIES = 255  # HistGradientBoosting's limit for a native categorical feature


class TrainingScriptFailed(JobFailure):
    """Training cannot go on; the message says what is wrong and how to fix it."""


# --- hyperparameters ------------------------------------------------------------------------------


def decode(text: str) -> Any:
    """A SageMaker hyperparameter value: JSON when it parses (`true`, `0.1`, `"is_fraud"`), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Hyperparameters:
    learning_rate: float = 0.1
    max_iter: int = 200
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    early_stopping: str = "auto"  # true | false | auto (auto: on above 10,000 rows)
    random_state: int = 42
    class_weight: str = "balanced"  # positives are often rare (fraud: ~2%): weight classes so that both count
    target: str = ""  # empty: take the target named by the data's feature spec

    @classmethod
    def parse(cls, values: dict[str, str]) -> Hyperparameters:
        defaults = cls()
        parsed: dict[str, Any] = {}
        for name, text in values.items():
            value = decode(text)
            default = getattr(defaults, name)
            try:
                if name == "early_stopping":
                    parsed[name] = _switch(value)
                elif isinstance(default, str):
                    parsed[name] = str(value).strip()
                elif isinstance(default, int):
                    number = float(value)
                    if not number.is_integer():
                        raise ValueError(f"{value!r} is not a whole number")
                    parsed[name] = int(number)
                else:
                    parsed[name] = float(value)
            except (TypeError, ValueError) as error:
                raise TrainingScriptFailed(
                    f"hyperparameter {name}={text!r} is not a valid {type(default).__name__} ({error}); "
                    f"fix it in [training.hyperparameters] or the execution input"
                ) from None
        hyperparameters = cls(**parsed)
        hyperparameters.check()
        return hyperparameters

    def check(self) -> None:
        problems = []
        if not 0.0 < self.learning_rate <= 1.0:
            problems.append(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        if self.max_iter < 1:
            problems.append(f"max_iter must be >= 1, got {self.max_iter}")
        if self.max_leaf_nodes < 2:
            problems.append(f"max_leaf_nodes must be >= 2, got {self.max_leaf_nodes}")
        if self.min_samples_leaf < 1:
            problems.append(f"min_samples_leaf must be >= 1, got {self.min_samples_leaf}")
        if self.l2_regularization < 0:
            problems.append(f"l2_regularization must be >= 0, got {self.l2_regularization}")
        if self.class_weight not in ("balanced", "none"):
            problems.append(f"class_weight must be balanced or none, got {self.class_weight!r}")
        if problems:
            raise TrainingScriptFailed(
                "; ".join(problems) + "; fix it in [training.hyperparameters] or the execution input"
            )

    def estimator_early_stopping(self) -> Any:
        return {"true": True, "false": False}.get(self.early_stopping, "auto")


def _switch(value: Any) -> str:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return "true"
    if text in ("false", "0", "no"):
        return "false"
    if text == "auto":
        return "auto"
    raise ValueError("expected true, false or auto")


def parse_arguments(argv: Sequence[str]) -> tuple[Hyperparameters, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="train.py", description="Train the binary classifier.")
    for name in Hyperparameters.__dataclass_fields__:
        parser.add_argument(f"--{name}", dest=f"hp_{name}")
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    parser.add_argument("--model-dir", "--model_dir", dest="model_dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument(
        "--output-data-dir", "--output_data_dir", dest="output_data_dir", default=os.environ.get("SM_OUTPUT_DATA_DIR")
    )
    # SageMaker adds its own `sagemaker_*` entries to the hyperparameters; they are not ours to read.
    try:
        known, unknown = parser.parse_known_args(list(argv))
    except SystemExit:
        raise TrainingScriptFailed(f"unusable arguments {' '.join(argv)}; see the usage line above") from None
    ignored = [item for item in unknown if item.startswith("--") and not item.startswith("--sagemaker_")]
    if ignored:
        print(f"train.py: ignoring unknown arguments {' '.join(ignored)}", file=sys.stderr)
    values = {
        name: getattr(known, f"hp_{name}")
        for name in Hyperparameters.__dataclass_fields__
        if getattr(known, f"hp_{name}") is not None
    }
    return Hyperparameters.parse(values), known


# --- data -----------------------------------------------------------------------------------------


class Channel:
    """A SageMaker input channel holding the Parquet files of one split."""

    def __init__(self, name: str, directory: str | None) -> None:
        self.name = name
        env = f"SM_CHANNEL_{name.upper()}"
        if not directory:
            raise TrainingScriptFailed(
                f"no {name} channel: {env} is not set; give the training job an input channel named {name!r} "
                f"pointing at the {name}/ folder written by the prepare_data job"
            )
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise TrainingScriptFailed(f"the {name} channel folder {self.directory} does not exist ({env})")

    def files(self) -> list[Path]:
        return sorted(
            path
            for path in self.directory.rglob("*.parquet")
            if not any(part.startswith(("_", ".")) for part in path.relative_to(self.directory).parts)
        )

    def read(self) -> pd.DataFrame:
        files = self.files()
        if not files:
            return pd.DataFrame()
        try:
            return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
        except Exception as error:  # pyarrow reports unreadable files through several exception types
            raise TrainingScriptFailed(f"the {self.name} channel holds unreadable Parquet ({error})") from None

    def feature_spec(self) -> FeatureSpec:
        path = self.directory / FEATURE_SPEC_FILE
        if not path.is_file():
            raise TrainingScriptFailed(
                f"the {self.name} channel {self.directory} has no {FEATURE_SPEC_FILE}; point the channel at "
                f"the {self.name}/ folder written by the prepare_data job"
            )
        try:
            return FeatureSpec.from_dataset(json.loads(path.read_text()))
        except (ValueError, FeatureSpecError) as error:
            raise TrainingScriptFailed(f"{path} is not a valid feature spec: {error}") from None


def labels(frame: pd.DataFrame, target: str, split: str) -> np.ndarray:
    values = pd.to_numeric(frame[target], errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        examples = ", ".join(repr(v) for v in frame[target][bad].head(3).tolist())
        raise TrainingScriptFailed(
            f"the {split} target {target} must be 0 or 1; {int(bad.sum())} rows are not (e.g. {examples}); "
            f"rerun the prepare_data job, which drops such rows"
        )
    return values.to_numpy(dtype=int)


def check_columns(frame: pd.DataFrame, spec: FeatureSpec, split: str) -> None:
    missing = [column for column in [*spec.feature_columns, spec.target] if column not in frame.columns]
    if missing:
        raise TrainingScriptFailed(
            f"the {split} data lacks columns {', '.join(missing)} (has {', '.join(map(str, frame.columns))}); "
            f"rerun the prepare_data job with the same features.py as this training code"
        )


# --- the model ------------------------------------------------------------------------------------


def build_pipeline(spec: FeatureSpec, hyperparameters: Hyperparameters) -> Any:
    """Ordinal-encode the categoricals (unknown or missing -> NaN) and let the gradient-boosted trees
    split on them natively; numbers, booleans and derived features pass through."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = spec.categorical_columns
    numeric = [column for column in spec.feature_columns if column not in categorical]
    encoder = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    dtype=np.float64,
                ),
                categorical,
            ),
            ("numeric", "passthrough", numeric),
        ]
    )
    mask = [True] * len(categorical) + [False] * len(numeric)
    classifier = HistGradientBoostingClassifier(
        learning_rate=hyperparameters.learning_rate,
        max_iter=hyperparameters.max_iter,
        max_leaf_nodes=hyperparameters.max_leaf_nodes,
        min_samples_leaf=hyperparameters.min_samples_leaf,
        l2_regularization=hyperparameters.l2_regularization,
        early_stopping=hyperparameters.estimator_early_stopping(),
        random_state=hyperparameters.random_state,
        class_weight=None if hyperparameters.class_weight == "none" else "balanced",
        categorical_features=mask if any(mask) else None,
    )
    return Pipeline([("encode", encoder), ("classify", classifier)])


def train(hyperparameters: Hyperparameters, arguments: argparse.Namespace) -> dict[str, Any]:
    import sklearn

    train_channel = Channel("train", arguments.train)
    validation_channel = Channel("validation", arguments.validation)
    if not arguments.model_dir:
        raise TrainingScriptFailed("SM_MODEL_DIR is not set: the script needs a folder to write the model to")
    spec = train_channel.feature_spec()
    if hyperparameters.target and hyperparameters.target != spec.target:
        raise TrainingScriptFailed(
            f"hyperparameter target={hyperparameters.target!r} but the prepared data's target is {spec.target!r}; "
            f"make [dataset].target and the training hyperparameters agree"
        )

    train_frame = train_channel.read()
    if train_frame.empty:
        raise TrainingScriptFailed(
            f"the train channel {train_channel.directory} has no rows; check the prepare_data job's quality.json"
        )
    check_columns(train_frame, spec, "train")
    y_train = labels(train_frame, spec.target, "train")
    if len(set(y_train.tolist())) < 2:
        raise TrainingScriptFailed(
            f"the train data has only {spec.target}={y_train[0]} rows; a classifier needs both classes - "
            f"widen training_window_days"
        )
    for column in spec.categorical_columns:
        count = train_frame[column].nunique(dropna=True)
        if count > MAX_CATEGORIES:
            raise TrainingScriptFailed(
                f"categorical column {column} has {count} values; at most {MAX_CATEGORIES} are supported - "
                f"add it to [dataset].exclude_columns or bucket it"
            )

    pipeline = build_pipeline(spec, hyperparameters)
    try:
        pipeline.fit(spec.model_matrix(train_frame), y_train)
    except ValueError as error:
        raise TrainingScriptFailed(f"fitting failed: {error}") from None

    metrics = BinaryClassificationMetrics()
    validation_frame = validation_channel.read()
    validation_metrics: dict[str, Any] = {}
    if validation_frame.empty:
        print("train.py: the validation channel has no rows; no validation metrics", file=sys.stderr)
    else:
        check_columns(validation_frame, spec, "validation")
        y_validation = labels(validation_frame, spec.target, "validation")
        scores = pipeline.predict_proba(spec.model_matrix(validation_frame))[:, 1]
        validation_metrics = metrics.compute(y_validation, scores)
    train_metrics = metrics.compute(y_train, pipeline.predict_proba(spec.model_matrix(train_frame))[:, 1])

    metadata: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        **spec.to_dict(),
        "estimator": "HistGradientBoostingClassifier",
        "threshold": metrics.threshold,
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "hyperparameters": asdict(hyperparameters) | {"target": spec.target},
        "iterations": int(pipeline.named_steps["classify"].n_iter_),
        "rows": {"train": len(train_frame), "validation": len(validation_frame)},
        "positives": {
            "train": int(y_train.sum()),
            "validation": int(validation_metrics.get("positives") or 0),
        },
        "train_metrics": train_metrics,
        "validation_metrics": validation_metrics,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    ModelBundle(pipeline=pipeline, metadata=metadata).save(Path(arguments.model_dir))
    if arguments.output_data_dir:
        output = Path(arguments.output_data_dir)
        output.mkdir(parents=True, exist_ok=True)
        report = {"train": train_metrics, "validation": validation_metrics, "rows": metadata["rows"]}
        (output / "metrics.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    for line in metrics.log_lines("train", train_metrics) + metrics.log_lines("validation", validation_metrics):
        print(line)
    print(f"train.py: trained on {len(train_frame)} rows in {metadata['iterations']} iterations", flush=True)
    return metadata


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    # The pipeline needs the named line even for a bug: any exception ends as TrainingScriptFailed, written
    # to the failure file too, whose text SageMaker makes the job's FailureReason.
    return run_job(
        lambda: train(*parse_arguments(arguments)),
        unexpected=TrainingScriptFailed,
        failure_file=lambda: Path(os.environ.get("SM_OUTPUT_DIR") or "/opt/ml/output") / "failure",
    )


if __name__ == "__main__":
    sys.exit(main())
