"""One synth of the stack per test session (it takes seconds), shared by every infra test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

# The machine's Node.js may be past jsii's support window; its banner is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

from aws_cdk.assertions import Template

from infra.app import build_app, project_context
from infra.findings import AUDIT_CONTEXT_KEY
from tests.support.datasets import config_file
from tests.support.synth import REPORT, Acknowledged, Synthesized, acknowledged


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(project_context(), outdir=str(outdir))
    app.synth()  # raises if cdk-nag or CDK's own validation reports anything unacknowledged
    document = json.loads((outdir / stack.template_file).read_text())
    yield Synthesized(app, stack, outdir, Template.from_stack(stack), document)


@pytest.fixture(scope="session")
def streaming_config(tmp_path_factory: pytest.TempPathFactory) -> str:
    """retrain.toml with a `[stream]` table (which needs JSON lines landing data)."""
    path = config_file(tmp_path_factory.mktemp("streaming"), dataset=None, input_format="json")
    path.write_text(path.read_text(encoding="utf-8") + "\n[stream]\nbuffer_interval_seconds = 120\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def streaming_synthesized(tmp_path_factory: pytest.TempPathFactory, streaming_config: str) -> Synthesized:
    """The stack with streaming ingestion (cdk-nag runs on it as on the default one)."""
    outdir = tmp_path_factory.mktemp("cdk.stream")
    app, stack = build_app({**project_context(), "retrain:config": streaming_config}, outdir=str(outdir))
    app.synth()
    document = json.loads((outdir / stack.template_file).read_text())
    return Synthesized(app, stack, outdir, Template.from_stack(stack), document)


@pytest.fixture(scope="session")
def streaming_audit_violations(
    tmp_path_factory: pytest.TempPathFactory, streaming_config: str
) -> list[tuple[str, str]]:
    return _audit(tmp_path_factory, {"retrain:config": streaming_config})


@pytest.fixture(scope="session")
def acknowledgments(synthesized: Synthesized) -> list[Acknowledged]:
    """Every `Validations.of(...).acknowledge(...)` of the app, with where it was made."""
    return acknowledged(synthesized)


@pytest.fixture(scope="session")
def audit_violations(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """(`<plugin>::<rule>`, construct path) of every finding when nothing is acknowledged (a
    second synth, in audit mode)."""
    return _audit(tmp_path_factory, {})


def _audit(tmp_path_factory: pytest.TempPathFactory, context: dict[str, str]) -> list[tuple[str, str]]:
    outdir = tmp_path_factory.mktemp("cdk.audit")
    app, _ = build_app({**project_context(), **context, AUDIT_CONTEXT_KEY: True}, outdir=str(outdir))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((outdir / REPORT).read_text())
    return [
        (f"{plugin['pluginName']}::{violation['ruleName']}", construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]
