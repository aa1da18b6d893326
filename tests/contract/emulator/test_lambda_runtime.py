"""A Python Lambda imports what its zip, its layers and the runtime give it, and nothing else installed here.

On AWS a function's code sees its zip, its layers and the runtime's boto3 ("Your code runs in an environment
that includes the SDK for Python (Boto3)", Lambda developer guide, lambda-python.html). A handler whose import
fails is reported by the runtime's client as `Runtime.ImportModuleError`, "Unable to import module '<module>':
<the ImportError>" (aws-lambda-python-runtime-interface-client, awslambdaric/bootstrap.py `_get_handler`). The
emulator alone runs every function on its own interpreter, with the packages of the project's environment
(`FunctionEnvironments` runs it on an isolated environment of its runtime and layers instead; profiles in
local/emulator/profiles/).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from local.emulator.awslambda import FunctionEnvironments
from local.runtime.environments import RuntimeEnvironments
from tests.support.emulator import FunctionFactory

pytestmark = pytest.mark.local

# The public Powertools layer every function of the stack names (infra/settings.py); the local AWS does not hold it.
POWERTOOLS_LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"
# pandas is installed here (the jobs need it) and is neither in the runtime nor in the Powertools layer.
IMPORTS_PANDAS = """
import pandas


def handler(event, context):
    return {"rows": len(pandas.DataFrame({"a": [1]}))}
"""
IMPORTS_ZIP_LAYER_AND_RUNTIME = """
import boto3
import pydantic
from aws_lambda_powertools import Logger

from mylib.shapes import Order


def handler(event, context):
    Logger(service="contract").info("validated")
    return {"order": Order(**event).model_dump(), "sdk": boto3.__name__}
"""
SHAPES = """
from pydantic import BaseModel


class Order(BaseModel):
    id: int
"""
IMPORTS_POWERTOOLS = """
import aws_lambda_powertools


def handler(event, context):
    return {"ok": True}
"""

# The project's own core, installed here (editable), which the stack's functions carry in their zip.
IMPORTS_THE_CORE = """
from retrain.errors import SchemaMismatch


def handler(event, context):
    return SchemaMismatch.__name__
"""

# What the function's interpreter is and holds: where it runs, and every distribution it can import.
REPORTS_ITS_INTERPRETER = """
import importlib.metadata
import re
import sys

import boto3
import botocore


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def handler(event, context):
    return {
        "prefix": sys.prefix,
        "executable": sys.executable,
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "distributions": sorted(canonical(d.metadata["Name"]) for d in importlib.metadata.distributions()),
    }
"""


def invoke(functions: FunctionFactory, aws_clients: Any, name: str, payload: dict[str, Any]) -> tuple[str, Any]:
    response = aws_clients.client("lambda").invoke(
        FunctionName=f"{functions.prefix}-{name}", Payload=json.dumps(payload).encode()
    )
    return response.get("FunctionError", ""), json.loads(response["Payload"].read())


def test_a_package_absent_from_the_zip_and_the_layers_is_runtime_import_module_error(
    functions: FunctionFactory, aws_clients: Any
) -> None:
    functions.create("pandas", IMPORTS_PANDAS, Layers=[POWERTOOLS_LAYER])

    error, payload = invoke(functions, aws_clients, "pandas", {})

    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'handler': No module named 'pandas'"


def test_the_zip_the_layers_packages_and_the_runtimes_boto3_import(
    functions: FunctionFactory, aws_clients: Any
) -> None:
    files = {"mylib/__init__.py": "", "mylib/shapes.py": SHAPES}
    functions.create("provided", IMPORTS_ZIP_LAYER_AND_RUNTIME, files, Layers=[POWERTOOLS_LAYER])

    error, payload = invoke(functions, aws_clients, "provided", {"id": 7})

    assert error == "", payload
    assert payload == {"order": {"id": 7}, "sdk": "boto3"}


def test_without_the_layer_its_packages_are_absent(functions: FunctionFactory, aws_clients: Any) -> None:
    functions.create("bare", IMPORTS_POWERTOOLS)

    error, payload = invoke(functions, aws_clients, "bare", {})

    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'handler': No module named 'aws_lambda_powertools'"


def test_the_projects_own_packages_come_only_with_the_zip(functions: FunctionFactory, aws_clients: Any) -> None:
    functions.create("unzipped", IMPORTS_THE_CORE, Layers=[POWERTOOLS_LAYER])

    error, payload = invoke(functions, aws_clients, "unzipped", {})

    assert error == "Unhandled"
    assert payload["errorMessage"] == "Unable to import module 'handler': No module named 'retrain'"


def test_a_missing_handler_is_runtime_handler_not_found(functions: FunctionFactory, aws_clients: Any) -> None:
    functions.create("nohandler", "def other(event, context):\n    return 1\n")

    error, payload = invoke(functions, aws_clients, "nohandler", {})

    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.HandlerNotFound"
    assert payload["errorMessage"] == "Handler 'handler' missing on module 'handler'"


@pytest.mark.parametrize("layers", [[], [POWERTOOLS_LAYER]], ids=["runtime", "with-powertools"])
def test_a_function_runs_on_the_isolated_environment_of_its_runtime_and_layers_never_the_projects(
    functions: FunctionFactory, aws_clients: Any, layers: list[str]
) -> None:
    name = f"where{len(layers)}"
    functions.create(name, REPORTS_ITS_INTERPRETER, Layers=layers)
    spec = FunctionEnvironments.from_profiles().spec({"Layers": layers})

    error, payload = invoke(functions, aws_clients, name, {})

    assert error == "", payload
    assert payload["prefix"] == str(RuntimeEnvironments().location(spec))
    assert payload["prefix"] != sys.prefix and not payload["executable"].startswith(sys.prefix)
    # The runtime's SDK at the profile's pin (lambda-python3.11.toml), whatever this machine has.
    assert (payload["boto3"], payload["botocore"]) == (spec.pins["boto3"], spec.pins["botocore"])
    # Exactly the profile's distributions (and the pip and setuptools every Python runtime has): no pandas, and
    # Powertools only with its layer.
    assert set(payload["distributions"]) - {"pip", "setuptools"} == set(spec.pins)
    assert ("aws-lambda-powertools" in payload["distributions"]) == bool(layers)
