"""One synth of the stack per test session (it takes seconds), shared by every infra test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

# The machine's Node.js may be past jsii's support window; its banner is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

from aws_cdk import Validations
from aws_cdk.assertions import Template

from infra.app import build_app, project_context
from infra.findings import AUDIT_CONTEXT_KEY
from tests.support.synth import REPORT, Acknowledged, Synthesized


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(project_context(), outdir=str(outdir))
    app.synth()  # raises if cdk-nag or CDK's own validation reports anything unacknowledged
    document = json.loads((outdir / stack.template_file).read_text())
    yield Synthesized(app, stack, outdir, Template.from_stack(stack), document)


@pytest.fixture(scope="session")
def acknowledgments(synthesized: Synthesized) -> list[Acknowledged]:
    """Every `Validations.of(...).acknowledge(...)` of the app, with where it was made."""
    found: list[Acknowledged] = []
    for construct in synthesized.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                # {"<plugin>::<rule>[<finding>]": reason}
                found.extend(Acknowledged(construct.node.path, rule, reason) for rule, reason in entry.data.items())
    return found


@pytest.fixture(scope="session")
def audit_violations(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """(`<plugin>::<rule>`, construct path) of every finding when nothing is acknowledged (a
    second synth, in audit mode)."""
    outdir = tmp_path_factory.mktemp("cdk.audit")
    app, _ = build_app({**project_context(), AUDIT_CONTEXT_KEY: True}, outdir=str(outdir))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((outdir / REPORT).read_text())
    return [
        (f"{plugin['pluginName']}::{violation['ruleName']}", construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]
