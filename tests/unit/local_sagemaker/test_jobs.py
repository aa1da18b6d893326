"""The pure parts of running jobs: container paths, the container's Python, arguments, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.sagemaker.jobs import ContainerPaths, last_error_lines
from local.sagemaker.training import decode_hyperparameter, to_cmd_args

WORK = Path("/state/work/job")
PY = "/venv/bin/python"


def paths() -> ContainerPaths:
    return ContainerPaths(WORK, PY)


def test_container_paths_map_under_the_work_directory() -> None:
    assert paths().host("/opt/ml/processing/input") == WORK / "opt/ml/processing/input"
    with pytest.raises(ValueError, match="is not under /opt/ml"):
        paths().host("/tmp/input")


@pytest.mark.parametrize(
    ("text", "mapped"),
    [
        ("/opt/ml/processing/input", "/state/work/job/opt/ml/processing/input"),
        ("--input=/opt/ml/model", "--input=/state/work/job/opt/ml/model"),
        ("/opt/ml", "/state/work/job/opt/ml"),
        ("s3://bucket/opt/ml/data", "s3://bucket/opt/ml/data"),  # not a container path
        ("/data/opt/ml/x", "/data/opt/ml/x"),
        ("/opt/mlflow", "/opt/mlflow"),
    ],
)
def test_only_container_paths_are_mapped(text: str, mapped: str) -> None:
    assert paths().map_text(text) == mapped


def test_the_containers_python_is_this_interpreter() -> None:
    assert paths().map_command(["python3", "/opt/ml/processing/code/evaluate.py"]) == [
        PY,
        "/state/work/job/opt/ml/processing/code/evaluate.py",
    ]
    assert paths().map_command(["/usr/bin/python3.11", "x.py"])[0] == PY
    assert paths().map_command(["python3-config"])[0] == "python3-config"


def test_an_sh_c_command_string_is_mapped_too() -> None:
    command = paths().map_command(
        ["sh", "-c", "pip list && python3 /opt/ml/processing/code/evaluate.py --out /opt/ml/processing/output"]
    )
    assert command == [
        "sh",
        "-c",
        f"pip list && {PY} /state/work/job/opt/ml/processing/code/evaluate.py --out "
        "/state/work/job/opt/ml/processing/output",
    ]


def test_hyperparameters_become_the_toolkits_arguments() -> None:
    decoded = {
        key: decode_hyperparameter(value)
        for key, value in {
            "max_iter": "200",
            "learning_rate": "0.1",
            "early_stopping": "true",
            "name": '"hgb"',
            "plain": "not json",
            "a": "1",
        }.items()
    }
    assert decoded["name"] == "hgb" and decoded["plain"] == "not json" and decoded["early_stopping"] is True
    assert to_cmd_args(decoded) == [
        "-a",
        "1",
        "--early_stopping",
        "True",
        "--learning_rate",
        "0.1",
        "--max_iter",
        "200",
        "--name",
        "hgb",
        "--plain",
        "not json",
    ]
    assert to_cmd_args({"mapping": {"b": 2, "a": 1}}) == ["--mapping", "a=1,b=2"]


def test_the_error_lines_are_the_tracebacks_exception() -> None:
    stderr = [
        "INFO starting\n",
        "Traceback (most recent call last):\n",
        '  File "train.py", line 3, in <module>\n',
        "    main()\n",
        "retrain.errors.TrainingScriptFailed: no rows left after cleaning\n",
        "the validation split is empty\n",
    ]
    assert last_error_lines(stderr) == (
        "retrain.errors.TrainingScriptFailed: no rows left after cleaning\nthe validation split is empty"
    )
    assert last_error_lines(["a\n", "b\n", "c\n", "d\n"]) == "b\nc\nd"
    assert len(last_error_lines(["x" * 5000], limit=100)) == 100
