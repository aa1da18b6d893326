"""PrepareData on the demo's data through the local Glue runner: a cold start against a warm standby driver.

Lands the demo's 30 days x 2,000 transactions as CSV in a temporary folder and runs jobs/prepare_data.py
through `LocalGlueJobRunner` (the emulator's runner, file:// locations so no S3 is involved) `--runs`
times cold (no standby: Python, JVM and SparkSession start inside the run) and `--runs` times warm (a
standby driver started after the previous run and ready before this one, as between two pipeline
runs), interleaved, each on the Glue environment as the emulator runs it: its driver mapping the environment's
class archive, and without it (`without_class_archive`). Each figure is the wall time of the runner's `run`,
from the request to the outcome. Every path must write the same splits. Results go to benchmarks/results/glue_warm.json.

    python benchmarks/bench_glue_warm.py [--runs 3] [--days 30] [--rows-per-day 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import bench_glue
from bench_glue import ROOT, demo_data

sys.path.insert(0, str(ROOT))
from local.glue_runner import GlueImports, GlueJobRun, LocalGlueJobRunner

JOBS = ROOT / "jobs"
RESULTS = ROOT / "benchmarks" / "results" / "glue_warm.json"
READY_TIMEOUT_SECONDS = 300


def job_run(root: Path, number: int, days: int) -> GlueJobRun:
    end = demo_data.DEFAULT_START + timedelta(days=days - 1)
    return GlueJobRun(
        job_name="bench-prepare-data",
        run_id=f"jr_bench{number:04d}",
        command_name="glueetl",
        script_location=(JOBS / "prepare_data.py").as_uri(),
        arguments={
            "--run_name": f"bench-{number}",
            "--landing_uri": (root / "landing").as_uri() + "/",
            "--output_uri": (root / f"out-{number}").as_uri() + "/",
            "--window_end": end.isoformat(),
            "--training_window_days": str(days),
            "--input_format": "csv",
            "--dataset": json.dumps(bench_glue.dataset_table()),
        },
        timeout_minutes=10,
    )


class GlueImportsWithoutArchive(GlueImports):
    """The environment's interpreter, without its class archive."""

    def java_options(self, job_run: GlueJobRun, environ: Mapping[str, str]) -> tuple[str, ...]:
        return ()


def wait_ready(runner: LocalGlueJobRunner) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not any(standby.ready() for standby in runner.standbys.waiting()):
        if time.monotonic() > deadline:
            raise SystemExit(f"no standby driver was ready within {READY_TIMEOUT_SECONDS}s")
        time.sleep(0.2)


def timed_run(root: Path, runner: LocalGlueJobRunner, number: int, days: int) -> tuple[float, dict[str, int]]:
    run = job_run(root, number, days)
    began = time.perf_counter()
    outcome = runner.run(run, should_stop=lambda: False)
    seconds = round(time.perf_counter() - began, 2)
    if outcome.state != "SUCCEEDED":
        raise SystemExit(f"run {number} {outcome.state}: {outcome.error_message} (log {outcome.log_path})")
    quality = json.loads((root / f"out-{number}" / "quality.json").read_text())
    return seconds, {name: split["rows"] for name, split in quality["splits"].items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=demo_data.DEFAULT_ROWS_PER_DAY)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-glue-warm-") as scratch:
        root = Path(scratch)
        bench_glue.land(root / "landing", demo_data.DEFAULT_START, args.days, args.rows_per_day)
        load_before = os.getloadavg()[0]
        # As the emulator runs a job: on the Glue environment's interpreter, its driver mapping the environment's
        # class archive; and the same without the archive (its classes parsed from Spark's jars), to compare.
        runners = {
            (mode, archive): LocalGlueJobRunner(
                "http://127.0.0.1:9",
                root / "runs",
                root / "logs",
                standbys=1 if mode == "warm" else 0,
                imports=(GlueImports if archive else GlueImportsWithoutArchive)(root / "linked"),
            )
            for mode in ("cold", "warm")
            for archive in (True, False)
        }
        times: dict[tuple[str, bool], list[float]] = {key: [] for key in runners}
        number = 0
        try:
            for (mode, _archive), runner in runners.items():
                if mode == "warm":
                    runner.warm(job_run(root, 0, args.days))
            # Interleaved, so that the machine's other load weighs on all alike; no run shares the CPU with a
            # standby's start (an idle standby costs next to nothing).
            first_splits = None
            for _ in range(args.runs):
                for key, runner in runners.items():
                    for (other, _), waiting in runners.items():
                        if other == "warm":
                            wait_ready(waiting)
                    number += 1
                    seconds, splits = timed_run(root, runner, number, args.days)
                    times[key].append(seconds)
                    first_splits = first_splits or splits
                    if splits != first_splits:
                        raise SystemExit(f"{key} wrote other splits: {splits} != {first_splits}")
                print({f"{mode}{'' if archive else ' no archive'}": t[-1] for (mode, archive), t in times.items()})
        finally:
            for runner in runners.values():
                runner.close()
    cold, warm = times[("cold", True)], times[("warm", True)]

    result = {
        "benchmark": "PrepareData (jobs/prepare_data.py) through the local Glue runner, cold vs warm standby driver",
        "rows_landed": args.days * args.rows_per_day,
        "splits": first_splits,
        "cold_seconds": cold,
        "warm_seconds": warm,
        "cold_median_seconds": round(statistics.median(cold), 2),
        "warm_median_seconds": round(statistics.median(warm), 2),
        "without_class_archive": {
            "cold_seconds": times[("cold", False)],
            "warm_seconds": times[("warm", False)],
            "cold_median_seconds": round(statistics.median(times[("cold", False)]), 2),
            "warm_median_seconds": round(statistics.median(times[("warm", False)]), 2),
        },
        "note": "wall time of LocalGlueJobRunner.run on the Glue 5.0 environment as the emulator runs it, its driver "
        "mapping the environment's class archive (`retrain local runtimes` builds it); without_class_archive: the "
        "same runs, interleaved, their classes parsed from Spark's jars. Warm: the standby was ready when the run "
        "started",
        "machine": bench_glue.machine(load_before),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    bench_glue.write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
