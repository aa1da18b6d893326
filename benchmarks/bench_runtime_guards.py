"""What the runtime import guards cost: a Lambda worker's cold start and a PrepareData run, with and without.

Lambda: the cold start of a Python worker is a new process that imports the handler's module; the guard
adds its `sitecustomize` (read one JSON file, install a finder) and a look-up per refused name. Measured
as the emulator's worker starts it: `python -c 'import <handler module>'` from a folder holding what the
stack's code asset holds (retrain/, tasks/, retrain.toml), with the variables the import guard gave a
function naming the Powertools layer (Lambda workers run in isolated environments now, whose cost
bench_lambda_environment.py measures), and without them (the emulator's own environment), `--lambda-runs`
times each, interleaved. Warm invocations import nothing new, so the guard costs them nothing. Also the
one-off cost, per local AWS process and profile, of computing what a profile refuses.

Whole process timings on a shared 2-core machine drift by more than the guard costs, so the guard's own
work is measured too, inside the guarded process: its `sitecustomize` (`-X importtime`) and the time spent
in its finder while the handler module (Lambda) or `pyspark.sql` (Glue) imports.

Glue: jobs/prepare_data.py on the demo's data through `LocalGlueJobRunner` on a warm standby driver, with
`GlueImports` and without, `--glue-runs` times each, interleaved (as benchmarks/bench_glue_warm.py).

Results go to benchmarks/results/runtime_guards.json.

    python benchmarks/bench_runtime_guards.py [--lambda-runs 10] [--glue-runs 2] [--days 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_glue
from bench_glue import ROOT, demo_data
from bench_glue_warm import JOBS, job_run, timed_run, wait_ready
from bench_lambda_environment import old_guard

sys.path.insert(0, str(ROOT))
from local.glue_runner import GlueImports, LocalGlueJobRunner

RESULTS = ROOT / "benchmarks" / "results" / "runtime_guards.json"
HANDLER_MODULE = "tasks.compare_with_champion"


# Run in the guarded process: times the guard's finder while `sys.argv[1]` imports from `sys.argv[2]`.
GUARD_PROBE = """
import importlib, sys, time
guard, spent = sys.meta_path[0], [0.0, 0]
original = guard.find_spec
def timed(*args, **kwargs):
    began = time.perf_counter()
    try:
        return original(*args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - began
        spent[1] += 1
guard.find_spec = timed
sys.path.insert(0, sys.argv[2])
importlib.import_module(sys.argv[1])
print(spent[0] * 1000, spent[1])
"""


def guard_work(env: dict[str, str], module: str, code: Path, runs: int) -> dict[str, object]:
    """The guard's own cost in one process start: its sitecustomize, and its finder during `module`'s import."""
    site_ms, finder_ms, calls = [], [], 0
    for _ in range(runs):
        command = [sys.executable, "-X", "importtime", "-c", GUARD_PROBE, module, str(code)]
        out = subprocess.run(command, env=env, cwd=code, capture_output=True, text=True, check=True)
        line = next(row for row in out.stderr.splitlines() if row.split("|")[-1].strip() == "sitecustomize")
        site_ms.append(int(line.split("|")[1]) / 1000)
        spent, calls = out.stdout.split()[0], int(out.stdout.split()[1])
        finder_ms.append(float(spent))
    return {
        "sitecustomize_ms_median": round(statistics.median(site_ms), 2),
        "finder_ms_median": round(statistics.median(finder_ms), 2),
        "finder_calls": calls,
    }


def lambda_cold_starts(scratch: Path, runs: int) -> dict[str, object]:
    code = scratch / "code"
    for part in ("retrain", "tasks"):
        shutil.copytree(ROOT / part, code / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "retrain.toml", code / "retrain.toml")
    began = time.perf_counter()
    guard = old_guard(scratch / "runtimes")
    first_guard_seconds = round(time.perf_counter() - began, 3)
    plain = {**os.environ, "POWERTOOLS_SERVICE_NAME": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    plain.pop("PYTHONPATH", None)
    command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(code)!r}); import {HANDLER_MODULE}"]
    timings: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(runs):
        for name, env in (("without", plain), ("with", {**plain, **guard})):
            began = time.perf_counter()
            subprocess.run(command, cwd=code, env=env, check=True)
            timings[name].append(round(time.perf_counter() - began, 3))
    return {
        "guard_work_per_cold_start": guard_work({**plain, **guard}, HANDLER_MODULE, code, runs),
        "handler_module": HANDLER_MODULE,
        "cold_start_seconds": timings,
        "cold_start_median_seconds": {name: round(statistics.median(v), 3) for name, v in timings.items()},
        "profile_computation_seconds_once_per_process": first_guard_seconds,
    }


def glue_runs(scratch: Path, runs: int, days: int, rows_per_day: int) -> dict[str, object]:
    bench_glue.land(scratch / "landing", demo_data.DEFAULT_START, days, rows_per_day)
    runners = {
        "without": LocalGlueJobRunner("http://127.0.0.1:9", scratch / "runs", scratch / "logs", standbys=1),
        "with": LocalGlueJobRunner(
            "http://127.0.0.1:9",
            scratch / "runs-guarded",
            scratch / "logs-guarded",
            standbys=1,
            imports=GlueImports(scratch / "runtimes"),
        ),
    }
    timings: dict[str, list[float]] = {"without": [], "with": []}
    number = 0
    try:
        for runner in runners.values():
            runner.warm(job_run(scratch, 0, days))
        for _ in range(runs):
            for name, runner in runners.items():
                wait_ready(runner)
                seconds, _ = timed_run(scratch, runner, number, days)
                timings[name].append(seconds)
                number += 1
                print(f"glue {name} guard: {seconds}s", flush=True)
    finally:
        for runner in runners.values():
            runner.close()
    guard = GlueImports(scratch / "runtimes").environment(job_run(scratch, 0, days), [])
    plain = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {
        "guard_work_per_driver_start": guard_work({**plain, **guard}, "pyspark.sql", JOBS, 5),
        "job": "jobs/prepare_data.py on a warm standby driver",
        "rows_landed": days * rows_per_day,
        "run_seconds": timings,
        "run_median_seconds": {name: round(statistics.median(v), 2) for name, v in timings.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lambda-runs", type=int, default=10)
    parser.add_argument("--glue-runs", type=int, default=2)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=demo_data.DEFAULT_ROWS_PER_DAY)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-guards-") as scratch:
        root = Path(scratch)
        result = {
            "benchmark": "runtime import guards: a Lambda worker's cold start, a PrepareData run; with and without",
            "lambda": lambda_cold_starts(root / "lambda", args.lambda_runs),
            "glue": glue_runs(root / "glue", args.glue_runs, args.days, args.rows_per_day) if args.glue_runs else None,
            "machine": bench_glue.machine(load_before),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    bench_glue.write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
