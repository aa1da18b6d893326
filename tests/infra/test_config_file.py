"""`retrain:config` end to end: the functions read the config the stack is synthesized with, even when
it lies outside the project (one more synth, with another config file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.app import build_app, project_context
from tests.support.datasets import config_file


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any], Path]:
    """(config file, cloud assembly, template, the Lambda code asset folder) of a synth with another config."""
    folder = tmp_path_factory.mktemp("elsewhere")
    path = config_file(folder)
    path.write_text(path.read_text().replace('name = "fraud-retrain"', 'name = "orders-retrain"', 1))
    outdir = tmp_path_factory.mktemp("cdk.config")
    app, stack = build_app({**project_context(), "retrain:config": str(path)}, outdir=str(outdir))
    app.synth()
    template = json.loads((outdir / stack.template_file).read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    keys = {f["Properties"]["Code"]["S3Key"] for f in functions if f["Properties"]["Handler"].startswith("tasks.")}
    assert len(keys) == 1, keys  # one code asset for every function
    manifest = json.loads((outdir / f"{stack.artifact_id}.assets.json").read_text())
    staged = outdir / manifest["files"][keys.pop().removesuffix(".zip")]["source"]["path"]
    return path, outdir, template, staged


def test_the_functions_are_named_after_the_other_config(other: tuple[Path, Path, dict[str, Any], Path]) -> None:
    _, _, template, _ = other
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    names = [f["FunctionName"] for f in functions if f["Handler"].startswith("tasks.")]
    assert names and all(name.startswith("orders-retrain-") for name in names)


def test_the_lambda_asset_carries_the_config_the_stack_was_synthesized_with(
    other: tuple[Path, Path, dict[str, Any], Path],
) -> None:
    path, _, _, staged = other
    # tasks/_config.py reads `retrain.toml` at the asset root: it must be the other file, byte for byte.
    assert (staged / "retrain.toml").read_bytes() == path.read_bytes()
    assert "orders-retrain" in (staged / "retrain.toml").read_text()
    assert (staged / "tasks" / "_config.py").is_file() and (staged / "retrain" / "config.py").is_file()
    assert not [p for p in staged.rglob("*") if "__pycache__" in p.parts or p.suffix == ".pyc"]
