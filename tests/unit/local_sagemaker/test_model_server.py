"""The SKLearn serving contract of the variant model server, without a process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from local.sagemaker.model_server import DefaultHandlers, ModelService, ServingError

SCRIPT = """
import json

class TooLarge(ValueError):
    status_code = 413

def model_fn(model_dir):
    return {"factor": 2}

def input_fn(body, content_type):
    data = json.loads(body)
    if len(data) > 3:
        raise TooLarge("at most 3 rows")
    if not data:
        raise ValueError("no rows")
    return data

def predict_fn(data, model):
    if data == [0]:
        raise ZeroDivisionError("cannot score zero")
    return [row * model["factor"] for row in data]
"""


@pytest.fixture
def service(tmp_path: Path) -> ModelService:
    (tmp_path / "serve.py").write_text(SCRIPT)
    service = ModelService(str(tmp_path), str(tmp_path), "serve.py")
    service.load()
    return service


def test_the_scripts_functions_serve_with_the_default_output(service: ModelService) -> None:
    status, body, content_type = service.invoke(b"[1, 2]", "application/json", "")
    assert (status, json.loads(body), content_type) == (200, [2, 4], "application/json")


def test_input_errors_are_4xx_with_their_message_and_their_own_status(service: ModelService) -> None:
    assert service.invoke(b"[]", "application/json", "application/json")[:2] == (400, b"no rows")
    assert service.invoke(b"[1,2,3,4]", "application/json", "application/json")[:2] == (413, b"at most 3 rows")


def test_other_errors_are_5xx(service: ModelService) -> None:
    status, body, _ = service.invoke(b"[0]", "application/json", "application/json")
    assert (status, body) == (500, b"cannot score zero")


def test_a_script_without_model_fn_cannot_load(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(RuntimeError, match="defines no model_fn"):
        ModelService(str(tmp_path), str(tmp_path), "empty.py").load()


def test_default_decoders_and_encoders_of_the_sklearn_container() -> None:
    assert DefaultHandlers.input_fn(b"1,2\n3,4\n", "text/csv").tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert DefaultHandlers.input_fn(b"[[1, 2]]", "application/json; charset=utf-8").tolist() == [[1, 2]]
    with pytest.raises(ServingError) as unsupported:
        DefaultHandlers.input_fn(b"x", "image/png")
    assert unsupported.value.status == 415
    body, content_type = DefaultHandlers.output_fn(np.array([0.5, 1.0]), "text/csv")
    assert (body, content_type) == (b"0.5\n1.0", "text/csv")
    with pytest.raises(ServingError) as not_acceptable:
        DefaultHandlers.output_fn(np.array([1]), "application/xml")
    assert not_acceptable.value.status == 406
