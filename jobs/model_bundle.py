"""The saved model: a fitted scikit-learn pipeline plus `metadata.json`, as training writes it and
evaluation and serving read it.

SageMaker packs the training job's model directory into `model.tar.gz`; serving unpacks it to
/opt/ml/model; evaluation receives the archive itself. The pipeline holds only scikit-learn objects,
so unpickling needs no code of this project; the derived features are computed by features.py
before the pipeline sees a row.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from features import FeatureSpec, FeatureSpecError

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
ARCHIVE_FILE = "model.tar.gz"
FORMAT_VERSION = 1


class ModelLoadError(Exception):
    """A model directory or archive that is missing, corrupt or not of this format."""


@dataclass
class ModelBundle:
    pipeline: Any
    metadata: dict[str, Any]

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec.from_dataset(self.metadata)

    @property
    def feature_columns(self) -> list[str]:
        return list(self.metadata["feature_columns"])

    @property
    def raw_columns(self) -> list[str]:
        return list(self.metadata["raw_columns"])

    @property
    def target(self) -> str:
        return str(self.metadata["target"])

    @property
    def threshold(self) -> float:
        return float(self.metadata.get("threshold", 0.5))

    def save(self, directory: Path) -> None:
        import joblib

        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.pipeline, directory / MODEL_FILE)
        (directory / METADATA_FILE).write_text(json.dumps(self.metadata, indent=2, allow_nan=False) + "\n")

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        import joblib

        metadata_path, model_path = directory / METADATA_FILE, directory / MODEL_FILE
        for path in (metadata_path, model_path):
            if not path.is_file():
                raise ModelLoadError(f"{path.name} is missing from the model in {directory}")
        try:
            metadata = json.loads(metadata_path.read_text())
        except ValueError as error:
            raise ModelLoadError(f"{metadata_path} is not JSON: {error}") from None
        required = ("feature_columns", "raw_columns", "target", "timestamp_column", "id_column", "schema")
        missing = [key for key in required if key not in metadata]
        if missing:
            raise ModelLoadError(f"{metadata_path} lacks {', '.join(missing)}: not a model of this pipeline")
        try:
            pipeline = joblib.load(model_path)
        except Exception as error:  # unpickling reports corruption through many exception types
            raise ModelLoadError(f"{model_path} could not be unpickled ({type(error).__name__}: {error})") from None
        if not hasattr(pipeline, "predict_proba"):
            raise ModelLoadError(f"{model_path} holds a {type(pipeline).__name__}, not a classifier")
        bundle = cls(pipeline=pipeline, metadata=metadata)
        try:
            spec = bundle.spec
        except FeatureSpecError as error:
            raise ModelLoadError(f"{metadata_path}: {error}") from None
        computable = set(spec.schema) | {feature.name for feature in spec.derived}
        unknown = [column for column in bundle.feature_columns if column not in computable]
        if unknown:
            raise ModelLoadError(
                f"{metadata_path} names features this code cannot compute: {', '.join(unknown)}; "
                f"serve the model with the code version it was trained with"
            )
        return bundle

    @classmethod
    def load_archive(cls, archive: Path, into: Path) -> ModelBundle:
        """Unpack a SageMaker `model.tar.gz` into `into` and load it."""
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member, archive)
                tar.extractall(into, members=members)  # every member was checked above  # nosec B202
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ModelLoadError(f"{archive} is not a readable tar.gz archive ({error})") from None
        return cls.load(into)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class for rows that hold the model's feature columns."""
        matrix = self.spec.model_matrix(frame, self.feature_columns)
        return np.asarray(self.pipeline.predict_proba(matrix)[:, 1], dtype=float)

    def summary(self, keys: Sequence[str] = ()) -> dict[str, Any]:
        chosen = keys or (
            "target",
            "feature_columns",
            "raw_columns",
            "categorical_columns",
            "hyperparameters",
            "sklearn_version",
            "rows",
            "validation_metrics",
            "trained_at",
        )
        return {key: self.metadata.get(key) for key in chosen}


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """No absolute paths, parent references or links: an archive may only fill its own folder."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
        raise ModelLoadError(f"{archive} holds an unsafe entry {member.name!r}; rebuild the model archive")
