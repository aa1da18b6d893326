"""inference.py: the SKLearn serving contract on raw transactions, CSV and JSON, and client mistakes."""

from __future__ import annotations

import csv
import io
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import inference
import numpy as np
import pandas as pd
import pytest
from model_bundle import ModelBundle, ModelLoadError

from tests.support.jobs import DATASET, JOBS_DIR, TrainedModel, demo_data
from tests.support.polling import PROCESS_START_BOUND

RAW_COLUMNS = [column for column in DATASET["schema"] if column != "is_fraud"]


@pytest.fixture(scope="module")
def model(trained_model: TrainedModel) -> ModelBundle:
    return inference.model_fn(str(trained_model.model_dir))


@pytest.fixture(scope="module")
def raw_test_rows(processed_dir: Path) -> pd.DataFrame:
    """The raw landing rows of the test split, as a client would send them (text, no target)."""
    test = pd.read_parquet(processed_dir / "test")
    days = sorted({stamp.date() for stamp in pd.to_datetime(test["event_time"], utc=True)})
    raw = pd.concat([demo_data.generate_day(day, rows=600).frame() for day in days], ignore_index=True)
    raw = raw.drop_duplicates("transaction_id").set_index("transaction_id", drop=False)
    return raw.loc[test["transaction_id"].head(200).tolist()].reset_index(drop=True)


def invoke(model: ModelBundle, body: Any, content_type: str, accept: str = "application/json") -> tuple[str, str]:
    return inference.encode(inference.predict(inference.decode(body, content_type), model), accept)


def as_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [["" if value is None else value for value in row] for row in frame[RAW_COLUMNS].itertuples(index=False)]
    )
    return buffer.getvalue()


def test_serving_scores_raw_rows_exactly_as_evaluation_scored_their_features(
    model: ModelBundle, raw_test_rows: pd.DataFrame, processed_dir: Path
) -> None:
    body, content_type = invoke(model, as_csv(raw_test_rows).encode(), "text/csv")
    assert content_type == "application/json"
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == len(raw_test_rows)

    test = pd.read_parquet(processed_dir / "test").set_index("transaction_id")
    expected = model.score(test.loc[raw_test_rows["transaction_id"]].reset_index())
    served = np.array([item["score"] for item in predictions])
    np.testing.assert_allclose(served, expected, atol=1e-6)
    assert [item["label"] for item in predictions] == [int(score >= 0.5) for score in served]


def test_json_instances_and_csv_rows_get_the_same_predictions(model: ModelBundle, raw_test_rows: pd.DataFrame) -> None:
    rows = raw_test_rows.head(20)
    from_csv = json.loads(invoke(model, as_csv(rows), "text/csv; charset=utf-8")[0])
    records = [{k: v for k, v in record.items() if v is not None} for record in rows[RAW_COLUMNS].to_dict("records")]
    from_json = json.loads(invoke(model, json.dumps({"instances": records}), "application/json")[0])
    bare_list = json.loads(invoke(model, json.dumps(records).encode(), "application/json")[0])
    typed = [{**record, "amount": float(record["amount"]), "country_mismatch": record["country_mismatch"] == "true"}
             for record in records]  # fmt: skip
    from_typed = json.loads(invoke(model, json.dumps({"instances": typed}), "application/json")[0])
    assert from_csv == from_json == bare_list == from_typed

    body, content_type = invoke(model, as_csv(rows), "text/csv", accept="text/csv")
    assert content_type == "text/csv"
    lines = body.splitlines()
    assert len(lines) == 20
    assert [float(line.split(",")[0]) for line in lines] == [item["score"] for item in from_json["predictions"]]


def test_the_csv_column_order_comes_from_the_model_metadata(model: ModelBundle) -> None:
    assert model.raw_columns == RAW_COLUMNS
    row = "tx-1,2025-01-09T02:10:00Z,c000001,electronics,1450.00,220.5,400,pos_terminal,true\n"
    header = ",".join(RAW_COLUMNS) + "\n"
    assert invoke(model, header + row, "text/csv") == invoke(model, row, "text/csv")


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        ("tx-1,2025-01-09T02:10:00Z,c1,gas,20.0,1.0,40,mobile,false,0\n", "text/csv", None, 400,
         r"row 1 has 10 values; expected 9: transaction_id, event_time, .* \(without is_fraud, no header\)"),
        ("tx-1,2025-01-09T02:10:00Z,c1,gas,twenty,1.0,forty,mobile,false\n", "text/csv", None, 400,
         r"row 1 amount: 'twenty' is not a double; row 1 account_age_days: 'forty' is not a long"),
        ("tx-1,,c1,gas,20.0,1.0,40,mobile,false\n", "text/csv", None, 400,
         "rows 1 lack event_time, which the model's features need"),
        ("", "text/csv", None, 400, "the CSV body has no rows"),
        ('{"instances": [{"amout": 3, "event_time": "2025-01-09T02:10:00Z"}]}', "application/json", None, 400,
         "unknown columns amout; the model takes transaction_id, event_time"),
        ('{"instances": [', "application/json", None, 400, "the body is not valid JSON"),
        ('{"rows": []}', "application/json", None, 400, r'expected \{"instances"'),
        ('{"instances": []}', "application/json", None, 400, "the request has no instances"),
        ('{"instances": [{"event_time": {"nested": 1}}]}', "application/json", None, 400,
         r"row 1 event_time: \{'nested': 1\} is not a timestamp"),
        (b"\xff\xfe", "text/csv", None, 400, "not UTF-8"),
        ("<xml/>", "application/xml", None, 415, "content type 'application/xml' is not supported"),
        ("tx-1,2025-01-09T02:10:00Z,c1,gas,20.0,1.0,40,mobile,false\n", "text/csv", "text/html", 406,
         "accept type 'text/html' is not supported"),
    ],
)  # fmt: skip
def test_client_mistakes_are_bad_requests_that_say_what_is_wrong(
    model: ModelBundle, body: Any, content_type: str, accept: str | None, status: int, message: str
) -> None:
    with pytest.raises(inference.BadRequest, match=message) as caught:
        invoke(model, body, content_type, accept or "application/json")
    assert caught.value.status_code == status
    assert isinstance(caught.value, ValueError)


