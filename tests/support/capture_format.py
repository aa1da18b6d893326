"""SageMaker's data capture file format, as a JSON Schema of one line of a capture file.

From the SageMaker developer guide ("Capture data from real-time endpoint", "View captured data") and
`API_DataCaptureConfig` (payloads of the configured CSV/JSON content types kept as text, any other
base64-encoded): what Model Monitor's analyzer and the SageMaker Python SDK read.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from typing import Any

import jsonschema

_PAYLOAD = {
    "type": "object",
    "required": ["observedContentType", "mode", "data", "encoding"],
    "additionalProperties": False,
    "properties": {
        "observedContentType": {"type": "string"},
        "mode": {"enum": ["INPUT", "OUTPUT"]},
        "data": {"type": "string"},
        "encoding": {"enum": ["CSV", "JSON", "BASE64"]},
    },
}
CAPTURE_RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["captureData", "eventMetadata", "eventVersion"],
    "additionalProperties": False,
    "properties": {
        "captureData": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "endpointInput": {**_PAYLOAD, "properties": {**_PAYLOAD["properties"], "mode": {"const": "INPUT"}}},
                "endpointOutput": {**_PAYLOAD, "properties": {**_PAYLOAD["properties"], "mode": {"const": "OUTPUT"}}},
            },
        },
        "eventMetadata": {
            "type": "object",
            "required": ["eventId", "inferenceTime"],
            "additionalProperties": False,
            "properties": {
                "eventId": {"type": "string", "format": "uuid"},
                "inferenceId": {"type": "string", "minLength": 1, "maxLength": 64},
                "inferenceTime": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
            },
        },
        "eventVersion": {"const": "0"},
    },
}
# <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl
CAPTURE_KEY = re.compile(
    r"^(?P<prefix>.*/)?(?P<endpoint>[^/]+)/(?P<variant>[^/]+)/\d{4}/\d\d/\d\d/\d\d/"
    r"\d\d-\d\d-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl$"
)


def capture_records(body: bytes) -> list[dict[str, Any]]:
    """The records of one capture file, each checked against the format."""
    records = [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
    checker = jsonschema.Draft202012Validator(CAPTURE_RECORD_SCHEMA, format_checker=jsonschema.FormatChecker())
    for record in records:
        checker.validate(record)
    return records


def capture_of(
    frame: Any, *, base64_encoded: bool = False, inference_time: str = "2026-11-26T03:00:00Z"
) -> list[dict[str, Any]]:
    """One capture record per row of a pandas frame, each a CSV request as the endpoint receives it."""
    records = []
    for row in frame.itertuples(index=False):
        buffer = io.StringIO()
        cells = ["" if value is None or value != value else value for value in row]  # NaN != NaN: a missing cell
        csv.writer(buffer, lineterminator="").writerow(cells)
        data = buffer.getvalue()
        encoding = "CSV"
        if base64_encoded:
            data, encoding = base64.b64encode(data.encode()).decode(), "BASE64"
        records.append(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": data,
                        "encoding": encoding,
                    }
                },
                "eventMetadata": {
                    "eventId": "0f7b8a3e-0000-4000-8000-000000000000",
                    "inferenceTime": inference_time,
                },
                "eventVersion": "0",
            }
        )
    return records
