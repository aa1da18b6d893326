"""The pipeline's generated definition, as tests read it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from statemachines.build import DEFINITION_FILE


def task_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, by name (in Parallel branches too)."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from task_states(branch["States"])


def definition_states() -> dict[str, Any]:
    """The top-level states of the committed definition, by name."""
    return dict(json.loads(DEFINITION_FILE.read_text(encoding="utf-8"))["States"])


def package_update_as_pass(state: dict[str, Any], result_path: str) -> dict[str, Any]:
    """An `updateModelPackage` state as a Pass that keeps the description it would send (no registry needed)."""
    return {
        "Type": "Pass",
        "Parameters": {"description.$": state["Parameters"]["ApprovalDescription.$"]},
        "ResultPath": result_path,
        "Next": state["Next"],
    }


TASKS = dict(task_states(definition_states()))
