"""cdk-nag (AWS Solutions) and cfn-lint on the synthesized stack."""

from __future__ import annotations

import json
import re

from cfnlint.api import ManualArgs, lint_file

from tests.support.synth import REPORT, Acknowledged, Synthesized

# Rules the stack may acknowledge at all; a new kind of exception needs a review, not just a reason.
# KDF1: a delivery stream with a Kinesis source cannot be encrypted itself (its source stream is).
ACKNOWLEDGEABLE = {"AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-KDF1", "AwsSolutions-L1", "AwsSolutions-S1"}
# cfn-lint warnings that CDK itself produces and that are harmless: an explicit DependsOn of a
# resource that a GetAtt already orders (CDK adds it so a role's policy exists before its user).
ACCEPTED_LINT_WARNINGS = {"W3005"}
MIN_REASON_WORDS = 8


def _rule(acknowledged_id: str) -> str:
    """`AwsSolutions::AwsSolutions-IAM5[Resource::*]` → `AwsSolutions-IAM5`."""
    return re.sub(r"\[.*\]$", "", acknowledged_id.split("::", 1)[1])


def _covers(acknowledgment: Acknowledged, path: str) -> bool:
    return path == acknowledgment.path or path.startswith(acknowledgment.path + "/")


def test_synth_passes_cdk_nag_and_cdk_validation(synthesized: Synthesized) -> None:
    # build_app registers AwsSolutionsChecks; an unacknowledged finding would have failed the
    # fixture's synth. A report written anyway must not be a failure.
    report = synthesized.outdir / REPORT
    if report.exists():
        document = json.loads(report.read_text())
        failures = [plugin["pluginName"] for plugin in document["pluginReports"] if plugin["conclusion"] != "success"]
        assert failures == []


def test_every_acknowledgment_is_a_reviewed_rule_with_a_specific_reason(
    acknowledgments: list[Acknowledged],
) -> None:
    assert acknowledgments, "no acknowledgments found: the metadata format of cdk-nag changed"
    for acknowledgment in acknowledgments:
        assert _rule(acknowledgment.rule) in ACKNOWLEDGEABLE, acknowledgment
        assert len(acknowledgment.reason.split()) >= MIN_REASON_WORDS, acknowledgment
    # IAM5 is acknowledged finding by finding, never as a whole rule.
    blanket = [a for a in acknowledgments if a.rule.endswith("-IAM5")]
    assert blanket == []


def test_every_acknowledgment_matches_a_real_finding(
    acknowledgments: list[Acknowledged], audit_violations: list[tuple[str, str]]
) -> None:
    stale = [
        a for a in acknowledgments if not any(rule == a.rule and _covers(a, path) for rule, path in audit_violations)
    ]
    assert stale == [], "acknowledgments without a finding (remove them):\n" + "\n".join(map(str, stale))


def test_every_finding_is_acknowledged_where_it_occurs(
    acknowledgments: list[Acknowledged], audit_violations: list[tuple[str, str]]
) -> None:
    assert audit_violations, "the audit synth reported nothing: is cdk-nag still registered?"
    open_findings = [
        (rule, path)
        for rule, path in audit_violations
        if not any(a.rule == rule and _covers(a, path) for a in acknowledgments)
    ]
    assert open_findings == []


def test_the_template_passes_cfn_lint(synthesized: Synthesized) -> None:
    matches = lint_file(synthesized.template_file(), ManualArgs(regions=["us-east-1", "eu-west-1", "ap-southeast-2"]))
    problems = [
        f"{match.rule.id} {match.message} ({'/'.join(map(str, match.path))})"
        for match in matches
        if match.rule.id not in ACCEPTED_LINT_WARNINGS
    ]
    assert problems == []
