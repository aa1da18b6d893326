"""The runtime profiles of Lambda python3.11 (with the Powertools layer) and Glue 5.0, and what they let a
function or a job import: their sources are cited in the profile files (local/emulator/profiles/)."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from infra.jobs import GLUE_MODULES
from local.emulator.awslambda import FunctionEnvironments
from local.glue_runner import GlueImports, GlueJobRun, GlueRunError, additional_modules
from local.runtime.environments import EnvironmentSpec, RuntimeEnvironments
from local.runtime.isolation import RuntimeProfile, canonical
from tests.support.jobs import JOBS_DIR, REPO_ROOT
from tests.unit.jobs.test_jobs_container_imports import imported_modules

ROOT = REPO_ROOT

POWERTOOLS = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"


def test_a_function_gets_the_runtimes_boto3_and_only_with_the_layer_powertools_and_pydantic(tmp_path: Path) -> None:
    functions = FunctionEnvironments.from_profiles(RuntimeEnvironments(tmp_path))

    bare = functions.spec({"Runtime": "python3.11"})
    layered = functions.spec({"Runtime": "python3.11", "Layers": [{"Arn": POWERTOOLS}]})

    for distribution in ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3"):
        assert distribution in bare.pins and layered.pins[distribution] == bare.pins[distribution]
    for distribution in ("aws-lambda-powertools", "pydantic", "aws-xray-sdk"):
        assert distribution not in bare.pins and distribution in layered.pins
    for distribution in ("pandas", "numpy", "scikit-learn", "pyspark"):
        assert distribution not in layered.pins
    assert [spec.name for spec in functions.every_spec()] == [bare.name, layered.name]
    assert layered.name == "lambda-python3.11+powertools-python-v3-layer"


def test_a_python_workers_path_is_the_functions_own_never_the_emulators(tmp_path: Path) -> None:
    assert FunctionEnvironments.environment({"Runtime": "python3.11"}) == {"PYTHONPATH": ""}
    own = {"Runtime": "python3.11", "Environment": {"Variables": {"PYTHONPATH": "/opt/own"}}}
    assert FunctionEnvironments.environment(own) == {"PYTHONPATH": "/opt/own"}


def test_a_function_whose_environment_is_not_built_fails_at_once_naming_the_command(tmp_path: Path) -> None:
    functions = FunctionEnvironments.from_profiles(RuntimeEnvironments(tmp_path))
    started: list[object] = []
    spawn = functions._spawn_in_environment(started.append)  # the emulator's Worker._spawn, wrapped
    worker = SimpleNamespace(config={"FunctionName": "f", "Runtime": "python3.11"})

    with pytest.raises(RuntimeError, match=r"lambda-python3.11 of function f is not built .*`retrain local runtimes`"):
        spawn(worker)
    assert started == []  # no worker process was started


def spark_run(glue_version: str = "5.0", **arguments: str) -> GlueJobRun:
    return GlueJobRun("job", "jr_1", "glueetl", "file:///job.py", arguments, 10, glue_version)


class BuiltEnvironments(RuntimeEnvironments):
    """Every environment built, at a fixed place: what a run's environment names, without building one."""

    def interpreter(self, spec: EnvironmentSpec) -> str:
        return f"/environments/{spec.name}/bin/python"


def test_a_glue_5_job_runs_on_its_environment_with_its_own_folders_and_added_modules(tmp_path: Path) -> None:
    imports = GlueImports(tmp_path, environments=BuiltEnvironments(tmp_path / "cache"))
    python = "/environments/glue-5.0/bin/python"

    environment = imports.environment(spark_run(), [tmp_path / "py-files" / "lib.zip"])
    added = imports.environment(spark_run(**{"--additional-python-modules": "scikit-learn==1.5.2"}), [])

    assert environment == {
        "PYTHONPATH": str(tmp_path / "py-files" / "lib.zip"),
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
    }
    # scikit-learn and what it needs that Glue lacks, this machine's; numpy stays the environment's.
    linked = {path.name for path in Path(added["PYTHONPATH"]).iterdir()}
    assert {"sklearn", "scipy", "joblib"} <= linked
    assert not linked & {"numpy", "pandas", "pyspark", "pydantic"}


