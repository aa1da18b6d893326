"""Benchmark of the embedded local AWS; writes `benchmarks/results/local.json`.

- `retrain local up --detach --no-deploy` until it answers (wall time of the command), and `down`;
- synthesis and deployment of the contract tests' tiny CDK app (create, then update after a code change);
- the local Step Functions engine's cost per state transition, on a chain of N Pass states, against
  moto's executing engine (`mock_aws` with `execute_state_machine`) on the same machine in the same run.

Run: `python benchmarks/bench_local.py [--states 200] [--repeat 3]`. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3

from local.aws import LocalAws
from local.deploy import CdkApp, LocalCdkDeployer
from local.home import StateDirectory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "local.json"
TINY_APP = ROOT / "tests" / "contract" / "emulator" / "cdk_app"
ROLE_ARN = "arn:aws:iam::000000000000:role/bench"
POLL_SECONDS = 0.02
EXECUTION_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pass_chain(states: int) -> dict[str, Any]:
    names = [f"S{i}" for i in range(states)]
    body: dict[str, Any] = {}
    for index, name in enumerate(names):
        state: dict[str, Any] = {"Type": "Pass", "Result": {"i": index}, "ResultPath": "$.last"}
        if index + 1 < len(names):
            state["Next"] = names[index + 1]
        else:
            state["End"] = True
        body[name] = state
    return {"StartAt": names[0], "States": body}


def run_chain(sfn: Any, states: int, name: str) -> float:
    """The execution's own duration (stopDate - startDate), free of the polling granularity."""
    machine = sfn.create_state_machine(name=name, definition=json.dumps(pass_chain(states)), roleArn=ROLE_ARN)
    started = time.perf_counter()
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    deadline = time.monotonic() + EXECUTION_TIMEOUT
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} still running after {EXECUTION_TIMEOUT}s")
        time.sleep(POLL_SECONDS)
    if described["status"] != "SUCCEEDED":
        raise RuntimeError(f"{name} ended {described['status']}: {described.get('cause')}")
    stop = described.get("stopDate")
    if stop is None:  # no engine timestamp: fall back to what the client saw
        return time.perf_counter() - started
    return float((stop - described["startDate"]).total_seconds())


def engine_figures(sfn: Any, states: int, repeat: int, prefix: str) -> dict[str, Any]:
    short = [run_chain(sfn, 1, f"{prefix}-one-{i}") for i in range(repeat)]
    long = [run_chain(sfn, states, f"{prefix}-chain-{i}") for i in range(repeat)]
    one, chain = statistics.median(short), statistics.median(long)
    per_state = (chain - one) / (states - 1)
    return {
        "one_state_execution_seconds": round(one, 4),
        f"{states}_state_execution_seconds": round(chain, 4),
        "per_state_overhead_ms": round(per_state * 1000, 3),
        "transitions_per_second": round(1 / per_state, 1) if per_state > 0 else None,
        "runs": {"one": [round(x, 4) for x in short], "chain": [round(x, 4) for x in long]},
    }


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def local_command(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "cli", "local", *arguments], env=env, capture_output=True)


def bench_up(repeat: int, scratch: Path) -> dict[str, Any]:
    up_times, down_times = [], []
    for index in range(repeat):
        home, port = scratch / f"up-{index}", free_port()
        env = {**os.environ, "RETRAIN_HOME": str(home), "RETRAIN_LOCAL_PORT": str(port)}
        up, result = timed(partial(local_command, env, "up", "--detach", "--no-deploy"))
        if result.returncode != 0:
            raise RuntimeError(result.stderr.decode())
        down, _ = timed(partial(local_command, env, "down"))
        up_times.append(up)
        down_times.append(down)
    return {
        "up_to_ready_seconds_median": round(statistics.median(up_times), 3),
        "down_seconds_median": round(statistics.median(down_times), 3),
        "runs_up": [round(x, 3) for x in up_times],
        "runs_down": [round(x, 3) for x in down_times],
        "note": "wall time of `retrain local up --detach --no-deploy` (CLI start, emulator start, readiness poll)",
    }


def bench_deploy(aws: LocalAws, scratch: Path) -> dict[str, Any]:
    app_dir = scratch / "app"
    shutil.copytree(TINY_APP, app_dir)
    app = CdkApp(app_dir, context={"stack_name": "bench-tiny"})
    deployer = LocalCdkDeployer(aws.clients(), stack_timeout=120)
    synth_first, assembly = timed(lambda: app.synthesize(scratch / "out-1"))
    deploy_first, [created] = timed(lambda: deployer.deploy(assembly))
    handler = app_dir / "function" / "handler.py"
    handler.write_text(handler.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    synth_second, assembly = timed(lambda: app.synthesize(scratch / "out-2"))
    deploy_second, [updated] = timed(lambda: deployer.deploy(assembly))
    return {
        "synth_seconds": round(synth_first, 3),
        "create_seconds": round(deploy_first, 3),
        "create_status": created.status,
        "resynth_seconds": round(synth_second, 3),
        "update_seconds": round(deploy_second, 3),
        "update_status": updated.status,
        "note": "deploy = bootstrap check + asset upload + CreateStack/UpdateStack until complete",
    }


def bench_local_engine(aws: LocalAws, states: int, repeat: int) -> dict[str, Any]:
    return engine_figures(aws.clients().client("stepfunctions"), states, repeat, "local")


def bench_moto_engine(states: int, repeat: int) -> dict[str, Any]:
    from moto import mock_aws

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        return engine_figures(sfn, states, repeat, "moto")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--states", type=int, default=2000, help="Pass states in the chain (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-local-") as scratch_dir:
        scratch = Path(scratch_dir)
        results: dict[str, Any] = {
            "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "versions": {name: version(name) for name in ("ministack", "moto", "aws-cdk-lib", "boto3")},
            "up": bench_up(args.repeat, scratch),
        }
        aws = LocalAws(StateDirectory(scratch / "bench-home"), port=0)
        aws.start()
        try:
            results["deploy_tiny_app"] = bench_deploy(aws, scratch)
            results["step_functions"] = {
                "states": args.states,
                "local": bench_local_engine(aws, args.states, args.repeat),
                "moto": bench_moto_engine(args.states, args.repeat),
                "note": "per-state overhead = (median N-state run - median 1-state run) / (N - 1), "
                "each run timed by the engine's own startDate/stopDate",
            }
        finally:
            aws.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
