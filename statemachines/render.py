"""Draws the definition as an SVG, laid out in layers from the start state. No dependencies.

Normal transitions (Next, Choice rules, Default) are solid; error routes to a state other than the
failure path are dashed; routes to the failure path are shown as a red dot on the state, since every
Task has one and drawing them all would hide the cycle.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

FAILURE_ENTRY = "NotifyFailure"
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 190, 34, 28, 30, 24
COLOURS = {
    "Task": "#dbeafe",
    "Choice": "#fef3c7",
    "Wait": "#ede9fe",
    "Pass": "#f3f4f6",  # a colour, not a password  # nosec B105
    "Succeed": "#dcfce7",
    "Fail": "#fee2e2",
}


class StateGraph:
    """The transitions of an ASL document, split into flow edges and error edges."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.start: str = document["StartAt"]
        self.states: dict[str, dict[str, Any]] = document["States"]
        self.flow: dict[str, list[str]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.catches_to_failure: set[str] = set()
        for name, state in self.states.items():
            targets = [rule["Next"] for rule in state.get("Choices", [])]
            targets += [state[key] for key in ("Next", "Default") if key in state]
            self.flow[name] = list(dict.fromkeys(targets))
            for catch in state.get("Catch", []):
                if catch["Next"] == FAILURE_ENTRY:
                    self.catches_to_failure.add(name)
                else:
                    self.errors[name].append(catch["Next"])

    def layers(self) -> dict[str, int]:
        """Longest distance from the start along forward edges (back edges of loops ignored)."""
        order: list[str] = []
        on_path: set[str] = set()
        seen: set[str] = set()
        back_edges: set[tuple[str, str]] = set()

        def visit(node: str) -> None:
            seen.add(node)
            on_path.add(node)
            for target in self.flow[node] + self.errors[node]:
                if target in on_path:
                    back_edges.add((node, target))
                elif target not in seen:
                    visit(target)
            on_path.discard(node)
            order.append(node)

        visit(self.start)
        for name in self.states:  # states reached only through the failure path
            if name not in seen:
                visit(name)
        layer = dict.fromkeys(self.states, 0)
        for node in reversed(order):
            for target in self.flow[node] + self.errors[node]:
                if (node, target) not in back_edges:
                    layer[target] = max(layer[target], layer[node] + 1)
        return layer


def render_svg(document: dict[str, Any]) -> str:
    graph = StateGraph(document)
    layer = graph.layers()
    rows: dict[int, list[str]] = defaultdict(list)
    for name in graph.states:  # definition order keeps the main path on the left
        rows[layer[name]].append(name)
    width_slots = max(len(names) for names in rows.values())
    width = MARGIN * 2 + width_slots * BOX_W + (width_slots - 1) * GAP_X
    height = MARGIN * 2 + 40 + len(rows) * (BOX_H + GAP_Y)
    position: dict[str, tuple[float, float]] = {}
    for row, names in sorted(rows.items()):
        for column, name in enumerate(names):
            position[name] = (MARGIN + column * (BOX_W + GAP_X), MARGIN + 40 + row * (BOX_H + GAP_Y))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#374151"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 8}" font-size="15" font-weight="bold">Retrain state machine</text>',
        f'<text x="{MARGIN}" y="{MARGIN + 26}" fill="#4b5563">solid: transitions · dashed: error routes · '
        f'<tspan fill="#dc2626">●</tspan> errors go to {FAILURE_ENTRY} → PipelineFailed</text>',
    ]
    for source, targets in graph.flow.items():
        parts += [_edge(position[source], position[target], dashed=False) for target in targets]
    for source, targets in graph.errors.items():
        parts += [_edge(position[source], position[target], dashed=True) for target in targets]
    for name, state in graph.states.items():
        x, y = position[name]
        rx = 16 if state["Type"] in ("Succeed", "Fail") else 4
        parts.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="{rx}" '
            f'fill="{COLOURS.get(state["Type"], "#ffffff")}" stroke="#6b7280"/>'
        )
        label = escape(name)
        parts.append(f'<text x="{x + BOX_W / 2}" y="{y + 15}" text-anchor="middle" font-weight="bold">{label}</text>')
        parts.append(
            f'<text x="{x + BOX_W / 2}" y="{y + 28}" text-anchor="middle" fill="#4b5563" font-size="10">'
            f"{escape(_subtitle(state))}</text>"
        )
        if name in graph.catches_to_failure:
            parts.append(f'<circle cx="{x + BOX_W - 6}" cy="{y + 6}" r="3.5" fill="#dc2626"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _subtitle(state: dict[str, Any]) -> str:
    resource = state.get("Resource", "")
    if resource:
        service = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
        return service
    return state["Type"]


def _edge(source: tuple[float, float], target: tuple[float, float], dashed: bool) -> str:
    sx, sy = source[0] + BOX_W / 2, source[1] + BOX_H
    tx, ty = target[0] + BOX_W / 2, target[1]
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    if ty > sy:  # forward: a smooth S-curve downwards
        mid = (sy + ty) / 2
        path = f"M{sx},{sy} C{sx},{mid} {tx},{mid} {tx},{ty}"
    else:  # a loop back up: around the right side of both boxes
        side = max(source[0], target[0]) + BOX_W + GAP_X / 2
        path = (
            f"M{source[0] + BOX_W},{source[1] + BOX_H / 2} C{side},{source[1] + BOX_H / 2} "
            f"{side},{target[1] + BOX_H / 2} {target[0] + BOX_W},{target[1] + BOX_H / 2}"
        )
    return f'<path d="{path}" fill="none" stroke="#374151" stroke-width="1.2"{dash} marker-end="url(#arrow)"/>'
