"""The emulator seam: only `local/emulator/seam.py` imports the emulator, and the patch helpers apply a
fix once and fail loudly when the emulator lost what a fix relies on."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

from local.emulator import seam

LOCAL = Path(__file__).resolve().parents[3] / "local"


def _imports_emulator(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(
            name == seam.EMULATOR_DISTRIBUTION or name.startswith(f"{seam.EMULATOR_DISTRIBUTION}.") for name in names
        ):
            return True
    return False


def test_only_the_seam_imports_the_emulator() -> None:
    importers = sorted(str(path.relative_to(LOCAL)) for path in LOCAL.rglob("*.py") if _imports_emulator(path))
    assert importers == ["emulator/seam.py"]


def test_a_fix_applies_once_and_keeps_the_original() -> None:
    module = types.SimpleNamespace(handler=lambda value: value)
    original = module.handler

    def doubled(inner):  # type: ignore[no-untyped-def]
        return lambda value: inner(value) * 2

    seam.replace(module, "handler", doubled, "double")
    seam.replace(module, "handler", doubled, "double")
    assert module.handler(3) == 6
    assert module.handler.__wrapped__ is original


def test_a_missing_name_names_the_emulator_change() -> None:
    with pytest.raises(seam.ExtensionError, match="is gone: ministack changed"):
        seam.require(types.SimpleNamespace(), "_SERVICE_DISPATCH")
