"""SageMaker processing entry point: score the candidate and the champion on the same test split.

  --model-dir            folder holding the candidate's model.tar.gz (default /opt/ml/processing/input/model)
  --test-dir             the test/ Parquet folder written by prepare_data.py (default .../input/test)
  --train-dir            the train/ Parquet folder, for the model's data-quality baseline (default .../input/train)
  --output-dir           where evaluation.json and the report go (default .../output/evaluation)
  --champion-model-uri   s3:// URI of the champion's model.tar.gz, or `none` for a first model

Writes `evaluation.json` ({"candidate", "champion" (or null), "test_rows", "test_window", "model", ...}),
the candidate's data-quality baseline (`baseline/statistics.json` and `baseline/constraints.json`, Model
Monitor's formats, of the request columns the model reads, over its training data: `baseline.py`),
SVG plots (ROC, precision-recall, calibration; both models on each, drawn by `report_plots.py`: the
SageMaker scikit-learn image has no matplotlib) and `report.html` linking them.
The champion is fetched with boto3 and the ordinary credential chain and endpoint settings of the
container. Any failure ends with `EvaluationFailed: <what and how to fix>` as the last line on stderr
(`failure_line.py`).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from baseline import write_baseline
from failure_line import JobFailure, processing_message_file, run_job
from model_bundle import ARCHIVE_FILE, MODEL_FILE, ModelBundle, ModelLoadError
from report_plots import Chart, Series
from scoring import BinaryClassificationMetrics

NO_CHAMPION = "none"
EVALUATION_FILE = "evaluation.json"
REPORT_FILE = "report.html"
BASELINE_DIR = "baseline"
PLOTS = {"roc": "roc.svg", "precision_recall": "precision_recall.svg", "calibration": "calibration.svg"}
REPORTED_METRICS = ("average_precision", "roc_auc", "log_loss", "brier", "precision", "recall", "f1")


class EvaluationFailed(JobFailure):
    """The evaluation cannot be completed; the message says what is wrong and how to fix it."""


# --- inputs ---------------------------------------------------------------------------------------


def load_candidate(model_dir: Path, work: Path) -> ModelBundle:
    archive = model_dir / ARCHIVE_FILE
    try:
        if archive.is_file():
            return ModelBundle.load_archive(archive, work / "candidate")
        if (model_dir / MODEL_FILE).is_file():  # an already unpacked model directory
            return ModelBundle.load(model_dir)
    except ModelLoadError as error:
        raise EvaluationFailed(f"the candidate model cannot be loaded: {error}; retrain it") from None
    raise EvaluationFailed(
        f"no {ARCHIVE_FILE} in {model_dir}; the processing input 'model' must be the training job's model artifact"
    )


def load_champion(uri: str, work: Path) -> ModelBundle | None:
    if uri.strip().lower() in (NO_CHAMPION, ""):
        return None
    if not uri.startswith("s3://") or "/" not in uri[len("s3://") :]:
        raise EvaluationFailed(f"--champion-model-uri must be s3://bucket/key or {NO_CHAMPION}, got {uri!r}")
    bucket, key = uri[len("s3://") :].split("/", 1)
    archive = work / "champion.tar.gz"
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            boto3.client("s3").download_file(bucket, key, str(archive))
        except (BotoCoreError, ClientError) as error:
            raise EvaluationFailed(
                f"the champion model {uri} cannot be downloaded ({error}); check that it exists and that the "
                f"processing role may read it"
            ) from None
        return ModelBundle.load_archive(archive, work / "champion")
    except ModelLoadError as error:
        raise EvaluationFailed(f"the champion model {uri} cannot be loaded: {error}") from None


def read_split(directory: Path, split: str) -> pd.DataFrame:
    if not directory.is_dir():
        raise EvaluationFailed(
            f"the {split} folder {directory} does not exist; the processing input '{split}' is missing"
        )
    files = sorted(
        path
        for path in directory.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in path.relative_to(directory).parts)
    )
    if not files:
        raise EvaluationFailed(f"no Parquet files in {directory}; it should be the {split}/ output of prepare_data")
    try:
        frame = pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    except Exception as error:  # pyarrow reports unreadable files through several exception types
        raise EvaluationFailed(f"the {split} data in {directory} is unreadable ({error})") from None
    if frame.empty:
        raise EvaluationFailed(f"the {split} data in {directory} has no rows; check the prepare_data quality.json")
    return frame


def write_candidate_baseline(candidate: ModelBundle, train: pd.DataFrame, output: Path) -> dict[str, str]:
    """The baseline of the request columns the model reads (not the id, timestamp or excluded ones, which
    change by nature), over the candidate's training data, under output/baseline/."""
    columns = candidate.spec.raw_feature_columns
    missing = [column for column in columns if column not in train.columns]
    if missing:
        raise EvaluationFailed(
            f"the train data lacks input columns of the candidate: {', '.join(missing)}; rerun prepare_data"
        )
    files = write_baseline(train, columns, output / BASELINE_DIR)
    return {kind: f"{BASELINE_DIR}/{name}" for kind, name in files.items()}


