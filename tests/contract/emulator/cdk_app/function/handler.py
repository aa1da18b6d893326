"""Echoes its event with a version marker (the redeploy test changes the marker)."""

from __future__ import annotations

from typing import Any

VERSION = "v1"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"version": VERSION, "event": event}
