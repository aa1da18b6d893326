"""Building, checking and writing the definition. Never calls AWS."""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from statemachines.integrations import integration_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFINITION_FILE = PROJECT_ROOT / "definitions" / "retrain.asl.json"


def _quiet_sdk_import() -> None:
    """Import the SDK without its config lookups, metadata probes and deprecation noise."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        import stepfunctions  # noqa: F401
    logging.getLogger("stepfunctions").setLevel(logging.WARNING)


def definition() -> dict[str, Any]:
    _quiet_sdk_import()
    from statemachines.retrain import build_definition

    return build_definition()


# Readers of the JSON look for the type first, then what the state does, then where it goes.
STATE_KEY_ORDER = (
    "Type",
    "Comment",
    "Resource",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "InputPath",
    "OutputPath",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "Seconds",
    "SecondsPath",
    "Choices",
    "Default",
    "Error",
    "Cause",
    "ErrorPath",
    "CausePath",
    "Retry",
    "Catch",
    "Next",
    "End",
)


def _ordered_state(state: dict[str, Any]) -> dict[str, Any]:
    rank = {key: index for index, key in enumerate(STATE_KEY_ORDER)}
    return dict(sorted(state.items(), key=lambda item: rank.get(item[0], len(rank))))


def render_json(document: dict[str, Any]) -> str:
    """Stable formatting: a fixed key order per state, two-space indent, one trailing newline."""
    ordered = {**document, "States": {name: _ordered_state(s) for name, s in document["States"].items()}}
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def build(path: Path = DEFINITION_FILE) -> Path:
    document = definition()
    problems = integration_problems(document)
    if problems:
        raise ValueError("optimized integrations with fields AWS refuses: " + "; ".join(problems))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_json(document), encoding="utf-8")
    return path


def _display(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def drift(path: Path = DEFINITION_FILE) -> str:
    """A unified diff from the committed file to a fresh build; empty when they agree."""
    expected = render_json(definition())
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    if actual == expected:
        return ""
    return "".join(
        difflib.unified_diff(
            actual.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            fromfile=f"{_display(path)} (committed)",
            tofile="built from statemachines/",
        )
    )
