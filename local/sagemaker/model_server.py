"""One instance of a production variant: a model server with the SKLearn serving contract.

Started by the local SageMaker as its own process (this file runs as a script, with the standard
library, numpy and the user's code only): it binds a free port on 127.0.0.1 and prints it, loads
the model with the inference script's `model_fn(model_dir)`, and then answers

* `GET /ping` with 200 once the model is loaded (503 before), and
* `POST /invocations` through `input_fn` -> `predict_fn` -> `output_fn` (or `transform_fn`),
  with the SKLearn container's defaults for the functions the script leaves out.

An error raised by `input_fn` (a bad payload) answers 4xx with its message; any other error 5xx.
An exception's own `status_code` attribute wins, as in SageMaker's inference toolkit.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_CONTENT_TYPE = "application/json"


class ServingError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _status_of(error: BaseException, default: int) -> int:
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and 400 <= status <= 599:
        return status
    return default


class DefaultHandlers:
    """The SKLearn container's default `input_fn`, `predict_fn` and `output_fn`."""

    @staticmethod
    def input_fn(body: bytes, content_type: str) -> Any:
        import numpy as np

        base = content_type.split(";")[0].strip().lower()
        if base == "application/json":
            return np.array(json.loads(body.decode("utf-8")))
        if base == "text/csv":
            text = body.decode("utf-8").strip()
            rows = [[float(cell) for cell in line.split(",")] for line in text.splitlines() if line.strip()]
            return np.array(rows)
        if base == "application/x-npy":
            return np.load(io.BytesIO(body), allow_pickle=False)
        raise ServingError(415, f"Content type {content_type} is not supported by this framework.")

    @staticmethod
    def predict_fn(data: Any, model: Any) -> Any:
        return model.predict(data)

    @staticmethod
    def output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
        import numpy as np

        base = accept.split(";")[0].strip().lower()
        array = np.asarray(prediction)
        if base == "application/json":
            return json.dumps(array.tolist()).encode("utf-8"), accept
        if base == "text/csv":
            rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
            return "\n".join(",".join(str(v) for v in row) for row in rows.tolist()).encode("utf-8"), accept
        if base == "application/x-npy":
            buffer = io.BytesIO()
            np.save(buffer, array)
            return buffer.getvalue(), accept
        raise ServingError(406, f"Accept type {accept} is not supported by this framework.")


class InferenceScript:
    def __init__(self, code_dir: str, program: str) -> None:
        self.module: Any = None
        if program:
            sys.path.insert(0, code_dir)
            self.module = importlib.import_module(program[:-3] if program.endswith(".py") else program)

    def function(self, name: str) -> Any:
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
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", DEFAULT_CONTENT_TYPE)

    def load(self) -> None:
        self.script = InferenceScript(self.code_dir, self.program)
        model_fn = self.script.function("model_fn")
        if model_fn is None:
            raise RuntimeError(
                f"{self.program or 'the inference script'} defines no model_fn(model_dir): the SKLearn "
                "serving container needs it to load the model"
            )
        self.model = model_fn(self.model_dir)
        self.ready.set()

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[int, bytes, str]:
        assert self.script is not None
        if not accept or accept == "*/*":
            accept = self.default_accept
        content_type = content_type or DEFAULT_CONTENT_TYPE
        transform_fn = self.script.function("transform_fn")
        try:
            if transform_fn is not None:
                result = transform_fn(self.model, body, content_type, accept)
            else:
                input_fn = self.script.function("input_fn") or DefaultHandlers.input_fn
                try:
                    data = input_fn(body, content_type)
                except Exception as error:  # a payload the model cannot read: the caller's fault
                    return self._error(error, 400)
                predict_fn = self.script.function("predict_fn") or DefaultHandlers.predict_fn
                prediction = predict_fn(data, self.model)
                output_fn = self.script.function("output_fn") or DefaultHandlers.output_fn
                result = output_fn(prediction, accept)
        except Exception as error:
            return self._error(error, 500)
        response_type = accept
        if isinstance(result, tuple):
            result, response_type = result[0], result[1]
        if isinstance(result, str):
            result = result.encode("utf-8")
        elif not isinstance(result, bytes | bytearray):
            result = json.dumps(result).encode("utf-8")
        return 200, bytes(result), response_type

    @staticmethod
    def _error(error: BaseException, default: int) -> tuple[int, bytes, str]:
        status = error.status if isinstance(error, ServingError) else _status_of(error, default)
        if status >= 500:
            traceback.print_exc()
        else:
            print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
        message = str(error) or type(error).__name__
        return status, message.encode("utf-8"), "text/plain"


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

        def do_GET(self) -> None:
            if self.path == "/ping":
                ok = service.ready.is_set()
                self._send(200 if ok else 503, b"" if ok else b"loading", "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path != "/invocations":
                self._send(404, b"not found", "text/plain")
                return
            if not service.ready.is_set():
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, b"model is loading", "text/plain")
                return
            status, payload, content_type = service.invoke(
                body, self.headers.get("Content-Type", ""), self.headers.get("Accept", "")
            )
            self._send(status, payload, content_type)

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
