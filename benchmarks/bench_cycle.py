"""Benchmark of the README's main command: a whole retrain cycle on a fresh local AWS, then a second.

Run 1 is `retrain run --approve auto` on a fresh state directory (start the local AWS, deploy the
stack, land demo data, the cycle). Run 2 lands 15 newer days (`retrain demo-data --days 15`) and
runs `retrain run --approve auto` again (a newer model, rolled out by canary).

For each run: the command's wall time, the execution's duration, per-state times, the time spent in
the work itself (the Glue job's ExecutionTime, the training and processing jobs' start-to-end
times) and the orchestration overhead: execution time minus that work, as a share.

    python benchmarks/bench_cycle.py [--output FILE]   # writes benchmarks/results/cycle.json by default
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli.executions import read_timeline  # noqa: E402
from cli.pipeline import DeployedPipeline, read_stack_outputs  # noqa: E402
from local.aws import LocalAws  # noqa: E402
from local.clock import configured_clock_scale  # noqa: E402
from local.home import StateDirectory  # noqa: E402
from retrain.config import load_config  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cycle.json"
ROLLOUT_STATES = ("StartEndpointPolling", "WaitForEndpoint", "CheckEndpoint", "EndpointStatus?", "CountEndpointPoll")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def retrain(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, text=True, capture_output=True, timeout=1800
    )
    if done.returncode != 0:
        raise SystemExit(f"retrain {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - started, done


def work_seconds(pipeline: DeployedPipeline, execution_arn: str) -> dict[str, float]:
    """Seconds of real work: Spark (the Glue run), training, processing."""
    timeline = read_timeline(pipeline, execution_arn)
    work: dict[str, float] = {}
    prepare = timeline.last_visit("PrepareData")
    if prepare and prepare.output:
        run_id = prepare.output["prepared"]["job_run_id"]
        glue = pipeline.client("glue")
        job = pipeline.outputs["GlueJobName"]
        work["spark"] = float(glue.get_job_run(JobName=job, RunId=run_id)["JobRun"].get("ExecutionTime", 0))
    sagemaker = pipeline.client("sagemaker")
    train = timeline.last_visit("TrainCandidate")
    if train and train.output:
        job = sagemaker.describe_training_job(TrainingJobName=train.output["training"]["job_name"])
        work["training"] = (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
    evaluate = timeline.last_visit("EvaluateCandidate")
    if evaluate and evaluate.output:
        job = sagemaker.describe_processing_job(ProcessingJobName=evaluate.output["evaluation"]["job_name"])
        work["processing"] = (job["ProcessingEndTime"] - job["ProcessingStartTime"]).total_seconds()
    return work


def measure(aws: LocalAws, label: str, wall: float, stdout: str) -> dict[str, Any]:
    summary = json.loads(stdout)
    config = load_config(ROOT / "retrain.toml")
    clients = aws.clients()
    pipeline = DeployedPipeline(config, clients, read_stack_outputs(clients, config.pipeline.name))
    work = work_seconds(pipeline, summary["execution_arn"])
    execution = float(summary["seconds"])
    overhead = execution - sum(work.values())
    # The blue/green rollout waits on purpose (canary baking, termination wait); shown apart.
    rollout = sum(summary["state_seconds"].get(state, 0.0) for state in ROLLOUT_STATES)
    return {
        "run": label,
        "outcome": summary["outcome"],
        "command_wall_seconds": round(wall, 2),
        "execution_seconds": round(execution, 2),
        "work_seconds": {k: round(v, 2) for k, v in work.items()},
        "orchestration_overhead_seconds": round(overhead, 2),
        "orchestration_overhead_share": round(overhead / execution, 3),
        "rollout_wait_seconds": round(rollout, 2),
        "overhead_excluding_rollout_seconds": round(overhead - rollout, 2),
        "overhead_excluding_rollout_share": round((overhead - rollout) / execution, 3),
        "state_seconds": summary["state_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures go (default: %(default)s)")
    output = parser.parse_args().output
    # A process the local AWS started may still write under it while it is removed: figures first.
    with tempfile.TemporaryDirectory(prefix="bench-cycle-", ignore_cleanup_errors=True) as scratch:
        home = StateDirectory(Path(scratch) / "home")
        port = free_port()
        env = {**os.environ, "RETRAIN_HOME": str(home.root), "RETRAIN_LOCAL_PORT": str(port)}
        aws = LocalAws(home, port=port)
        try:
            wall, first = retrain(env, "run", "--approve", "auto", "--json")
            results = [measure(aws, "first (fresh state directory)", wall, first.stdout)]
            config = load_config(ROOT / "retrain.toml")
            bucket = read_stack_outputs(aws.clients(), config.pipeline.name)["DataBucketName"]
            started = time.perf_counter()
            retrain(env, "demo-data", "--days", "15", "--bucket", bucket)
            _, second = retrain(env, "run", "--approve", "auto", "--json")
            wall = time.perf_counter() - started
            results.append(measure(aws, "second (15 new days, canary)", wall, second.stdout))
        finally:
            aws.stop()
    document = {
        "benchmark": "README main command: retrain run --approve auto",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "sagemaker_clock_scale": configured_clock_scale(env),
        "runs": results,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
