"""PrepareData on the demo's data through the local Glue runner: this machine's interpreter against the Glue 5.0
isolated environment, each on a cold start and on a warm standby driver.

The same runs as benchmarks/bench_glue_warm.py (its demo data, job and timing), in four runners: `project`
(no `GlueImports`: the driver and the Python workers on the interpreter running this, the project's venv,
as before the isolated environment) and `isolated` (`GlueImports`: the Glue 5.0 environment, which
`retrain local runtimes` builds), each cold and warm, interleaved round by round so the machine's other
load weighs on all alike (each round starting half-way round from the last). All must keep the same rows.
Results go to benchmarks/results/glue_runtime.json.

    python benchmarks/bench_glue_runtime.py [--runs 3] [--days 30] [--rows-per-day 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bench_glue
import bench_glue_warm
from bench_glue import ROOT, demo_data

sys.path.insert(0, str(ROOT))
from local.glue_runner import GlueImports, LocalGlueJobRunner
from local.runtime.environments import EnvironmentSpec, RuntimeEnvironments

RESULTS = ROOT / "benchmarks" / "results" / "glue_runtime.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=demo_data.DEFAULT_ROWS_PER_DAY)
    args = parser.parse_args()
    environments = RuntimeEnvironments()
    spec = EnvironmentSpec.from_profile(ROOT / "local" / "emulator" / "profiles" / "glue-5.0.toml")
    environments.interpreter(spec)  # fails naming `retrain local runtimes` when it is not built

    with tempfile.TemporaryDirectory(prefix="bench-glue-runtime-") as scratch:
        root = Path(scratch)
        bench_glue.land(root / "landing", demo_data.DEFAULT_START, args.days, args.rows_per_day)
        load_before = os.getloadavg()[0]

        def runner(isolated: bool, standbys: int) -> LocalGlueJobRunner:
            imports = GlueImports(root / "runtimes", environments=environments) if isolated else None
            return LocalGlueJobRunner(
                "http://127.0.0.1:9", root / "runs", root / "logs", standbys=standbys, imports=imports
            )

        runners = {
            f"{kind}_{start}": runner(kind == "isolated", 1 if start == "warm" else 0)
            for kind in ("project", "isolated")
            for start in ("cold", "warm")
        }
        seconds: dict[str, list[float]] = {name: [] for name in runners}
        splits: dict[str, dict[str, int]] = {}
        number = 0
        try:
            for each in runners.values():
                each.warm(bench_glue_warm.job_run(root, 0, args.days))
            names = list(runners)
            for round_number in range(args.runs):
                # The machine's load drifts: each round starts half-way round, so no runner always goes first.
                first = round_number * len(names) // 2 % len(names)
                for name in names[first:] + names[:first]:
                    each = runners[name]
                    if name.endswith("warm"):
                        bench_glue_warm.wait_ready(each)
                    number += 1
                    took, splits[name] = bench_glue_warm.timed_run(root, each, number, args.days)
                    seconds[name].append(took)
                    print(f"{name} {took}s", flush=True)
                # The split boundaries are approximate quantiles (time_split.py), which may move a row between
                # runs of the same runner; every run keeps the same rows.
                if len({sum(found.values()) for found in splits.values()}) != 1:
                    raise SystemExit(f"the runners kept other rows: {splits}")
        finally:
            for each in runners.values():
                each.close()

    result = {
        "benchmark": "PrepareData (jobs/prepare_data.py) through the local Glue runner: the project's interpreter "
        "against the Glue 5.0 isolated environment, cold and on a warm standby driver",
        "rows_landed": args.days * args.rows_per_day,
        "splits": splits,
        "seconds": seconds,
        "median_seconds": {name: round(statistics.median(values), 2) for name, values in seconds.items()},
        "environment": environments.location(spec).name,  # in the runtime cache
        "note": "wall time of LocalGlueJobRunner.run; warm: the standby was ready when the run started",
        "machine": bench_glue.machine(load_before),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    bench_glue.write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
