"""`retrain run` lands demo data only into the demo dataset's pipeline (when nothing has landed, or
when asked), and otherwise says how to land your own files."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli.commands.run as run_command
from cli.clients import AwsClients
from cli.main import main
from cli.pipeline import DeployedPipeline
from retrain.config import load_config
from retrain.errors import RetrainError
from tests.support.datasets import ROOT, config_file
from tests.support.fake_stack import REGION, FakeStack


def pipeline(stack: FakeStack, config: Path) -> DeployedPipeline:
    return DeployedPipeline(load_config(config), AwsClients(REGION), stack.outputs)


def quiet(_line: str) -> None:
    return None


def test_an_empty_landing_prefix_gets_demo_data_only_for_the_demo_dataset(
    stack: FakeStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_command, "DEMO_DAYS", 2)
    other = config_file(tmp_path)
    with pytest.raises(
        RetrainError,
        match=rf"nothing has landed in s3://.*/landing/ yet: land your files with `retrain land PATH\.\.\. "
        rf"--config {other}`",
    ):
        run_command._land_demo_data(pipeline(stack, other), str(other), asked=False, say=quiet)
    assert stack.keys() == []

    assert run_command._land_demo_data(pipeline(stack, ROOT / "retrain.toml"), "retrain.toml", asked=False, say=quiet)
    assert len(stack.keys("landing/")) == 2
    # Something has landed: nothing more unless asked, whatever the dataset.
    assert not run_command._land_demo_data(pipeline(stack, other), str(other), asked=False, say=quiet)
    assert run_command._land_demo_data(pipeline(stack, ROOT / "retrain.toml"), "retrain.toml", asked=True, say=quiet)
    assert len(stack.keys("landing/")) == 4


def test_asking_for_demo_data_in_another_datasets_pipeline_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--demo-data", "--config", str(config_file(tmp_path))]) == 2
    assert "configures another dataset than the demo stream's: no demo data lands into it" in capsys.readouterr().err
