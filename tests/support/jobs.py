"""Helpers of the tests of jobs/: the SageMaker layout, running a job file as its container would,
and data shaped like the Glue job's output.

jobs/ is not a package: its files run flat inside Glue and the SageMaker containers and import each
other by bare name, so importing this module puts the folder itself on sys.path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
JOBS_DIR = REPO_ROOT / "jobs"
if str(JOBS_DIR) not in sys.path:
    sys.path.insert(0, str(JOBS_DIR))

import demo_data  # noqa: E402
from features import FeatureSpec  # noqa: E402

DATASET: dict[str, Any] = {
    "target": "is_fraud",
    "timestamp_column": "event_time",
    "id_column": "transaction_id",
    "schema": dict(demo_data.SCHEMA),
    "exclude_columns": ["customer_id"],
    "log_columns": ["amount"],
    "validation_fraction": 0.15,
    "test_fraction": 0.15,
}
SCRIPT_TIMEOUT_SECONDS = 180


def run_script(
    script: str, args: Sequence[str], env: dict[str, str] | None = None, *, image: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a job file as its container would: `python <script> <args>` from the folder of the code; with
    `image` (a SageMaker image URI), on that image's isolated environment, as the local SageMaker runs it."""
    interpreter, environment = sys.executable, {**os.environ, **(env or {})}
    if image is not None:
        from local.sagemaker.images import ContainerRuntimes

        interpreter = ContainerRuntimes().interpreter(image)
        environment.pop("PYTHONPATH", None)  # the project's folders are not in the container
    return subprocess.run(
        [interpreter, str(JOBS_DIR / script), *args],
        cwd=JOBS_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )


def write_processed(
    folder: Path, start: date, days: int, rows_per_day: int, seed: int = demo_data.DEFAULT_SEED
) -> Path:
    """What prepare_data writes (train/, validation/, test/ with their feature spec), built with pandas
    from demo days, so that the SageMaker scripts can be tested without a Spark session."""
    import numpy as np
    import pandas as pd

    spec = FeatureSpec.from_dataset(DATASET)
    frames = [demo_data.generate_day(start + timedelta(days=n), seed, rows_per_day).frame() for n in range(days)]
    raw = pd.concat(frames, ignore_index=True)
    typed, invalid = spec.parse_pandas(raw)
    usable = ~np.logical_or.reduce([mask.to_numpy() for mask in invalid.values()])
    usable &= typed[spec.required_columns].notna().all(axis=1).to_numpy()
    usable &= typed[spec.target].isin([0.0, 1.0]).to_numpy()
    typed = typed[usable].drop_duplicates(spec.id_column).sort_values(spec.timestamp_column, kind="stable")
    typed[spec.target] = typed[spec.target].astype("int64")
    featured = spec.add_pandas_features(typed).reset_index(drop=True)
    n = len(featured)
    test_start = int(n * (1 - DATASET["test_fraction"]))
    validation_start = int(n * (1 - DATASET["test_fraction"] - DATASET["validation_fraction"]))
    parts = {
        "train": featured.iloc[:validation_start],
        "validation": featured.iloc[validation_start:test_start],
        "test": featured.iloc[test_start:],
    }
    for split, part in parts.items():
        columns = [*spec.feature_columns, spec.target]
        if split == "test":
            columns = [spec.id_column, spec.timestamp_column, *columns]
        target = folder / split
        target.mkdir(parents=True, exist_ok=True)
        part[columns].to_parquet(target / "part-00000.parquet", index=False)
        (target / "_feature_spec.json").write_text(json.dumps(spec.to_dict()))
    return folder


@dataclass(frozen=True)
class TrainedModel:
    """A training run in SageMaker's layout: the model folder and the model.tar.gz SageMaker makes of it."""

    model_dir: Path
    archive: Path
    output_data_dir: Path
    result: subprocess.CompletedProcess[str]


def training_env(root: Path, processed: Path) -> dict[str, str]:
    """SageMaker's environment contract for script mode, mapped to folders under `root`."""
    model_dir, output_dir = root / "model", root / "output" / "data"
    model_dir.mkdir(parents=True, exist_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    return {
        "SM_CHANNEL_TRAIN": str(processed / "train"),
        "SM_CHANNEL_VALIDATION": str(processed / "validation"),
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(output_dir),
        "SM_OUTPUT_DIR": str(output_dir.parent),
    }


def pack_model(model_dir: Path, archive: Path) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


HYPERPARAMETERS = [
    "--learning_rate", "0.1", "--max_iter", "60", "--max_leaf_nodes", "15", "--min_samples_leaf", "20",
    "--l2_regularization", "0.0", "--early_stopping", "false", "--random_state", "42", "--target", '"is_fraud"',
]  # fmt: skip
