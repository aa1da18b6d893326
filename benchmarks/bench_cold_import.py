"""Cold import time of every Lambda handler module, as a Lambda cold start pays it.

Each handler is imported in fresh interpreters (`python -X importtime -c "import tasks.<name>"`),
several times; the figure is the median of the handler module's cumulative import time, which
includes its module-level work (Powertools objects, boto3 clients). Wall time of the whole process,
interpreter start included, is recorded beside it.

The process's CPU time (user + system) is recorded too: on a busy machine it is the steadier figure.
`references` measures, the same way, what every handler stands on (an interpreter, boto3 with one
client, pydantic with the contracts, Powertools): the floor no handler code can go below.

Both environments are a Lambda's (`LAMBDA_TASK_ROOT` set, which changes what the X-Ray SDK does at
import): `traced` is the default, where Powertools patches boto3 for X-Ray; `tracing_disabled` has
`POWERTOOLS_TRACE_DISABLED=true`.

    python benchmarks/bench_cold_import.py [--runs 7] [--out benchmarks/results/cold_import.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = sorted(path.stem for path in (ROOT / "tasks").glob("*.py") if not path.stem.startswith("_"))
TARGET_MS = 250.0

LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "retrain-benchmark",
    "POWERTOOLS_SERVICE_NAME": "retrain-pipeline",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:retrain-notifications",
}
VARIANTS = {
    "traced": {"LAMBDA_TASK_ROOT": str(ROOT)},
    "tracing_disabled": {"LAMBDA_TASK_ROOT": str(ROOT), "POWERTOOLS_TRACE_DISABLED": "true"},
}


def environment(variant: str) -> dict[str, str]:
    # Start from a clean slate so the caller's AWS settings cannot change what is measured.
    keep = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, **LAMBDA_ENVIRONMENT, **VARIANTS[variant], "PYTHONPATH": str(ROOT)}


# What every handler stands on, measured the same way: the floor no handler code can go below.
REFERENCES = {
    "interpreter": "pass",
    "boto3 and one client": "import boto3; boto3.client('s3')",
    "pydantic and the contracts": "import retrain.contracts",
    "powertools Logger, Metrics, Tracer": (
        "from aws_lambda_powertools import Logger, Metrics, Tracer; Logger(); Metrics(namespace='x'); "
        "Tracer(patch_modules=['boto3'])"
    ),
}


def run_code(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of a fresh interpreter running `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, timeout=120, check=True)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def references(env: dict[str, str], runs: int) -> dict[str, dict[str, float]]:
    figures = {}
    for name, code in REFERENCES.items():
        run_code(code, env)
        samples = [run_code(code, env) for _ in range(runs)]
        figures[name] = {
            "wall_median_ms": round(statistics.median(sample[0] for sample in samples), 1),
            "process_cpu_median_ms": round(statistics.median(sample[1] for sample in samples), 1),
        }
    return figures


def import_once(module: str, env: dict[str, str]) -> tuple[float, float, float]:
    """(cumulative import ms of `module`, wall ms of the process, CPU ms of the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if completed.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{completed.stderr[-2000:]}")
    for line in completed.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"
        if line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == module:
            return int(line.split("|")[1]) / 1000, wall, cpu
    raise RuntimeError(f"no import time reported for {module}")


def measure(module: str, env: dict[str, str], runs: int) -> dict[str, Any]:
    import_once(module, env)  # warm the bytecode cache and the OS file cache, as a deployed image has
    samples = [import_once(module, env) for _ in range(runs)]
    imports = [sample[0] for sample in samples]
    walls = [sample[1] for sample in samples]
    cpus = [sample[2] for sample in samples]
    return {
        "median_ms": round(statistics.median(imports), 1),
        "min_ms": round(min(imports), 1),
        "max_ms": round(max(imports), 1),
        "wall_median_ms": round(statistics.median(walls), 1),
        "process_cpu_median_ms": round(statistics.median(cpus), 1),
        "samples_ms": [round(value, 1) for value in imports],
        "within_target": statistics.median(imports) <= TARGET_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per handler (at least 5)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cold_import.json")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    results: dict[str, Any] = {
        "benchmark": "cold import of tasks/<handler>.py",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "runs": args.runs,
        "target_ms": TARGET_MS,
        "load_average_at_start": os.getloadavg()[0],
        "variants": {},
    }
    for variant in VARIANTS:
        env = environment(variant)
        handlers = {name: measure(f"tasks.{name}", env, args.runs) for name in HANDLERS}
        results["variants"][variant] = {
            "references": references(env, args.runs),
            "handlers": handlers,
        }
        for name, figures in handlers.items():
            print(
                f"{variant:16} {name:22} import {figures['median_ms']:7.1f} ms  "
                f"wall {figures['wall_median_ms']:7.1f} ms  cpu {figures['process_cpu_median_ms']:7.1f} ms"
            )
    results["load_average_at_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
