"""The pipeline's generated definition, as tests read it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFINITION = Path(__file__).resolve().parents[2] / "definitions" / "retrain.asl.json"


def task_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state, by name (in Parallel branches too)."""
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from task_states(branch["States"])


TASKS = dict(task_states(json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]))
