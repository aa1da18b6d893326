"""One instance of a production variant: a model server with the serving contract of the SageMaker
scikit-learn 1.2-1 container.

Started by the local SageMaker as its own process (this file runs as a script, with the standard
library, numpy and the user's code only): it binds a free port on 127.0.0.1 and prints it, loads
the model with the inference script's `model_fn(model_dir)`, and then answers as the container does.
The container's sources, branch 1.2-1 of aws/sagemaker-scikit-learn-container
(src/sagemaker_sklearn_container/serving.py) over sagemaker-containers 2.8.6.post2
(_worker.py, _transformer.py, _functions.py, _encoders.py, _env.py, etc/nginx.conf.template):

* `GET /ping`: 200, empty, once the model is loaded; `POST /invocations`; `GET /execution-parameters`
  only when the script defines `execution_parameters_fn`; any other path 404 `{}` (nginx).
* The request's content type is its `ContentType` or `Content-Type` header, else application/json; the
  accept type is its `Accept` header unless absent or `*/*`, then `SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`
  (application/json by default).
* `transform_fn`, or `input_fn` -> `predict_fn` -> `output_fn` with the container's defaults for those the
  script leaves out (both kinds together: the container refuses to start).
* Status codes: every exception of the script's own functions is re-raised as the toolkit's ClientError
  (`_functions.error_wrapper`) and answers 500 with Flask's internal-error page, whatever the exception or
  its attributes; only the default decoder and encoder's `UnsupportedFormatError` answer 415 and 406.
  A function may answer with any status by returning a response object (a WSGI application, as a Flask
  `Response` is): Flask runs it (`Flask.make_response`, `Response.force_type`), and so does this server.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import os
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
ANY = "*/*"
UTF8_TYPES = (JSON, CSV)
# werkzeug 2.0.3 (the image's) InternalServerError page, which Flask answers for an unhandled exception.
INTERNAL_ERROR_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<title>500 Internal Server Error</title>\n'
    b"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete "
    b"your request. Either the server is overloaded or there is an error in the application.</p>\n"
)
HTML = "text/html; charset=utf-8"
Answer = tuple[int, bytes, str]


class Prepared:
    """A response the server built itself (the toolkit's `worker.Response`)."""

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.answer: Answer = (status, body, content_type)


class UnsupportedFormatError(Exception):
    """sagemaker_containers._errors.UnsupportedFormatError, raised by the default decoder and encoder."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            textwrap.dedent(
                f"""Content type {content_type} is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README."""
            )
        )


class UserError(Exception):
    """sagemaker_sklearn_container.exceptions.UserError: the script cannot be served."""


class DefaultHandlers:
    """The container's `input_fn`, `predict_fn` and `output_fn` for those a script leaves out."""

    @staticmethod
    def input_fn(body: bytes, content_type: str) -> Any:
        import numpy as np

        # _encoders.decode: the content type as sent, looked up exactly.
        if content_type == JSON:
            array = np.array(json.loads(body.decode("utf-8")))
        elif content_type == CSV:
            rows = list(csv.reader(io.StringIO(body.decode("utf-8")), delimiter=",", strict=True))
            array = np.array(rows).squeeze()
        elif content_type == NPY:
            return np.load(io.BytesIO(body), allow_pickle=False)
        else:
            raise UnsupportedFormatError(content_type)
        # serving.default_input_fn: text types become float32.
        return array.astype(np.float32)

    @staticmethod
    def predict_fn(data: Any, model: Any) -> Any:
        return model.predict(data)

    @staticmethod
    def output_fn(prediction: Any, accept: str) -> Prepared:
        import numpy as np

        array = np.array(prediction)
        if accept == JSON:
            body = json.dumps(array.tolist()).encode("utf-8")
        elif accept == CSV:
            rows = array.reshape(array.shape[0], 1) if array.ndim == 1 else array
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n", delimiter=",", strict=True).writerows(rows.tolist())
            body = buffer.getvalue().encode("utf-8")
        elif accept == NPY:
            buffer_npy = io.BytesIO()
            np.save(buffer_npy, array)
            body = buffer_npy.getvalue()
        else:
            raise UnsupportedFormatError(accept)
        return Prepared(200, body, accept)


class InferenceScript:
    def __init__(self, code_dir: str, program: str) -> None:
        self.module: Any = None
        if program:
            sys.path.insert(0, code_dir)
            self.module = importlib.import_module(program[:-3] if program.endswith(".py") else program)

    def function(self, name: str) -> Callable[..., Any] | None:
        found = getattr(self.module, name, None) if self.module is not None else None
        return found if callable(found) else None


class ModelService:
    def __init__(self, model_dir: str, code_dir: str, program: str) -> None:
        self.model_dir = model_dir
        self.code_dir = code_dir
        self.program = program
        self.model: Any = None
        self.ready = threading.Event()
        self.script: InferenceScript | None = None
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)

    def load(self) -> None:
        self.script = InferenceScript(self.code_dir, self.program)
        model_fn = self.script.function("model_fn")
        if model_fn is None:  # transformer.default_model_fn raises NotImplementedError
            raise RuntimeError(
                f"{self.program or 'the inference script'} defines no model_fn(model_dir): the SKLearn "
                "serving container needs it to load the model"
            )
        if self.script.function("transform_fn") and any(
            self.script.function(name) for name in ("input_fn", "predict_fn", "output_fn")
        ):
            raise UserError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
        self.model = model_fn(self.model_dir)
        self.ready.set()

    def invoke(self, body: bytes, content_type: str, accept: str) -> Answer:
        """`content_type` and `accept` as the request's headers give them ("" when absent)."""
        assert self.script is not None
        content_type = content_type or JSON
        if not accept or accept == ANY:
            accept = self.default_accept
        try:
            transform_fn = self.script.function("transform_fn")
            if transform_fn is not None:
                return _respond(transform_fn(self.model, body, content_type, accept))
            input_fn = self.script.function("input_fn")
            try:
                data = input_fn(body, content_type) if input_fn else DefaultHandlers.input_fn(body, content_type)
            except UnsupportedFormatError as error:
                if input_fn:  # the script's own function: wrapped into ClientError, so a 500
                    raise
                return _unsupported(error, 415)
            predict_fn = self.script.function("predict_fn") or DefaultHandlers.predict_fn
            prediction = predict_fn(data, self.model)
            output_fn = self.script.function("output_fn")
            try:
                result = output_fn(prediction, accept) if output_fn else DefaultHandlers.output_fn(prediction, accept)
            except UnsupportedFormatError as error:
                if output_fn:
                    raise
                return _unsupported(error, 406)
            return _respond(result)
        except Exception:
            traceback.print_exc()
            sys.stderr.flush()
            return 500, INTERNAL_ERROR_PAGE, HTML

    def execution_parameters(self) -> Answer | None:
        assert self.script is not None
        function = self.script.function("execution_parameters_fn")
        return _respond(function()) if function else None