# --- scoring --------------------------------------------------------------------------------------


def score(bundle: ModelBundle, test: pd.DataFrame, role: str) -> np.ndarray:
    missing = [column for column in bundle.feature_columns if column not in test.columns]
    if missing:
        raise EvaluationFailed(
            f"the {role} needs columns the test data lacks: {', '.join(missing)}; the {role} was trained with "
            f"other features, so it cannot be compared on this split"
        )
    try:
        return bundle.score(test)
    except Exception as error:  # a model that loads but cannot predict is as unusable as a corrupt one
        raise EvaluationFailed(f"the {role} failed to score the test data ({type(error).__name__}: {error})") from None


def test_labels(test: pd.DataFrame, target: str) -> np.ndarray:
    if target not in test.columns:
        raise EvaluationFailed(f"the test data lacks the target column {target}")
    values = pd.to_numeric(test[target], errors="coerce")
    if not values.isin([0, 1]).all():
        raise EvaluationFailed(f"the test target {target} holds values other than 0 and 1; rerun prepare_data")
    labels = values.to_numpy(dtype=int)
    if labels.sum() in (0, labels.size):
        raise EvaluationFailed(
            f"the test split has only {target}={labels[0]} rows; ranking metrics need both classes - "
            f"widen training_window_days or raise test_fraction"
        )
    return labels


def test_window(test: pd.DataFrame, timestamp_column: str) -> dict[str, str | None]:
    if timestamp_column not in test.columns:
        return {"start": None, "end": None}
    stamps = pd.to_datetime(test[timestamp_column], utc=True, errors="coerce").dropna()
    if stamps.empty:
        return {"start": None, "end": None}
    return {"start": _iso(stamps.min()), "end": _iso(stamps.max())}


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.isoformat().replace("+00:00", "Z")


# --- the report -----------------------------------------------------------------------------------


