"""Throughput of the Glue job (jobs/prepare_data.py) on local Spark over one million demo rows.

Lands 20 days x 50,000 demo transactions as CSV in a temporary folder, runs the job file as a
process exactly as the local Glue runner does (`python prepare_data.py --name value ...`), and
writes rows/s, wall time and the peak resident memory of the whole process tree (Python driver and
JVM) to benchmarks/results/glue.json.

    python benchmarks/bench_glue.py [--days 20] [--rows-per-day 50000] [--driver-memory 4g]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"
RESULTS = ROOT / "benchmarks" / "results" / "glue.json"
sys.path.insert(0, str(JOBS))

import demo_data  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class TreeMemory:
    """Samples the summed resident memory of a process and all its descendants (Linux /proc)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self.sample())
            self._stop.wait(self.interval)

    def sample(self) -> int:
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                statm = (entry / "statm").read_text().split()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(statm[1]) * PAGE_SIZE
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
            tree.update(children)
            frontier.extend(children)
        return sum(rss.get(pid, 0) for pid in tree)


def land(landing: Path, start: date, days: int, rows: int) -> tuple[int, int]:
    total_rows = total_bytes = 0
    for offset in range(days):
        day = demo_data.generate_day(start + timedelta(days=offset), rows=rows)
        folder = landing / demo_data.partition_name(day.day)
        folder.mkdir(parents=True, exist_ok=True)
        content = day.csv_bytes()
        (folder / "part-00000.csv").write_bytes(content)
        total_rows += day.rows
        total_bytes += len(content)
    return total_rows, total_bytes


def dataset_table() -> dict[str, Any]:
    """The demo's `[dataset]` table, as the pipeline passes it to the job."""
    return {
        "target": "is_fraud",
        "timestamp_column": "event_time",
        "id_column": "transaction_id",
        "schema": demo_data.SCHEMA,
        "exclude_columns": ["customer_id"],
        "log_columns": ["amount"],
        "validation_fraction": 0.15,
        "test_fraction": 0.15,
    }


def machine(load_before: float) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Other work on the machine slows the run: a 1-minute load above the CPU count means contention.
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }


def write_results(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--rows-per-day", type=int, default=demo_data.LARGE_ROWS_PER_DAY)
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args()

    start = demo_data.DEFAULT_START
    end = start + timedelta(days=args.days - 1)
    dataset = dataset_table()
    with tempfile.TemporaryDirectory(prefix="bench-glue-") as scratch:
        root = Path(scratch)
        began = time.perf_counter()
        rows, size = land(root / "landing", start, args.days, args.rows_per_day)
        generation_seconds = time.perf_counter() - began
        print(f"landed {rows} rows ({size / 1e6:.0f} MB of CSV) in {generation_seconds:.1f}s", flush=True)

        # Local Spark settings go to spark-submit, never into the job file (Glue sets its own).
        submit = (
            f"--master {args.master} --driver-memory {args.driver_memory} --conf spark.ui.enabled=false "
            f"--conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1 "
            f"--conf spark.local.dir={scratch} pyspark-shell"
        )
        env = {**os.environ, "PYSPARK_SUBMIT_ARGS": submit, "PYSPARK_PYTHON": sys.executable, "TMPDIR": scratch}
        command = [
            sys.executable, str(JOBS / "prepare_data.py"),
            "--JOB_NAME", "bench", "--run_name", "bench",
            "--landing_uri", (root / "landing").as_uri() + "/", "--output_uri", (root / "out").as_uri() + "/",
            "--window_end", end.isoformat(), "--training_window_days", str(args.days),
            "--input_format", "csv", "--dataset", json.dumps(dataset),
        ]  # fmt: skip
        load_before = os.getloadavg()[0]
        began = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=JOBS, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        with TreeMemory(process.pid) as memory:
            stdout, stderr = process.communicate(timeout=1800)
        wall = time.perf_counter() - began
        if process.returncode != 0:
            print(stdout, stderr, sep="\n", file=sys.stderr)
            return 1
        quality: dict[str, Any] = json.loads((root / "out" / "quality.json").read_text())
        output_bytes = sum(path.stat().st_size for path in (root / "out").rglob("*.parquet"))

    result = {
        "benchmark": "glue prepare_data.py on local Spark",
        "rows_landed": rows,
        "csv_megabytes": round(size / 1e6, 1),
        "rows_read": quality["rows_read"],
        "rows_kept": quality["rows_kept"],
        "rows_dropped": quality["dropped"],
        "splits": {name: split["rows"] for name, split in quality["splits"].items()},
        "wall_seconds": round(wall, 2),
        "rows_per_second": round(quality["rows_read"] / wall),
        "peak_rss_megabytes": round(memory.peak_bytes / 2**20),
        "parquet_megabytes": round(output_bytes / 1e6, 1),
        "demo_generation_seconds": round(generation_seconds, 2),
        "note": "wall time includes starting the JVM and the Spark session, as a Glue job run does",
        "spark": {"master": args.master, "driver_memory": args.driver_memory},
        "machine": machine(load_before),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
