"""The import contracts in pyproject.toml (`lint-imports`) hold for the tree and bite when broken."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("cli", "local", "tasks", "infra", "statemachines", "retrain")
CONTRACTS = {
    contract["id"]: contract["name"]
    for contract in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"][
        "contracts"
    ]
}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # Only `root` on the path: the contracts must be checked against its packages, not this checkout's.
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", command, "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_of_the_tree(destination: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def broken(output: str) -> set[str]:
    """Ids of the contracts the run reports broken (it wraps long names over lines)."""
    text = " ".join(output.split())
    return {key for key, name in CONTRACTS.items() if re.search(re.escape(name) + r" ?BROKEN", text)}


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contracts"),
    [
        ("retrain/policy.py", "import local", {"layers", "pure-core", "lambda-code"}),
        ("retrain/config.py", "import boto3", {"pure-core"}),
        ("local/home.py", "import cli.pipeline", {"layers", "local-aws"}),
        ("tasks/notify.py", "import statemachines", {"lambda-code"}),
        ("cli/commands/run.py", "import cli.commands.runs_cmd", {"subcommands"}),
        ("cli/pipeline.py", "import cli.commands.run", {"command-layers", "subcommands"}),
    ],
)
def test_an_import_against_the_direction_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contracts: set[str]
) -> None:
    tree = copy_of_the_tree(tmp_path)
    source = tree / module
    source.write_text(source.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")

    result = lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    assert broken(result.stdout) == contracts, result.stdout
