"""train.py in SageMaker's script-mode layout: hyperparameters as arguments, channels and model dir in SM_*."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import train
from model_bundle import ModelBundle

from tests.support.jobs import HYPERPARAMETERS, TrainedModel, run_script, training_env


def test_training_writes_the_model_its_metadata_and_metrics(trained_model: TrainedModel, processed_dir: Path) -> None:
    bundle = ModelBundle.load(trained_model.model_dir)
    metadata = bundle.metadata
    assert metadata["target"] == "is_fraud"
    assert metadata["categorical_columns"] == ["merchant_category", "device_type"]
    assert metadata["raw_columns"][:2] == ["transaction_id", "event_time"] and "is_fraud" not in metadata["raw_columns"]
    assert metadata["hyperparameters"]["max_iter"] == 60
    assert metadata["hyperparameters"]["early_stopping"] == "false"
    assert metadata["hyperparameters"]["class_weight"] == "balanced"
    assert metadata["rows"]["train"] == len(pd.read_parquet(processed_dir / "train"))
    assert metadata["positives"]["train"] > 0
    assert metadata["sklearn_version"]
    validation = metadata["validation_metrics"]
    assert validation["rows"] == len(pd.read_parquet(processed_dir / "validation"))
    assert 0.7 < validation["roc_auc"] <= 1.0
    assert validation["average_precision"] > validation["positive_rate"]  # better than guessing

    metrics = json.loads((trained_model.output_data_dir / "metrics.json").read_text())
    assert metrics["validation"] == validation
    logged = dict(re.findall(r"^validation:(\w+)=([0-9.]+);$", trained_model.result.stdout, flags=re.MULTILINE))
    assert float(logged["roc_auc"]) == pytest.approx(validation["roc_auc"], abs=1e-6)
    assert set(logged) >= {"roc_auc", "average_precision", "log_loss", "f1"}


def test_a_missing_channel_fails_with_the_named_error_as_the_last_stderr_line(tmp_path: Path) -> None:
    env = training_env(tmp_path, tmp_path)
    del env["SM_CHANNEL_TRAIN"]
    result = run_script("train.py", HYPERPARAMETERS, {**env, "SM_CHANNEL_TRAIN": ""})
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("TrainingScriptFailed: no train channel: SM_CHANNEL_TRAIN is not set")


def copy_processed(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize(
    ("breakage", "extra_args", "message"),
    [
        ("empty_train", [], "the train channel .* has no rows"),
        ("no_target", [], "the train data lacks columns is_fraud"),
        ("no_spec", [], "has no _feature_spec.json; point the channel at the train/ folder"),
        ("", ["--learning_rate", "fast"], "hyperparameter learning_rate='fast' is not a valid float"),
        ("", ["--max_iter", "0"], "max_iter must be >= 1, got 0"),
        ("", ["--early_stopping", "sometimes"], "hyperparameter early_stopping='sometimes'"),
        ("", ["--target", "label"], "hyperparameter target='label' but the prepared data's target is 'is_fraud'"),
    ],
)
def test_bad_input_fails_with_a_message_that_says_how_to_fix_it(
    processed_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    breakage: str,
    extra_args: list[str],
    message: str,
) -> None:
    data = copy_processed(processed_dir, tmp_path / "data")
    train_dir = data / "train"
    if breakage == "empty_train":
        for path in train_dir.glob("*.parquet"):
            path.unlink()
    elif breakage == "no_target":
        frame = pd.read_parquet(train_dir / "part-00000.parquet")
        frame.drop(columns=["is_fraud"]).to_parquet(train_dir / "part-00000.parquet")
    elif breakage == "no_spec":
        (train_dir / "_feature_spec.json").unlink()
    for name, value in training_env(tmp_path / "opt" / "ml", data).items():
        monkeypatch.setenv(name, value)

    assert train.main([*HYPERPARAMETERS, *extra_args]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("TrainingScriptFailed: ")
    assert re.search(message, last), last
    # SageMaker's FailureReason is the failure file's text (the training toolkit only writes one when the
    # script did not: sagemaker-training 4.8.0 files.write_failure_file).
    assert (tmp_path / "opt" / "ml" / "output" / "failure").read_text(encoding="utf-8") == last + "\n"


def test_hyperparameters_arrive_json_encoded_as_sagemaker_sends_them() -> None:
    parsed, arguments = train.parse_arguments(
        [
            "--learning_rate", "0.05", "--max_iter", "200.0", "--early_stopping", "true",
            "--target", '"is_fraud"', "--class_weight", "none", "--sagemaker_program", '"train.py"',
            "--train", "/data/train",
        ]
    )  # fmt: skip
    assert parsed == train.Hyperparameters(
        learning_rate=0.05, max_iter=200, early_stopping="true", target="is_fraud", class_weight="none"
    )
    assert parsed.estimator_early_stopping() is True
    assert arguments.train == "/data/train"
    assert train.Hyperparameters().estimator_early_stopping() == "auto"
