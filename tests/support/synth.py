"""What the session's synth produced, for the infra tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from aws_cdk.assertions import Template

from infra.stack import RetrainStack

REPORT = "validation-report.json"


@dataclass
class Synthesized:
    app: App
    stack: RetrainStack
    outdir: Path
    template: Template
    document: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.document["Resources"].items()
            if resource["Type"] == resource_type
        }

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def template_file(self) -> Path:
        return self.outdir / self.stack.template_file


@dataclass(frozen=True)
class Acknowledged:
    path: str
    rule: str
    reason: str


def acknowledged(synthesized: Synthesized) -> list[Acknowledged]:
    """Every `Validations.of(...).acknowledge(...)` of the app, with where it was made."""
    found: list[Acknowledged] = []
    for construct in synthesized.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                # {"<plugin>::<rule>[<finding>]": reason}
                found.extend(Acknowledged(construct.node.path, rule, reason) for rule, reason in entry.data.items())
    return found
