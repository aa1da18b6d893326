"""The serving contract of the SageMaker scikit-learn 1.2-1 container, as the local model server answers it,
without a process. Sources: aws/sagemaker-scikit-learn-container branch 1.2-1
(src/sagemaker_sklearn_container/serving.py) over sagemaker-containers 2.8.6.post2 (_transformer.py,
_functions.py, _encoders.py, _worker.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from local.sagemaker.model_server import (
    INTERNAL_ERROR_PAGE,
    DefaultHandlers,
    ModelService,
    Prepared,
    UnsupportedFormatError,
    UserError,
)

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


def serve(tmp_path: Path, script: str) -> ModelService:
    program = f"serve_{uuid.uuid4().hex}.py"  # a module name of its own: imported modules stay cached
    (tmp_path / program).write_text(script)
    service = ModelService(str(tmp_path), str(tmp_path), program)
    service.load()
    return service


@pytest.fixture
def service(tmp_path: Path) -> ModelService:
    return serve(tmp_path, SCRIPT)


def test_the_scripts_functions_serve_with_the_default_output(service: ModelService) -> None:
    status, body, content_type = service.invoke(b"[1, 2]", "application/json", "")
    assert (status, json.loads(body), content_type) == (200, [2, 4], "application/json")


def test_any_exception_of_the_scripts_functions_is_a_500_whatever_its_status_code(service: ModelService) -> None:
    # _functions.error_wrapper re-raises it as ClientError, which _transformer.py does not catch: Flask's 500.
    for body in (b"[]", b"[1,2,3,4]", b"[0]"):
        assert service.invoke(body, "application/json", "application/json") == (
            500,
            INTERNAL_ERROR_PAGE,
            "text/html; charset=utf-8",
        )


def test_a_returned_wsgi_application_answers_with_its_own_status(tmp_path: Path) -> None:
    script = """
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    def answer(environ, start_response):
        start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
        return [b'{"error": "BadRequest"}']
    return answer if body == b"bad" else ("fine", "text/plain")
"""
    service = serve(tmp_path, script)
    assert service.invoke(b"bad", "text/csv", "") == (400, b'{"error": "BadRequest"}', "application/json")
    assert service.invoke(b"good", "text/csv", "") == (200, b"fine", "text/plain")


def test_transform_fn_beside_input_fn_cannot_load(tmp_path: Path) -> None:
    script = "def model_fn(d):\n    return 1\ndef input_fn(b, c):\n    return b\n"
    script += "def transform_fn(m, b, c, a):\n    return b\n"
    with pytest.raises(UserError, match="Cannot use transform_fn implementation with input_fn"):
        serve(tmp_path, script)


def test_a_script_without_model_fn_cannot_load(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(RuntimeError, match="defines no model_fn"):
        ModelService(str(tmp_path), str(tmp_path), "empty.py").load()


def test_the_default_decoder_and_encoder_refuse_other_types_with_415_and_406(tmp_path: Path) -> None:
    class Model:
        def predict(self, data: np.ndarray) -> np.ndarray:
            return data.sum(axis=1)

    service = serve(tmp_path, "def model_fn(model_dir):\n    return None\n")
    service.model = Model()
    assert service.invoke(b"1,2\n3,4\n", "text/csv", "") == (200, b"[3.0, 7.0]", "application/json")
    status, body, content_type = service.invoke(b"1,2", "text/csv; charset=utf-8", "")  # looked up exactly
    assert (status, content_type, json.loads(body)["error"]) == (415, "application/json", "UnsupportedFormatError")
    assert service.invoke(b"[[1, 2]]", "application/json", "application/xml")[0] == 406
    assert service.invoke(b"not json", "application/json", "")[0] == 500  # a decoding error is not a format error


def test_default_decoders_and_encoders_of_the_sklearn_container() -> None:
    assert DefaultHandlers.input_fn(b"1,2\n3,4\n", "text/csv").tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert DefaultHandlers.input_fn(b"[[1, 2]]", "application/json").dtype == np.float32
    with pytest.raises(UnsupportedFormatError, match="Content type image/png is not supported"):
        DefaultHandlers.input_fn(b"x", "image/png")
    prepared = DefaultHandlers.output_fn(np.array([0.5, 1.0]), "text/csv")
    assert isinstance(prepared, Prepared) and prepared.answer == (200, b"0.5\n1.0\n", "text/csv")
    with pytest.raises(UnsupportedFormatError):
        DefaultHandlers.output_fn(np.array([1]), "application/xml")
