"""What the Lambda isolated environment costs: a Python worker's cold start, before and after.

A cold start here is what the emulator's warm pool does on a function's first invocation (ministack
`Worker._spawn` then `Worker.invoke`): start its worker script (`_PYTHON_WORKER_SCRIPT`, as the local AWS
edits it) on an interpreter, send the init line, wait for `ready` (the handler module imported), send one
event and wait for its answer. Timed from the process start to that first answer. The handler module
imports one of the stack's handlers (`tasks.compare_with_champion`: Powertools, pydantic, boto3, the
project's core) from a folder holding what the stack's code asset holds (retrain/, tasks/, retrain.toml).

- before: the emulator's interpreter (the project's venv), as the local AWS ran Lambda workers until the
  isolated environments (then under an import guard of the runtime and layer profiles, since removed: the
  committed results were measured with it);
- after: the interpreter of the function's isolated environment (`FunctionEnvironments`, built by
  `retrain local runtimes`), with an empty `PYTHONPATH`.

`--runs` times each, alternating, so both see the same load. Results go to
benchmarks/results/lambda_environment.json.

    python benchmarks/bench_lambda_environment.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_glue
from bench_glue import ROOT

sys.path.insert(0, str(ROOT))
from local.emulator import awslambda

RESULTS = ROOT / "benchmarks" / "results" / "lambda_environment.json"
POWERTOOLS = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:27"
HANDLER_MODULE = "tasks.compare_with_champion"
HANDLER = f"import {HANDLER_MODULE}\n\n\ndef handler(event, context):\n    return 'ok'\n"


def worker_script() -> str:
    """The emulator's Python worker script with the local AWS's edits (error types), as a worker runs it."""
    from local.emulator.seam import lambda_runtime

    awslambda.LambdaErrorTypes().install()
    return str(lambda_runtime()._PYTHON_WORKER_SCRIPT)


def cold_start(interpreter: str, script: Path, code: Path, env: dict[str, str]) -> float:
    """Seconds from the worker's start to its answer to the first event."""
    began = time.perf_counter()
    worker = subprocess.Popen(
        [interpreter, str(script)],
        cwd=code,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        worker.stdin.write(json.dumps({"code_dir": str(code), "module": "bench_handler", "handler": "handler"}) + "\n")
        worker.stdin.flush()
        ready = json.loads(worker.stdout.readline())
        if ready.get("status") != "ready":
            raise RuntimeError(f"the worker did not start: {ready}")
        worker.stdin.write(json.dumps({"event": {}, "ctx": {"request_id": "bench"}}) + "\n")
        worker.stdin.flush()
        answer = json.loads(worker.stdout.readline())
        if answer != {"status": "ok", "result": "ok"}:
            raise RuntimeError(f"the first invocation failed: {answer}")
        return round(time.perf_counter() - began, 3)
    finally:
        worker.stdin.close()
        worker.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    config = {"FunctionName": "bench", "Runtime": "python3.11", "Layers": [POWERTOOLS]}
    environments = awslambda.FunctionEnvironments.from_profiles()
    after_interpreter = environments.interpreter(config)  # fails naming `retrain local runtimes` when missing
    with tempfile.TemporaryDirectory(prefix="bench-lambda-env-") as scratch:
        root = Path(scratch)
        code = root / "code"
        for part in ("retrain", "tasks"):
            shutil.copytree(ROOT / part, code / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "retrain.toml", code / "retrain.toml")
        (code / "bench_handler.py").write_text(HANDLER, encoding="utf-8")
        script = root / "_worker.py"
        script.write_text(worker_script(), encoding="utf-8")
        base = {**os.environ, "POWERTOOLS_SERVICE_NAME": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        base.pop("PYTHONPATH", None)
        runs = {
            "before": (sys.executable, base),
            "after": (after_interpreter, {**base, **environments.environment(config)}),
        }
        timings: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.runs):
            for name, (interpreter, env) in runs.items():
                timings[name].append(cold_start(interpreter, script, code, env))
                print(f"{name}: {timings[name][-1]} s", flush=True)
    result = {
        "benchmark": "a Lambda worker's cold start (process start to the first answer): project's venv vs isolated env",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": bench_glue.machine(load_before),
        "handler_module": HANDLER_MODULE,
        "environment": environments.spec(config).name,
        "cold_start_median_seconds": {name: round(statistics.median(v), 3) for name, v in timings.items()},
        "cold_start_seconds": timings,
    }
    bench_glue.write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
