"""How a run looks in a terminal: one line per state, aligned, with the error under a failed one."""

from __future__ import annotations

import json
from typing import Any

from retrain.runs import StateVisit, Timeline

# "caught": the state failed and its Catch routed the run on (e.g. no endpoint yet → CreateEndpoint).
_MARK = {"done": "✓", "caught": "↪", "failed": "✗", "running": "…"}
_NAME_WIDTH = 24


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def visit_line(visit: StateVisit) -> str:
    mark = _MARK[visit.status]
    line = f"  {mark} {visit.name:<{_NAME_WIDTH}} {duration(visit.seconds):>8}"
    if visit.retried_errors:
        line += f"  (retried after {', '.join(visit.retried_errors)})"
    if visit.error:
        line += f"\n      {visit.error}: {_one_line(visit.cause)}"
    return line


def timeline_lines(timeline: Timeline, with_inputs: bool = False) -> list[str]:
    lines = []
    for visit in timeline.visits:
        lines.append(visit_line(visit))
        if with_inputs and visit.input is not None:
            lines.append(f"      input: {_one_line(json.dumps(visit.input), 300)}")
    if timeline.error:
        lines.append(f"  {timeline.status}: {timeline.error}: {_one_line(timeline.cause, 600)}")
    return lines


def metrics_table(candidate: dict[str, Any], champion: dict[str, Any] | None) -> list[str]:
    names = sorted(set(candidate) | set(champion or {}))
    lines = [f"    {'metric':<20} {'candidate':>10} {'champion':>10}"]
    for name in names:
        lines.append(f"    {name:<20} {_number(candidate.get(name)):>10} {_number((champion or {}).get(name)):>10}")
    return lines


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}"
    return str(int(value)) if isinstance(value, float) else str(value)


def _one_line(text: str | None, limit: int = 300) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
