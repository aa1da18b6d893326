"""SageMaker scikit-learn serving entry point: model_fn and transform_fn.

Requests carry raw transactions, never features: the derived features are computed here by
features.py, the same code that prepared the training data.

  text/csv          one transaction a line, no header, the raw columns in the order of `raw_columns`
                    in the model's metadata.json (the dataset schema without the target)
  application/json  {"instances": [{column: value, ...}, ...]} or a bare list of such objects
                    (a list of value lists in the CSV column order is accepted too)

Responses: application/json (default) {"predictions": [{"score": p, "label": 0|1}, ...]}, or text/csv
with one `score,label` line per transaction.

Client mistakes are `BadRequest` (a ValueError) or a subclass with its HTTP `status_code` (400 bad
payload, 415 unsupported content type, 406 unsupported accept type); the message names the row, the
column and what was expected. They must reach the caller as that 4xx: a 5xx counts in the endpoint's
Invocation5XXErrors, which the rollback alarm watches, so bad callers could roll back a good model.
The container answers 500 for any exception a script's function raises, whatever its type or
attributes (sagemaker-containers 2.8.6.post2 `_functions.error_wrapper` re-raises it as ClientError,
which `_transformer.py` does not catch; only its own decoder's UnsupportedFormatError becomes 415/406).
So `transform_fn` catches `BadRequest` and *returns* the answer, as an `ErrorResponse`: a WSGI
application, which Flask (the container's server) runs for the status it sets (`Flask.make_response`
-> `Response.force_type`). Any other exception is the model's fault and stays a 500. The steps are
`decode`, `predict` and `encode`, not `input_fn`/`predict_fn`/`output_fn`: the container refuses a
script that defines those beside `transform_fn` (sagemaker_sklearn_container/serving.py).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model_bundle import ModelBundle

JSON = "application/json"
CSV = "text/csv"
MAX_ERRORS_SHOWN = 5


class BadRequest(ValueError):
    """The request cannot be served as sent; the client must change it."""

    status_code = 400


class UnsupportedMediaType(BadRequest):
    status_code = 415


class NotAcceptable(BadRequest):
    status_code = 406


class ErrorResponse:
    """A caller's mistake as a WSGI application: its status code and a JSON body naming it."""

    def __init__(self, mistake: BadRequest) -> None:
        self.status = mistake.status_code
        self.body = json.dumps({"error": type(mistake).__name__, "error-message": str(mistake)}).encode("utf-8")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = [("Content-Type", JSON), ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {HTTPStatus(self.status).phrase}", headers)
        return [self.body]


@dataclass(frozen=True)
class Transactions:
    """A decoded request: records keyed by column, or value lists in the CSV column order."""

    records: list[dict[str, Any]] | None = None
    rows: list[list[Any]] | None = None

    def __len__(self) -> int:
        return len(self.records if self.records is not None else self.rows or [])


def _media_type(value: str | None, default: str) -> str:
    return (value or default).split(";")[0].strip().lower()


def model_fn(model_dir: str) -> ModelBundle:
    return ModelBundle.load(Path(model_dir))


def transform_fn(
    model: ModelBundle, request_body: Any, request_content_type: str | None, accept: str | None
) -> tuple[str, str] | ErrorResponse:
    """The container's one call per request: the response and its content type, or the caller's mistake."""
    try:
        return encode(predict(decode(request_body, request_content_type), model), accept)
    except BadRequest as mistake:
        return ErrorResponse(mistake)


def decode(request_body: Any, request_content_type: str | None) -> Transactions:
    media_type = _media_type(request_content_type, JSON)
    if isinstance(request_body, (bytes, bytearray)):
        try:
            text = bytes(request_body).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the request body is not UTF-8 text") from None
    else:
        text = str(request_body)
    if media_type == CSV:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
        if not rows:
            raise BadRequest("the CSV body has no rows; send one transaction per line, without a header")
        return Transactions(rows=rows)
    if media_type == JSON:
        try:
            document = json.loads(text)
        except ValueError as error:
            raise BadRequest(f"the body is not valid JSON ({error})") from None
        instances = document.get("instances") if isinstance(document, dict) else document
        if not isinstance(instances, list):
            raise BadRequest('expected {"instances": [{column: value, ...}, ...]} or a list of such objects')
        if not instances:
            raise BadRequest("the request has no instances")
        if all(isinstance(item, dict) for item in instances):
            return Transactions(records=instances)
        if all(isinstance(item, list) for item in instances):
            return Transactions(rows=instances)
        raise BadRequest("every instance must be an object {column: value} (or every one a list of values)")
    raise UnsupportedMediaType(f"content type {media_type!r} is not supported; send {CSV} or {JSON}")


def predict(input_data: Transactions, model: ModelBundle) -> list[dict[str, Any]]:
    frame = _to_frame(input_data, model)
    spec = model.spec
    typed, invalid = spec.parse_pandas(frame)
    problems = []
    for column, mask in invalid.items():
        for row in np.flatnonzero(mask.to_numpy()):
            value = frame[column].iloc[row]
            problems.append(f"row {row + 1} {column}: {value!r} is not a {spec.schema[column]}")
    if problems:
        shown = "; ".join(problems[:MAX_ERRORS_SHOWN])
        more = f" (and {len(problems) - MAX_ERRORS_SHOWN} more)" if len(problems) > MAX_ERRORS_SHOWN else ""
        raise BadRequest(f"{shown}{more}")
    missing_time = np.flatnonzero(typed[spec.timestamp_column].isna().to_numpy())
    if missing_time.size:
        rows = ", ".join(str(row + 1) for row in missing_time[:MAX_ERRORS_SHOWN])
        raise BadRequest(f"rows {rows} lack {spec.timestamp_column}, which the model's features need")
    scores = model.score(spec.add_pandas_features(typed))
    threshold = model.threshold
    return [{"score": round(float(score), 6), "label": int(score >= threshold)} for score in scores]


def _to_frame(input_data: Transactions, model: ModelBundle) -> pd.DataFrame:
    columns = model.raw_columns
    if input_data.records is not None:
        allowed = set(columns) | {model.target}
        unknown = sorted({key for record in input_data.records for key in record} - allowed)
        if unknown:
            raise BadRequest(f"unknown columns {', '.join(unknown)}; the model takes {', '.join(columns)}")
        return pd.DataFrame(
            {column: [record.get(column) for record in input_data.records] for column in columns}, dtype=object
        )
    rows = input_data.rows or []
    if rows and [str(cell).strip() for cell in rows[0]] == columns:
        rows = rows[1:]  # a header row that names exactly the expected columns is tolerated
        if not rows:
            raise BadRequest("the body has a header row but no transactions")
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise BadRequest(
                f"row {number} has {len(row)} values; expected {len(columns)}: {', '.join(columns)} "
                f"(without {model.target}, no header)"
            )
    return pd.DataFrame({column: [row[index] for row in rows] for index, column in enumerate(columns)}, dtype=object)


def encode(prediction: list[dict[str, Any]], accept: str | None) -> tuple[str, str]:
    media_type = _media_type(accept, JSON)
    if media_type in (JSON, "*/*"):
        return json.dumps({"predictions": prediction}), JSON
    if media_type == CSV:
        return "".join(f"{item['score']},{item['label']}\n" for item in prediction), CSV
    raise NotAcceptable(f"accept type {media_type!r} is not supported; ask for {JSON} or {CSV}")