def test_a_glue_version_without_a_profile_is_refused_with_the_fix(tmp_path: Path) -> None:
    imports = GlueImports(tmp_path, environments=BuiltEnvironments(tmp_path / "cache"))
    with pytest.raises(GlueRunError, match=r"no runtime profile for GlueVersion 3.0; use one it has \(5.0\)"):
        imports.environment(spark_run("3.0"), [])


@pytest.mark.parametrize(
    ("given", "names"),
    [
        (
            "scikit-learn==1.5.2, s3://bucket/wheels/PyYAML-6.0.1-cp311-cp311-manylinux_2_17_x86_64.whl",
            ("pyyaml", "scikit-learn"),
        ),
        ("", ()),
    ],
)
def test_additional_python_modules_are_requirements_and_wheels(given: str, names: tuple[str, ...]) -> None:
    assert additional_modules({"--additional-python-modules": given}) == names


def test_a_requirements_file_is_refused_with_the_fix() -> None:
    with pytest.raises(GlueRunError, match=r"not 's3://bucket/requirements.txt' .*list the modules instead"):
        additional_modules({"--additional-python-modules": "s3://bucket/requirements.txt"})


def unprovided_imports(files: list[Path], own: set[str], allowed: frozenset[str], provided: set[str]) -> list[str]:
    """Each import of `files` that is neither the standard library, `own`, `provided` nor an allowed distribution."""
    providers = importlib.metadata.packages_distributions()
    missing = []
    for path in files:
        for module in sorted(imported_modules(path)):
            if module in sys.stdlib_module_names or module in own or module in provided:
                continue
            if not any(canonical(dist) in allowed for dist in providers.get(module, [])):
                missing.append(f"{path.name} imports {module} ({', '.join(providers.get(module, ['not installed']))})")
    return missing


def test_every_import_of_the_lambda_code_asset_is_in_the_runtime_or_the_powertools_layer(tmp_path: Path) -> None:
    # The static twin of the isolated environment: code paths a test run may not reach. The asset is retrain/
    # and tasks/; the stack's functions all name the layer.
    layered = FunctionEnvironments.from_profiles(RuntimeEnvironments(tmp_path)).spec({"Layers": [POWERTOOLS]})
    files = sorted((ROOT / "retrain").rglob("*.py")) + sorted((ROOT / "tasks").rglob("*.py"))

    missing = unprovided_imports(files, {"retrain", "tasks"}, frozenset(layered.pins), set())

    assert not missing, "not in the Lambda python3.11 runtime nor the Powertools layer: " + "; ".join(missing)


def test_every_import_of_the_glue_job_is_provided_by_glue_5_and_in_its_environment() -> None:
    path = ROOT / "local" / "emulator" / "profiles" / "glue-5.0.toml"
    spec = EnvironmentSpec.from_profile(path)
    # What AWS documents and, of it, what the local environment holds (a subset: plotly and kaleido left out).
    allowed = RuntimeProfile.load(path).allowed_distributions() & {*spec.pins, *spec.linked}
    own = {path.stem for path in JOBS_DIR.glob("*.py")}
    # The job's script and the flat modules the stack zips for its --extra-py-files (infra/jobs.py GLUE_MODULES).
    files = [JOBS_DIR / name for name in ("prepare_data.py", *GLUE_MODULES)]

    # awsglue is Glue's own ETL library: provided by Glue, not installed here (the script falls back without it).
    missing = unprovided_imports(files, own, allowed, {"awsglue"})

    assert not missing, "not provided by AWS Glue 5.0: " + "; ".join(missing)