class EvaluationReport:
    """Plots of both models on the same axes, and a small HTML page that links them."""

    def __init__(self, output: Path, labels: np.ndarray, scores: dict[str, np.ndarray]) -> None:
        self.output = output
        self.labels = labels
        self.scores = scores  # "candidate" first, then "champion" when there is one

    def write_plots(self) -> dict[str, str]:
        from sklearn.calibration import calibration_curve
        from sklearn.metrics import precision_recall_curve, roc_curve

        charts = {
            "roc": Chart("ROC", "false positive rate", "true positive rate"),
            "precision_recall": Chart("Precision-recall", "recall", "precision"),
            "calibration": Chart("Calibration", "mean predicted probability", "observed positive rate"),
        }
        for role, scores in self.scores.items():
            fpr, tpr, _ = roc_curve(self.labels, scores)
            charts["roc"].add(Series(role, fpr.tolist(), tpr.tolist()))
            precision, recall, _ = precision_recall_curve(self.labels, scores)
            charts["precision_recall"].add(Series(role, recall.tolist(), precision.tolist()))
            observed, predicted = calibration_curve(self.labels, scores, n_bins=10, strategy="uniform")
            charts["calibration"].add(Series(role, predicted.tolist(), observed.tolist(), markers=True))
        rate = float(self.labels.mean())
        charts["roc"].add(Series("chance", [0, 1], [0, 1], dashed=True))
        charts["precision_recall"].add(Series(f"base rate {rate:.3f}", [0, 1], [rate, rate], dashed=True))
        charts["calibration"].add(Series("perfectly calibrated", [0, 1], [0, 1], dashed=True))
        written = {}
        for kind, chart in charts.items():
            (self.output / PLOTS[kind]).write_text(chart.svg(), encoding="utf-8")
            written[kind] = PLOTS[kind]
        return written

    def write_html(self, evaluation: dict[str, Any], plots: dict[str, str]) -> str:
        candidate, champion = evaluation["candidate"], evaluation["champion"]
        rows = []
        for metric in REPORTED_METRICS:
            new = candidate.get(metric)
            old = champion.get(metric) if champion else None
            delta = f"{new - old:+.4f}" if new is not None and old is not None else ""
            rows.append(f"<tr><td>{metric}</td><td>{_number(new)}</td><td>{_number(old)}</td><td>{delta}</td></tr>")
        window = evaluation["test_window"]
        images = "\n".join(
            f'<figure><a href="{html.escape(name)}"><img src="{html.escape(name)}" alt="{kind}" width="440"></a>'
            f"<figcaption>{html.escape(kind.replace('_', '-'))}</figcaption></figure>"
            for kind, name in plots.items()
        )
        champion_note = (
            html.escape(str(evaluation.get("champion_model_uri"))) if champion else "none: this is the first model"
        )
        table_rows = "".join(rows)
        test_rows, test_positives = evaluation["test_rows"], evaluation["test_positives"]
        start, end = html.escape(str(window["start"])), html.escape(str(window["end"]))
        threshold = candidate.get("threshold")
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Candidate vs champion</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}td:first-child{{text-align:left}}
figure{{display:inline-block;margin:0 1em 1em 0}}</style></head><body>
<h1>Candidate vs champion</h1>
<p>Test split: {test_rows} rows, {test_positives} positives, {start} to {end}.
Decisions at threshold {threshold}. Champion: {champion_note}.</p>
<table><tr><th>metric</th><th>candidate</th><th>champion</th><th>difference</th></tr>
{table_rows}
</table>
<h2>Plots</h2>
{images}
<p><a href="{EVALUATION_FILE}">{EVALUATION_FILE}</a></p>
</body></html>
"""
        (self.output / REPORT_FILE).write_text(page, encoding="utf-8")
        return REPORT_FILE


def _number(value: Any) -> str:
    return "" if value is None else f"{value:.4f}"


# --- the job --------------------------------------------------------------------------------------


def evaluate(arguments: argparse.Namespace) -> dict[str, Any]:
    output = Path(arguments.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evaluate-") as scratch:
        work = Path(scratch)
        candidate = load_candidate(Path(arguments.model_dir), work)
        champion = load_champion(arguments.champion_model_uri, work)
        test = read_split(Path(arguments.test_dir), "test")
        train = read_split(Path(arguments.train_dir), "train")
        labels = test_labels(test, candidate.target)
        scores = {"candidate": score(candidate, test, "candidate")}
        if champion is not None:
            if champion.target != candidate.target:
                raise EvaluationFailed(
                    f"the champion predicts {champion.target}, the candidate {candidate.target}: not comparable"
                )
            scores["champion"] = score(champion, test, "champion")

    metrics = BinaryClassificationMetrics(candidate.threshold)
    evaluation: dict[str, Any] = {
        "candidate": metrics.compute(labels, scores["candidate"]),
        "champion": metrics.compute(labels, scores["champion"]) if champion is not None else None,
        "test_rows": int(labels.size),
        "test_positives": int(labels.sum()),
        "test_window": test_window(test, candidate.metadata["timestamp_column"]),
        "model": candidate.summary(),
        "champion_model": champion.summary(("trained_at", "sklearn_version", "hyperparameters")) if champion else None,
        "champion_model_uri": None if champion is None else arguments.champion_model_uri,
        "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    evaluation["baseline"] = write_candidate_baseline(candidate, train, output)
    report = EvaluationReport(output, labels, scores)
    plots = report.write_plots()
    evaluation["report"] = {"html": report.write_html(evaluation, plots), "plots": plots}
    (output / EVALUATION_FILE).write_text(json.dumps(evaluation, indent=2, allow_nan=False) + "\n")
    for role in ("candidate", "champion"):
        if evaluation[role]:
            print(" ".join(f"{role}:{k}={evaluation[role][k]}" for k in REPORTED_METRICS), flush=True)
    return evaluation


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="evaluate.py", description="Compare the candidate with the champion.")
    parser.add_argument("--model-dir", "--model_dir", dest="model_dir", default="/opt/ml/processing/input/model")
    parser.add_argument("--test-dir", "--test_dir", dest="test_dir", default="/opt/ml/processing/input/test")
    parser.add_argument("--train-dir", "--train_dir", dest="train_dir", default="/opt/ml/processing/input/train")
    parser.add_argument(
        "--output-dir", "--output_dir", dest="output_dir", default="/opt/ml/processing/output/evaluation"
    )
    parser.add_argument("--champion-model-uri", "--champion_model_uri", dest="champion_model_uri", default=NO_CHAMPION)
    try:
        return parser.parse_args(list(argv))
    except SystemExit:
        raise EvaluationFailed(f"unusable arguments {' '.join(argv)}; see the usage line above") from None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    parsed: list[argparse.Namespace] = []

    def job() -> None:
        parsed.append(parse_arguments(arguments))
        evaluate(parsed[0])

    # The pipeline needs the named line even for a bug: any exception ends as EvaluationFailed, written
    # to /opt/ml/output/message too, the only failure text SageMaker keeps of a processing job (ExitMessage).
    return run_job(
        job,
        unexpected=EvaluationFailed,
        failure_file=lambda: processing_message_file(parsed[0].output_dir if parsed else None),
    )


if __name__ == "__main__":
    sys.exit(main())
