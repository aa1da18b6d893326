"""Fixtures of the tests of jobs/ (helpers live in tests/support/jobs.py, which puts jobs/ on sys.path
for the test modules' bare imports of the job files)."""

from __future__ import annotations

import json
import os
import sys
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


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark for the whole session: starting a JVM costs seconds."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("jobs-unit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        # Tiny data, short session: a JVM that compiles less warms up in a third of the time.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.codegen.wholeStage", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


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
