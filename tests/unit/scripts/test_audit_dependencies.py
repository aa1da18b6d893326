"""The dependency audit's wrapper tells a clean audit from one that audited nothing (no service reachable)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[3] / "scripts" / "audit_dependencies.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_a_vulnerable_pin_fails_the_audit_naming_it_and_its_fix(audit: ModuleType) -> None:
    report = {
        "dependencies": [
            {"name": "requests", "version": "2.19.0", "vulns": [{"id": "PYSEC-2018-28", "fix_versions": ["2.20.0"]}]},
            {"name": "idna", "version": "3.7", "vulns": []},
        ]
    }
    code, message = audit.verdict(audit.read_report(report))
    assert code == 1
    assert "requests 2.19.0: PYSEC-2018-28 (fixed in 2.20.0)" in message


def test_nothing_audited_passes_but_says_the_audit_was_skipped(audit: ModuleType) -> None:
    report = {
        "dependencies": [
            {"name": "idna", "skip_reason": "Dependency not found on PyPI and could not be audited: idna (3.7)"},
            {"name": "six", "skip_reason": "Dependency not found on PyPI and could not be audited: six (1.17.0)"},
        ]
    }
    code, message = audit.verdict(audit.read_report(report))
    assert code == 0
    assert message.startswith("pip-audit SKIPPED") and "2 distributions" in message


def test_a_clean_audit_counts_what_it_audited_and_skipped(audit: ModuleType) -> None:
    report = {
        "dependencies": [
            {"name": "idna", "version": "3.7", "vulns": []},
            {"name": "retrain-pipeline", "skip_reason": "editable"},
        ]
    }
    code, message = audit.verdict(audit.read_report(report))
    assert (code, message) == (0, "pip-audit: 1 distributions audited, no known vulnerability (1 skipped)")
