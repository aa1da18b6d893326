"""Audit the installed dependencies for known vulnerabilities with pip-audit, offline-safe.

pip-audit asks a vulnerability service (PyPI's JSON API by default, OSV with `-s osv`) about each
installed distribution. Where no service answers (a machine that reaches only a package mirror: PyPI's
per-version JSON is then "not found" for every package), pip-audit exits 0 having audited nothing, which
would read as a clean audit. This wrapper tells the cases apart:

- some distributions audited, none vulnerable: pass, saying how many were audited and how many skipped;
- any vulnerability not ignored with its reason (`--ignore-vuln ID` in tox.ini, with a comment): fail,
  listing each with its fix versions;
- nothing audited (no service reachable): pass, but say plainly that the audit was skipped and why.

Usage: `python scripts/audit_dependencies.py [pip-audit options]` (e.g. `--ignore-vuln GHSA-...`).
"""

from __future__ import annotations

import json
import subprocess  # runs pip-audit, this module's whole purpose  # nosec B404
import sys
from dataclasses import dataclass, field
from typing import Any

# Words in pip-audit's error output that mean no vulnerability service could be reached.
_UNREACHABLE = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "timed out")


@dataclass
class AuditResult:
    audited: int = 0
    skipped: list[str] = field(default_factory=list)
    vulnerable: list[str] = field(default_factory=list)


def read_report(report: dict[str, Any]) -> AuditResult:
    """The audited, skipped and vulnerable distributions of a pip-audit JSON report."""
    result = AuditResult()
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            result.skipped.append(f"{dependency['name']}: {dependency['skip_reason']}")
            continue
        result.audited += 1
        for vulnerability in dependency.get("vulns", []):
            fixes = ", ".join(vulnerability.get("fix_versions") or []) or "no fixed version yet"
            result.vulnerable.append(
                f"{dependency['name']} {dependency.get('version', '?')}: {vulnerability['id']} (fixed in {fixes})"
            )
    return result


def verdict(result: AuditResult) -> tuple[int, str]:
    """The exit code and the message for an audit's result."""
    if result.vulnerable:
        listed = "\n  ".join(result.vulnerable)
        return 1, (
            f"pip-audit: {len(result.vulnerable)} known vulnerabilities:\n  {listed}\n"
            "upgrade the pin in pyproject.toml, or ignore it in tox.ini (`--ignore-vuln ID`) with a comment saying why"
        )
    if result.audited == 0:
        return 0, (
            f"pip-audit SKIPPED: no vulnerability service answered for any of the {len(result.skipped)} "
            "distributions (this machine reaches no vulnerability database); nothing was audited"
        )
    skipped = len(result.skipped)
    return 0, f"pip-audit: {result.audited} distributions audited, no known vulnerability ({skipped} skipped)"


def main(argv: list[str]) -> int:
    command = [sys.executable, "-m", "pip_audit", "--format", "json", "--skip-editable", "--progress-spinner", "off"]
    # A fixed argv on this interpreter, plus the options tox.ini passes; no shell.
    completed = subprocess.run([*command, *argv], capture_output=True, text=True, check=False)  # nosec B603
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        if any(word in completed.stderr for word in _UNREACHABLE):
            print("pip-audit SKIPPED: no vulnerability service is reachable from this machine; nothing was audited")
            return 0
        print(completed.stderr.strip() or completed.stdout.strip(), file=sys.stderr)
        print(f"pip-audit failed (exit {completed.returncode}) without a report; see its output above", file=sys.stderr)
        return completed.returncode or 1
    code, message = verdict(read_report(report))
    print(message, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
