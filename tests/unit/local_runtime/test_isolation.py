"""The import guard: a script under a runtime profile imports the profile's distributions, the standard
library and its own modules, and nothing else installed on this machine."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.runtime.isolation import ImportGuard, RuntimeProfile
from local.sagemaker.images import UnknownImage, framework_version, profile_path
from tests.support.polling import PROCESS_START_BOUND

PROFILE = Path(__file__).resolve().parents[3] / "local" / "sagemaker" / "profiles" / "sklearn-1.2-1.toml"


def run_guarded(tmp_path: Path, code: str, *, own: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script_dir = tmp_path / "code"
    script_dir.mkdir(exist_ok=True)
    for name, text in (own or {}).items():
        (script_dir / name).write_text(text)
    (script_dir / "job.py").write_text(code)
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env.update(ImportGuard(RuntimeProfile.load(PROFILE), tmp_path / "runtimes").environment())
    return subprocess.run(
        [sys.executable, str(script_dir / "job.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=PROCESS_START_BOUND,
    )


def test_the_profile_is_the_images_own_list() -> None:
    profile = RuntimeProfile.load(PROFILE)
    # docker/1.2-1/base/Dockerfile.cpu and requirements.txt of aws/sagemaker-scikit-learn-container, branch 1.2-1
    assert profile.python == "3.9"
    assert profile.packages["scikit-learn"] == "==1.2.1"
    assert profile.packages["pandas"] == "==1.1.3"
    assert profile.packages["pyarrow"] == "==14.0.1"
    assert "matplotlib" not in profile.packages
    assert profile.source["branch"] == "1.2-1"


def test_a_distribution_the_image_lacks_is_a_module_not_found(tmp_path: Path) -> None:
    # pydantic is installed here (a dependency of the project) and is not in the image.
    assert importlib.util.find_spec("pydantic") is not None
    result = run_guarded(tmp_path, "import pydantic\n")

    assert result.returncode == 1
    assert result.stderr.strip().endswith("ModuleNotFoundError: No module named 'pydantic'")


def test_the_images_distributions_their_dependencies_and_the_stdlib_import(tmp_path: Path) -> None:
    code = "import json, sqlite3, sklearn, pandas, numpy, scipy, pyarrow, boto3, joblib, dateutil\nprint('ok')\n"
    result = run_guarded(tmp_path, code)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_scripts_own_modules_are_never_refused(tmp_path: Path) -> None:
    # `local` is also a top-level package of this project's own (installed) distribution, which the image lacks.
    result = run_guarded(tmp_path, "import local\nprint(local.OWN)\n", own={"local.py": "OWN = 'mine'\n"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mine"


def test_the_projects_own_packages_are_not_in_the_image(tmp_path: Path) -> None:
    result = run_guarded(tmp_path, "import retrain\n")

    assert "ModuleNotFoundError: No module named 'retrain'" in result.stderr


def test_a_child_process_is_guarded_too(tmp_path: Path) -> None:
    code = "import subprocess, sys\nsys.exit(subprocess.call([sys.executable, '-c', 'import pydantic']))\n"
    result = run_guarded(tmp_path, code)

    assert result.returncode == 1
    assert "No module named 'pydantic'" in result.stderr


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "1.2-1"),
        ("sagemaker-scikit-learn:1.2-1", "1.2-1"),
        ("sklearn", "1.2-1"),  # not the framework's repository: the container the local SageMaker plays
        (None, "1.2-1"),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3", "1.4-2"),
    ],
)
def test_the_image_names_the_framework_version(image: str | None, version: str) -> None:
    assert framework_version(image) == version


def test_a_framework_version_without_a_profile_is_refused() -> None:
    with pytest.raises(UnknownImage, match=r"no runtime profile for scikit-learn 0\.23-1 .*\(1\.2-1\)"):
        profile_path("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.23-1-cpu-py3")
