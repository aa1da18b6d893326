"""The core stays pure: nothing under retrain/ imports an AWS SDK, Powertools, the emulator, or any
part of the project that stands on the core (the command, the local AWS, the handlers, ...)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
AWS_SDKS = {"boto3", "botocore", "aioboto3", "aiobotocore", "s3transfer"}
RUNTIMES = {"aws_lambda_powertools", "ministack"}
ABOVE_THE_CORE = {"cli", "local", "tasks", "statemachines", "infra", "jobs"}
FORBIDDEN = AWS_SDKS | RUNTIMES | ABOVE_THE_CORE


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            modules.update(
                arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return modules


def core_files() -> list[Path]:
    return sorted((ROOT / "retrain").rglob("*.py"))


def test_the_core_imports_nothing_above_it() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            module for module in imported_modules(path) if module.split(".")[0] in FORBIDDEN
        )
        for path in core_files()
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_scan_sees_the_core_and_would_catch_an_import(tmp_path: Path) -> None:
    assert ROOT / "retrain" / "policy.py" in core_files()
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nfrom botocore.exceptions import ClientError\nimportlib.import_module('boto3')\n"
        "from local.aws import LocalAws\nimport aws_lambda_powertools\n"
    )
    found = imported_modules(sample)
    assert {"botocore.exceptions", "boto3", "os", "local.aws", "aws_lambda_powertools"} <= found
    caught = {module.split(".")[0] for module in found} & FORBIDDEN
    assert caught == {"botocore", "boto3", "local", "aws_lambda_powertools"}
