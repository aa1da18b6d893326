"""SageMaker's data capture file format, as a JSON Schema of one line of a capture file.

From the SageMaker developer guide ("Capture data from real-time endpoint", "View captured data") and
`API_DataCaptureConfig` (payloads of the configured CSV/JSON content types kept as text, any other
base64-encoded): what Model Monitor's analyzer and the SageMaker Python SDK read.
"""

from __future__ import annotations

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