def _unsupported(error: UnsupportedFormatError, status: int) -> Answer:
    """_transformer.Transformer._error_response."""
    body = {"error": type(error).__name__, "error-message": str(error), "stack-trace": traceback.format_exc()}
    return status, json.dumps(body).encode("utf-8"), JSON


def _respond(result: Any) -> Answer:
    """What Flask answers for a view's return value, after `Transformer.transform` turned a tuple into a
    200 response of that content type."""
    if isinstance(result, Prepared):
        return result.answer
    if isinstance(result, tuple):
        body, content_type = result[0], str(result[1])
        return 200, body.encode("utf-8") if isinstance(body, str) else bytes(body), content_type
    if isinstance(result, str):
        return 200, result.encode("utf-8"), HTML
    if isinstance(result, (bytes, bytearray)):
        return 200, bytes(result), HTML
    if isinstance(result, dict):
        return 200, json.dumps(result).encode("utf-8"), JSON
    if callable(result):
        return _run_wsgi(result)
    raise TypeError(f"the view returned {type(result).__name__}, which Flask cannot answer")


def _run_wsgi(application: Callable[..., Iterable[bytes]]) -> Answer:
    """A WSGI application's status, body and content type (werkzeug's `run_wsgi_app`)."""
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started["status"], started["headers"] = status, headers
        return chunks.append

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/invocations", "wsgi.input": io.BytesIO(b"")}
    iterable = application(environ, start_response)
    try:
        chunks.extend(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    headers = {name.lower(): value for name, value in started.get("headers", [])}
    return int(str(started["status"]).split()[0]), b"".join(chunks), headers.get("content-type", HTML)


def make_handler(service: ModelService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the router reuses connections
        # Headers and body go out in two writes: without this, Nagle's algorithm meets the client's
        # delayed ACK and every answer waits ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            if path not in ("/ping", "/invocations", "/execution-parameters"):
                self._send(404, b"{}", "application/octet-stream")  # nginx: location / { return 404 "{}"; }
                return
            if not service.ready.is_set():
                self._send(503, b"model is loading", "text/plain")
                return
            if path == "/ping" and method == "GET":
                self._send(200, b"", JSON)  # _worker.default_healthcheck_fn: Response(status=200)
            elif path == "/invocations" and method == "POST":
                content_type = self.headers.get("ContentType") or self.headers.get("Content-Type") or ""
                self._send(*service.invoke(body, content_type, self.headers.get("Accept", "")))
            elif path == "/execution-parameters" and method == "GET":
                answer = service.execution_parameters()
                self._send(*(answer or (404, b"Not Found", HTML)))
            else:
                self._send(405, b"Method Not Allowed", HTML)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

    return Handler


def _watch_parent(parent: int) -> None:
    """Exit when the local SageMaker that started this server is gone: no orphans on its port."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--program", default="")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    # This file's folder is not the user's: keep its modules out of the inference script's imports.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]

    service = ModelService(args.model_dir, args.code_dir, args.program)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(service))
    server.daemon_threads = True
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    try:
        service.load()
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(3)
    print("model loaded; serving", flush=True)
    serving.join()


if __name__ == "__main__":
    main()
