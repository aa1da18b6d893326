"""Fixtures of the tests of jobs/ (helpers live in tests/support/jobs.py, which puts jobs/ on sys.path
for the test modules' bare imports of the job files)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.jobs import (
    DATASET,
    HYPERPARAMETERS,
    TrainedModel,
    demo_data,
    pack_model,
    run_script,
    training_env,
    write_processed,
)
from tests.support.sagemaker import IMAGE
from tests.support.spark import local_spark


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark for the whole session: starting a JVM costs seconds."""
    yield from local_spark("jobs-unit-tests")


@pytest.fixture(scope="session")
def dataset() -> dict[str, Any]:
    return json.loads(json.dumps(DATASET))


@pytest.fixture(scope="session")
def processed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_processed(tmp_path_factory.mktemp("processed"), demo_data.DEFAULT_START, days=12, rows_per_day=600)


def _train(root: Path, processed_dir: Path, image: str | None) -> TrainedModel:
    env = training_env(root / "opt" / "ml", processed_dir)
    result = run_script("train.py", HYPERPARAMETERS, env, image=image)
    assert result.returncode == 0, result.stderr
    model_dir = Path(env["SM_MODEL_DIR"])
    return TrainedModel(
        model_dir=model_dir,
        archive=pack_model(model_dir, root / "artifact" / "model.tar.gz"),
        output_data_dir=Path(env["SM_OUTPUT_DATA_DIR"]),
        result=result,
    )


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, processed_dir: Path) -> TrainedModel:
    """Trained on this machine's scikit-learn, for the tests that load it in this process."""
    return _train(tmp_path_factory.mktemp("training"), processed_dir, None)


@pytest.fixture(scope="session")
def trained_in_image(tmp_path_factory: pytest.TempPathFactory, processed_dir: Path) -> TrainedModel:
    """Trained in the SageMaker image's isolated environment, for the scripts run there (a model file does
    not cross scikit-learn versions)."""
    return _train(tmp_path_factory.mktemp("training-image"), processed_dir, IMAGE)
