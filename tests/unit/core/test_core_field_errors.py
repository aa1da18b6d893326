from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from retrain.contracts import CheckForNewDataEvent, ExecutionInput
from retrain.field_errors import describe_invalid_document


def describe(model: Any, document: Any, root: str = "input") -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(document)
    return describe_invalid_document(caught.value, model, root)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"approval_timeout_seconds": "soon"},
            "input.approval_timeout_seconds: expected an integer >= 60 and <= 31536000, got 'soon'",
        ),
        (
            {"approval_timeout_seconds": 5},
            "input.approval_timeout_seconds: expected an integer >= 60 and <= 31536000, got 5",
        ),
        (
            {"traffic_routing": "BLUE"},
            "input.traffic_routing: expected one of 'ALL_AT_ONCE', 'CANARY' or 'LINEAR', got 'BLUE'",
        ),
        (
            {"hyperparameters": {"depth": [1]}},
            "input.hyperparameters.depth: expected a string, number or boolean, got [1]",
        ),
        (
            {"reason": "x" * 501},
            "input.reason: expected a string of at most 500 characters, got '" + "x" * 56 + "...",
        ),
        ({"detail": 3}, "input.detail: expected a JSON object, got 3"),
        (
            {"trigger": "x", "min_new_objects": 0},
            "input.trigger: expected one of 'manual', 'schedule', 'new-data', 'follow-up', 'drift' or 'quality', "
            "got 'x' (and 1 more problem)",
        ),
    ],
)
def test_execution_input_messages(document: dict[str, Any], message: str) -> None:
    assert describe(ExecutionInput, document) == message


def test_an_unknown_field_lists_the_allowed_ones() -> None:
    message = describe(ExecutionInput, {"approval_timeout": 600})

    assert message.startswith("input.approval_timeout: unknown field; remove it (allowed: approval_timeout_seconds, ")


def test_nested_event_fields_are_named_by_path() -> None:
    assert describe(CheckForNewDataEvent, {"run": 5}, "event") == "event.run: expected a JSON object, got 5"
    assert describe(CheckForNewDataEvent, {}, "event") == "event.run: missing; add it"
