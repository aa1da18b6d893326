"""`retrain deploy`: into the account it runs the CDK CLI as docs/deploy.md does (never run here), and
`--config` reaches the app as `retrain:config`, locally and on AWS."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

import cli.deployment
from cli.deployment import cdk_deploy_command
from cli.main import main
from local.deploy import DeployError, project_app, project_sources
from tests.support.datasets import ROOT, config_file


@pytest.fixture(autouse=True)
def from_the_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_the_account_deploy_is_cdk_deploy_with_the_config_as_context(tmp_path: Path) -> None:
    assert cdk_deploy_command("retrain.toml") == ["npx", "cdk", "deploy"]
    assert cdk_deploy_command(str(ROOT / "retrain.toml"), ["--parameters", "A=b"]) == [
        "npx", "cdk", "deploy", "--parameters", "A=b",
    ]  # fmt: skip
    assert cdk_deploy_command("tests/../retrain.toml") == ["npx", "cdk", "deploy"]
    outside = config_file(tmp_path)  # anywhere: the app reads it by its absolute path
    assert cdk_deploy_command(str(outside)) == ["npx", "cdk", "deploy", "-c", f"retrain:config={outside.resolve()}"]
    with pytest.raises(DeployError, match=r"absent\.toml: no such config file"):
        cdk_deploy_command(str(tmp_path / "absent.toml"))


def test_another_config_is_retrain_config_in_the_local_app_and_its_fingerprint(tmp_path: Path) -> None:
    assert "retrain:config" not in project_app(ROOT).context
    other = config_file(tmp_path).name
    assert project_app(tmp_path, other).context["retrain:config"] == other
    assert other in project_sources(tmp_path, other).patterns
    outside = str(config_file(tmp_path))
    sources = project_sources(ROOT, outside)
    assert Path(outside) in sources.extra_files and outside not in sources.patterns
    before = sources.compute({})
    Path(outside).write_text(Path(outside).read_text() + "\n# changed\n")
    assert sources.compute({}) != before  # a change of the outside config is a change to deploy


def test_retrain_deploy_with_the_aws_target_runs_cdk_from_the_project_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[list[str], Any]] = []

    def run(command: list[str], cwd: Any, check: bool) -> subprocess.CompletedProcess[str]:
        calls.append((command, cwd))
        return subprocess.CompletedProcess(command, 3)

    monkeypatch.setenv("RETRAIN_TARGET", "aws")
    monkeypatch.setattr(cli.deployment.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(cli.deployment.subprocess, "run", run)
    assert main(["deploy", "--", "--parameters", "NotificationEmail=a@example.com"]) == 3
    assert calls == [(["npx", "cdk", "deploy", "--parameters", "NotificationEmail=a@example.com"], ROOT)]
    assert "deploying to the AWS account of your credentials: npx cdk deploy" in capsys.readouterr().err

    monkeypatch.setattr(cli.deployment.shutil, "which", lambda name: None)
    assert main(["deploy"]) == 2
    assert "npx not found: install Node.js 20 and run `npm ci`" in capsys.readouterr().err


def test_cdk_arguments_without_the_aws_target_are_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RETRAIN_TARGET", raising=False)
    assert main(["deploy", "--", "--parameters", "A=b"]) == 2
    assert "only runs with RETRAIN_TARGET=aws" in capsys.readouterr().err
