"""evaluate.py in SageMaker's processing layout: candidate and champion on the same test split."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import boto3
import evaluate
import pandas as pd
import pytest
import train
from moto import mock_aws

from tests.support.jobs import (
    HYPERPARAMETERS,
    TrainedModel,
    demo_data,
    pack_model,
    run_script,
    training_env,
    write_processed,
)
from tests.support.sagemaker import IMAGE


def processing_layout(root: Path, archive: Path, test_dir: Path) -> dict[str, Path]:
    """/opt/ml/processing/{input/model,input/test,input/train,output/evaluation} under `root`."""
    base = root / "opt" / "ml" / "processing"
    model_dir, test_copy, output = base / "input" / "model", base / "input" / "test", base / "output" / "evaluation"
    model_dir.mkdir(parents=True)
    shutil.copy(archive, model_dir / "model.tar.gz")
    shutil.copytree(test_dir, test_copy)
    shutil.copytree(test_dir.with_name("train"), base / "input" / "train")
    return {"model": model_dir, "test": test_copy, "train": base / "input" / "train", "output": output}


def processing_args(layout: dict[str, Path], champion: str) -> list[str]:
    return [
        "--model-dir", str(layout["model"]), "--test-dir", str(layout["test"]), "--train-dir", str(layout["train"]),
        "--output-dir", str(layout["output"]), "--champion-model-uri", champion,
    ]  # fmt: skip


def test_a_first_model_is_evaluated_without_a_champion(
    trained_in_image: TrainedModel, processed_dir: Path, tmp_path: Path
) -> None:
    layout = processing_layout(tmp_path, trained_in_image.archive, processed_dir / "test")
    # In the isolated environment of the image it runs in on AWS (scikit-learn 1.2.1, no matplotlib).
    result = run_script("evaluate.py", processing_args(layout, "none"), image=IMAGE)
    assert result.returncode == 0, result.stderr

    evaluation = json.loads((layout["output"] / "evaluation.json").read_text())
    test = pd.read_parquet(processed_dir / "test")
    assert evaluation["champion"] is None and evaluation["champion_model_uri"] is None
    assert evaluation["test_rows"] == len(test) == evaluation["candidate"]["rows"]
    assert evaluation["test_positives"] == int(test["is_fraud"].sum())
    candidate = evaluation["candidate"]
    for metric in ("roc_auc", "average_precision", "log_loss", "brier", "precision", "recall", "f1"):
        assert isinstance(candidate[metric], float), metric
    assert candidate["roc_auc"] > 0.7
    stamps = pd.to_datetime(test["event_time"], utc=True)
    assert evaluation["test_window"]["start"] == stamps.min().isoformat().replace("+00:00", "Z")
    assert evaluation["test_window"]["end"] == stamps.max().isoformat().replace("+00:00", "Z")
    assert evaluation["model"]["feature_columns"][-1] == "log_amount"
    assert evaluation["model"]["hyperparameters"]["max_iter"] == 60

    # The candidate's baseline: one feature per request column, over the training split.
    statistics = json.loads((layout["output"] / evaluation["baseline"]["statistics"]).read_text())
    constraints = json.loads((layout["output"] / evaluation["baseline"]["constraints"]).read_text())
    model = evaluation["model"]
    inputs = [column for column in model["feature_columns"] if column in model["raw_columns"]]
    assert [feature["name"] for feature in statistics["features"]] == inputs
    assert [feature["name"] for feature in constraints["features"]] == inputs
    assert "transaction_id" not in inputs and "event_time" not in inputs
    assert statistics["dataset"]["item_count"] == len(pd.read_parquet(processed_dir / "train"))

    plots = evaluation["report"]["plots"]
    assert set(plots) == {"roc", "precision_recall", "calibration"}
    page = (layout["output"] / evaluation["report"]["html"]).read_text()
    for name in plots.values():
        content = (layout["output"] / name).read_text()
        assert content.startswith("<svg ") and content.count("<polyline ") >= 2 and content.rstrip().endswith("</svg>")
        assert f'src="{name}"' in page


@mock_aws
def test_the_champion_is_fetched_from_s3_and_scored_on_the_same_rows(
    trained_model: TrainedModel, processed_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # An older champion: trained on the weeks before the candidate's data.
    older = write_processed(tmp_path / "older", demo_data.DEFAULT_START - timedelta(days=40), days=10, rows_per_day=500)
    for name, value in training_env(tmp_path / "champion-training", older).items():
        monkeypatch.setenv(name, value)
    assert train.main(HYPERPARAMETERS) == 0
    archive = pack_model(tmp_path / "champion-training" / "model", tmp_path / "champion.tar.gz")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(archive), "models", "runs/old/output/model.tar.gz")

    layout = processing_layout(tmp_path / "job", trained_model.archive, processed_dir / "test")
    assert evaluate.main(processing_args(layout, "s3://models/runs/old/output/model.tar.gz")) == 0

    evaluation = json.loads((layout["output"] / "evaluation.json").read_text())
    assert evaluation["champion_model_uri"] == "s3://models/runs/old/output/model.tar.gz"
    champion, candidate = evaluation["champion"], evaluation["candidate"]
    assert champion["rows"] == candidate["rows"] == evaluation["test_rows"]
    assert champion["positives"] == candidate["positives"]
    assert champion["average_precision"] != candidate["average_precision"]
    assert evaluation["champion_model"]["trained_at"]
    page = (layout["output"] / "report.html").read_text()
    assert "s3://models/runs/old/output/model.tar.gz" in page and "<td>average_precision</td>" in page


@mock_aws
def test_a_champion_that_is_not_there_fails_the_evaluation_by_name(
    trained_model: TrainedModel,
    processed_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="models")
    layout = processing_layout(tmp_path, trained_model.archive, processed_dir / "test")
    assert evaluate.main(processing_args(layout, "s3://models/missing/model.tar.gz")) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("EvaluationFailed: the champion model s3://models/missing/model.tar.gz cannot be downloaded")
    # SageMaker keeps no stderr of a processing job: its failure text is /opt/ml/output/message (ExitMessage),
    # https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-metadata.html
    message_file = tmp_path / "opt" / "ml" / "output" / "message"
    assert message_file.read_text(encoding="utf-8") == last + "\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a tar archive", "the candidate model cannot be loaded: .* is not a readable tar.gz archive"),
        (None, "the candidate model cannot be loaded: .*model.joblib could not be unpickled"),
    ],
)
def test_a_corrupt_candidate_fails_the_evaluation_by_name(
    trained_model: TrainedModel,
    processed_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    message: str,
) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(trained_model.model_dir, broken)
    (broken / "model.joblib").write_bytes(b"\x80\x04garbage")
    archive = tmp_path / "model.tar.gz"
    if content is None:
        pack_model(broken, archive)
    else:
        archive.write_bytes(content)
    layout = processing_layout(tmp_path / "job", archive, processed_dir / "test")

    assert evaluate.main(processing_args(layout, "none")) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("EvaluationFailed: ")
    assert re.search(message, last), last
    assert not (layout["output"] / "evaluation.json").exists()