def test_a_missing_or_corrupt_model_is_refused_when_loaded(trained_model: TrainedModel, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"metadata\.json is missing"):
        inference.model_fn(str(tmp_path))
    (tmp_path / "metadata.json").write_text((trained_model.model_dir / "metadata.json").read_text())
    (tmp_path / "model.joblib").write_bytes(b"definitely not a pickle")
    with pytest.raises(ModelLoadError, match="could not be unpickled"):
        inference.model_fn(str(tmp_path))


def test_the_serving_functions_work_in_their_own_process(
    trained_model: TrainedModel, raw_test_rows: pd.DataFrame, tmp_path: Path
) -> None:
    """As the model server runs them: imported from the code folder, the model from /opt/ml/model."""
    import subprocess

    body = tmp_path / "body.csv"
    body.write_text(as_csv(raw_test_rows.head(5)))
    driver = textwrap.dedent(
        f"""
        import inference, sys
        model = inference.model_fn({str(trained_model.model_dir)!r})
        response, content_type = inference.transform_fn(
            model, open({str(body)!r}, "rb").read(), "text/csv", "application/json"
        )
        print(content_type)
        print(response)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=JOBS_DIR,
        capture_output=True,
        text=True,
        timeout=PROCESS_START_BOUND,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    content_type, response = result.stdout.strip().splitlines()
    assert content_type == "application/json"
    assert len(json.loads(response)["predictions"]) == 5


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status"),
    [
        ("tx-1,2025-01-09T02:10:00Z,c1,gas,twenty,1.0,forty,mobile,false\n", "text/csv", "application/json", 400),
        ("<xml/>", "application/xml", "application/json", 415),
        ("tx-1,2025-01-09T02:10:00Z,c1,gas,20.0,1.0,40,mobile,false\n", "text/csv", "text/html", 406),
    ],
)
def test_transform_fn_answers_a_callers_mistake_with_its_status(
    model: ModelBundle, body: str, content_type: str, accept: str, status: int
) -> None:
    # The container's Flask runs a returned WSGI application for its status (Flask.make_response); an
    # exception would be a 500 there whatever its status_code (sagemaker-containers _functions.error_wrapper).
    answer = inference.transform_fn(model, body.encode(), content_type, accept)
    started: list[Any] = []
    assert isinstance(answer, inference.ErrorResponse)
    payload = b"".join(answer({}, lambda status_line, headers: started.append((status_line, dict(headers)))))
    status_line, headers = started[0]
    assert int(status_line.split()[0]) == status
    assert headers["Content-Type"] == "application/json"
    assert json.loads(payload)["error"] in ("BadRequest", "UnsupportedMediaType", "NotAcceptable")


def test_transform_fn_lets_a_broken_model_fail(model: ModelBundle) -> None:
    class Broken:
        raw_columns, target, spec = model.raw_columns, model.target, model.spec

        def score(self, frame: pd.DataFrame) -> np.ndarray:
            raise RuntimeError("the model cannot score")

    row = b"tx-1,2025-01-09T02:10:00Z,c1,gas,20.0,1.0,40,mobile,false\n"
    with pytest.raises(RuntimeError, match="cannot score"):
        inference.transform_fn(Broken(), row, "text/csv", "application/json")  # type: ignore[arg-type]


def test_the_projects_inference_script_answers_caller_mistakes_with_4xx_and_model_faults_with_5xx(
    trained_model: TrainedModel,
) -> None:
    # As the local model server runs it, answering as the SageMaker scikit-learn 1.2-1 container does.
    from local.sagemaker.model_server import ModelService

    service = ModelService(str(trained_model.model_dir), str(JOBS_DIR), "inference.py")
    service.load()
    row = b"tx-1,2025-01-09T02:10:00Z,c1,gas,20.0,1.0,40,mobile,false\n"
    assert service.invoke(row, "text/csv", "")[0] == 200
    assert service.invoke(b"tx-1,2025-01-09T02:10:00Z,c1,gas,twenty,1,4,m,false\n", "text/csv", "")[0] == 400
    assert service.invoke(b"<xml/>", "application/xml", "")[0] == 415
    assert service.invoke(row, "text/csv", "text/html")[0] == 406
    service.model = None  # a model that cannot score: the model's fault
    assert service.invoke(row, "text/csv", "")[0] == 500
