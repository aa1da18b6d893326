"""The core stays free of AWS SDKs: everything under retrain/ but retrain/cli/ is pure."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = {"boto3", "botocore", "aioboto3", "aiobotocore", "s3transfer"}


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
    package = ROOT / "retrain"
    return sorted(path for path in package.rglob("*.py") if (package / "cli") not in path.parents)


def test_the_core_imports_no_aws_sdk() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            module for module in imported_modules(path) if module.split(".")[0] in FORBIDDEN
        )
        for path in core_files()
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_scan_sees_the_core_and_would_catch_an_import(tmp_path: Path) -> None:
    assert ROOT / "retrain" / "policy.py" in core_files()
    assert all((ROOT / "retrain" / "cli") not in path.parents for path in core_files())
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom botocore.exceptions import ClientError\nimportlib.import_module('boto3')\n")
    assert {"botocore.exceptions", "boto3", "os"} <= imported_modules(sample)
