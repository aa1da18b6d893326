"""Isolated runtime environments: pinned from a profile, keyed by content, built atomically, and a clear
error naming the build command when one is missing."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.glue_runner import PROFILES as GLUE_PROFILES
from local.runtime.environments import (
    BUILD_COMMAND,
    CACHE_ENV,
    EnvironmentMissing,
    EnvironmentSpec,
    RuntimeEnvironments,
    build_each,
    combined_spec,
    default_cache_directory,
)
from local.runtime.isolation import RuntimeProfile
from local.sagemaker.images import PROFILES
from tests.support.polling import PROCESS_START_BOUND


def profile(tmp_path: Path, requirements: str, python: str = "3.11") -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(
        f'[profile]\nname = "test-runtime"\n[local]\npython = "{python}"\nrequirements = [{requirements}]\n',
        encoding="utf-8",
    )
    return path


def test_the_sagemaker_profile_pins_the_images_scikit_learn() -> None:
    spec = EnvironmentSpec.from_profile(PROFILES / "sklearn-1.2-1.toml")
    assert spec.python == "3.11"
    assert spec.pins["scikit-learn"] == "1.2.1" and spec.pins["numpy"] == "1.24.1"
    assert "matplotlib" not in spec.pins and "pydantic" not in spec.pins


@pytest.mark.parametrize("requirement", ['"numpy>=1.24"', '"numpy"', '"numpy==1.*"', '"not a requirement!"'])
def test_a_requirement_must_pin_one_version(tmp_path: Path, requirement: str) -> None:
    with pytest.raises(ValueError, match=r"must pin one version|requirement"):
        EnvironmentSpec.from_profile(profile(tmp_path, requirement))


def test_the_key_changes_with_the_pins_only(tmp_path: Path) -> None:
    first = EnvironmentSpec.from_profile(profile(tmp_path, '"numpy==1.24.1", "Scikit_Learn==1.2.1"'))
    same = EnvironmentSpec.from_profile(profile(tmp_path, '"scikit-learn==1.2.1", "numpy==1.24.1"'))
    other = EnvironmentSpec.from_profile(profile(tmp_path, '"scikit-learn==1.2.2", "numpy==1.24.1"'))
    assert first.key() == same.key() != other.key()


def test_the_cache_directory_is_the_users_unless_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_directory() == tmp_path / "xdg" / "retrain-pipeline" / "runtimes"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert default_cache_directory() == tmp_path / "mine"


def test_a_missing_environment_names_the_command_that_builds_it(tmp_path: Path) -> None:
    spec = EnvironmentSpec.from_profile(profile(tmp_path, '"numpy==1.24.1"'))
    with pytest.raises(EnvironmentMissing, match=f"run `{BUILD_COMMAND}`"):
        RuntimeEnvironments(tmp_path / "cache").interpreter(spec)


def test_a_build_is_atomic_and_concurrent_builds_race_harmlessly(tmp_path: Path) -> None:
    # No distributions: nothing to download, so the build runs offline.
    spec = EnvironmentSpec.from_profile(profile(tmp_path, ""))
    environments = RuntimeEnvironments(tmp_path / "cache")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: environments.build(spec), range(2)))
    assert {entry for entry, _ in results} == {environments.location(spec)}
    assert [built for _, built in results].count(True) >= 1
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [environments.location(spec).name]
    interpreter = environments.interpreter(spec)
    assert environments.build(spec) == (environments.location(spec), False)
    # The environment sees none of this process's packages.
    listing = "import importlib.metadata as m, json; print(json.dumps([d.metadata['Name'] for d in m.distributions()]))"
    # Run as the jobs run it: no PYTHONPATH of the caller's (local.sagemaker.jobs.base_environment), in a
    # folder of its own (`-c` puts the working folder on sys.path, and a project's checkout holds its egg-info).
    job_env = {name: os.environ[name] for name in ("HOME", "PATH") if name in os.environ}
    found = subprocess.run(
        [interpreter, "-c", listing],
        capture_output=True,
        text=True,
        check=True,
        timeout=PROCESS_START_BOUND,
        env=job_env,
        cwd=tmp_path,
    )
    assert sorted(json.loads(found.stdout)) == ["pip", "setuptools"]  # the image's own installers, nothing else
    imported = subprocess.run(
        [interpreter, "-c", "import pytest"],
        capture_output=True,
        timeout=PROCESS_START_BOUND,
        env=job_env,
        cwd=tmp_path,
    )
    assert imported.returncode == 1


def test_a_runtime_with_layers_holds_every_pin_and_refuses_two_versions_of_one() -> None:
    runtime = EnvironmentSpec("runtime", "3.11", {"boto3": "1.43.106", "urllib3": "2.8.0"})
    layer = EnvironmentSpec("layer", "3.11", {"pydantic": "2.14.3", "urllib3": "2.8.0"})

    both = combined_spec("runtime+layer", [runtime, layer])

    assert both == EnvironmentSpec(
        "runtime+layer", "3.11", {"boto3": "1.43.106", "urllib3": "2.8.0", "pydantic": "2.14.3"}
    )
    assert both.key() not in {runtime.key(), layer.key()}
    with pytest.raises(ValueError, match=r"urllib3 is pinned to 2.8.0 and to 1.26.20; pin one version"):
        combined_spec("clash", [runtime, EnvironmentSpec("old", "3.11", {"urllib3": "1.26.20"})])
    with pytest.raises(ValueError, match=r"different Pythons"):
        combined_spec("two", [runtime, EnvironmentSpec("py39", "3.9", {})])


def test_the_glue_profile_pins_glues_documented_versions_and_links_spark() -> None:
    path = GLUE_PROFILES / "glue-5.0.toml"
    spec, documented = EnvironmentSpec.from_profile(path), RuntimeProfile.load(path).packages
    assert spec.pins["pandas"] == "2.2.2" and spec.pins["numpy"] == "1.26.4" and spec.pins["pyarrow"] == "17.0.0"
    assert sorted(spec.linked) == ["py4j", "pyspark"] and "scikit-learn" not in spec.pins
    # Every documented module at its documented version; Spark's own linked, pip and setuptools the seed's,
    # plotly and kaleido left out (the profile says why).
    platform = {"pyspark", "py4j", "pip", "setuptools", "plotly", "kaleido"}
    assert {name: f"=={version}" for name, version in spec.pins.items() if name in documented} == {
        name: version for name, version in documented.items() if name not in platform
    }


def test_linked_distributions_are_this_machines_and_part_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "linked.toml"
    path.write_text('[profile]\nname = "linked"\n[local]\npython = "3.11"\nrequirements = []\nlinked = ["packaging"]\n')
    spec, plain = EnvironmentSpec.from_profile(path), EnvironmentSpec.from_profile(profile(tmp_path, ""))
    assert spec.key() != plain.key() and plain.linked == {}
    environments = RuntimeEnvironments(tmp_path / "cache")
    environments.build(spec)  # nothing to download: offline
    shown = subprocess.run(
        [environments.interpreter(spec), "-I", "-c", "import importlib.metadata as m; print(m.version('packaging'))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=PROCESS_START_BOUND,
        cwd=tmp_path,
    )
    assert shown.stdout.strip() == importlib.metadata.version("packaging")
    path.write_text(path.read_text().replace('"packaging"', '"not-installed-here"'))
    with pytest.raises(ValueError, match="linked names 'not-installed-here', which is not installed here"):
        EnvironmentSpec.from_profile(path)


def test_entries_whose_linked_distributions_are_gone_are_removed_at_the_next_build(tmp_path: Path) -> None:
    """Each clone's test environment links Spark into a Glue entry of its own (the key names the location); once
    the clone is gone the entry can never be found again, and it held about 600 MB (27 of them filled 16 GB)."""
    cache, installed = tmp_path / "cache", tmp_path / "clone" / "pyspark"
    installed.mkdir(parents=True)

    def entry(name: str, *, built: bool = True, link_to: Path | None = None) -> Path:
        folder = cache / name / "lib" / "python3.11" / "site-packages"
        folder.mkdir(parents=True)
        (folder / "numpy").mkdir()
        if link_to is not None:
            (folder / "pyspark").symlink_to(link_to)
        if built:
            (cache / name / "runtime.json").write_text("{}")
        return cache / name

    live = entry("glue-5.0-live", link_to=installed)
    plain = entry("sklearn-1.2-1-plain")
    orphan = entry("glue-5.0-orphan", link_to=tmp_path / "removed-clone" / "pyspark")
    building = entry(".glue-5.0-orphan-x1y2", built=False, link_to=tmp_path / "removed-clone" / "pyspark")
    said: list[str] = []

    assert build_each([], said.append, RuntimeEnvironments(cache)) == []

    assert not orphan.exists()
    assert live.is_dir() and plain.is_dir() and building.is_dir()
    assert said == ["removed the runtime environment glue-5.0-orphan: what it linked is no longer installed"]
