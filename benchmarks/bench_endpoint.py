"""InvokeEndpoint under steady load through one canary rollout and one automatic rollback.

Starts a local AWS of its own (a temporary home, a free port on 127.0.0.1), deploys a small model
with the SKLearn serving contract, and runs a load generator in another process that invokes the
endpoint from a few threads (bounded by a request count and a time limit). Meanwhile:

1. steady state on v1;
2. a canary rollout to v2 (CANARY 20%, baked), which promotes v2;
3. an update to v3, a model that answers correctly but slowly: the `ModelLatency` p99 alarm trips
   during the canary and the endpoint rolls back to v2.

Writes `benchmarks/results/endpoint.json`: requests sent and failed (must be 0), p50/p99 latency
before, during and after each deployment, and the time from the alarm being seen in ALARM to the
old fleet having all traffic again.

Run: python benchmarks/bench_endpoint.py
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "endpoint.json"
ROLE = "arn:aws:iam::000000000000:role/benchmark"
MAX_REQUESTS = 200_000
MAX_SECONDS = 300.0
LOAD_THREADS = 4

INFERENCE = """
import json, os, time
def model_fn(model_dir):
    return json.load(open(os.path.join(model_dir, "model.json")))
def input_fn(body, content_type):
    return json.loads(body)
def predict_fn(data, model):
    if model.get("delay_ms"):
        time.sleep(model["delay_ms"] / 1000)
    return {"version": model["version"], "score": sum(data["features"]) * model["factor"]}
def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


def client(service: str, endpoint: str, retries: int = 3) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": retries, "mode": "standard"}, read_timeout=60),
    )


# --- the load generator (runs in its own process) -------------------------------------------------


def run_load(endpoint: str, name: str, output: Path, stop_file: Path) -> None:
    """Invoke until `stop_file` exists (or the bounds are reached); one JSON line per request."""
    sent = [0]
    lock = threading.Lock()
    records: list[str] = []
    deadline = time.monotonic() + MAX_SECONDS

    def worker() -> None:
        runtime = client("sagemaker-runtime", endpoint, retries=1)  # no retries: a failure is a failure
        body = json.dumps({"features": [0.2, 0.4, 0.6]})
        while not stop_file.exists() and time.monotonic() < deadline:
            with lock:
                if sent[0] >= MAX_REQUESTS:
                    return
                sent[0] += 1
            started = time.time()
            began = time.perf_counter()
            try:
                answer = runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="application/json")
                version, ok, error = json.loads(answer["Body"].read())["version"], True, ""
            except Exception as failure:  # counted and reported
                version, ok, error = "", False, f"{type(failure).__name__}: {failure}"
            elapsed = time.perf_counter() - began
            line = json.dumps({"t": started, "ms": elapsed * 1000, "ok": ok, "v": version, "error": error})
            with lock:
                records.append(line)

    threads = [threading.Thread(target=worker) for _ in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    output.write_text("\n".join(records) + "\n", encoding="utf-8")


# --- the orchestration ---------------------------------------------------------------------


def targz(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wait_for(what: str, condition: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def percentiles(latencies: list[float]) -> dict[str, float | int | None]:
    if not latencies:
        return {"requests": 0, "p50_ms": None, "p99_ms": None}
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"requests": len(ordered), "p50_ms": round(statistics.median(ordered), 2), "p99_ms": round(p99, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--load", nargs=4, metavar=("ENDPOINT_URL", "NAME", "OUTPUT", "STOP_FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.load:
        run_load(args.load[0], args.load[1], Path(args.load[2]), Path(args.load[3]))
        return 0

    sys.path.insert(0, str(ROOT))
    from local.aws import LocalAws
    from local.clock import CLOCK_SCALE_ENV
    from local.home import StateDirectory

    work = Path(tempfile.mkdtemp(prefix="bench-endpoint-"))
    # Unscaled rollout clocks: the 2 s alarm periods and 4 s bakes below are meant as written.
    aws = LocalAws(StateDirectory(work / "home"), port=0, environment={CLOCK_SCALE_ENV: "1"})
    process = aws.start()
    endpoint_url = process.endpoint
    try:
        return run_benchmark(endpoint_url, work)
    finally:
        aws.stop()
        shutil.rmtree(work, ignore_errors=True)


def run_benchmark(endpoint_url: str, work: Path) -> int:
    s3, sm, cloudwatch = (client(name, endpoint_url) for name in ("s3", "sagemaker", "cloudwatch"))
    bucket, name = "bench-endpoint", "bench"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=targz({"inference.py": INFERENCE}))
    for version, behaviour in (("v1", {}), ("v2", {}), ("v3", {"delay_ms": 60})):
        model = json.dumps({"version": version, "factor": 1.0, **behaviour})
        s3.put_object(Bucket=bucket, Key=f"models/{version}/model.tar.gz", Body=targz({"model.json": model}))
        sm.create_model(
            ModelName=f"{name}-{version}",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": "sklearn",
                "ModelDataUrl": f"s3://{bucket}/models/{version}/model.tar.gz",
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/sourcedir.tar.gz",
                },
            },
        )
        sm.create_endpoint_config(
            EndpointConfigName=f"{name}-{version}",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": f"{name}-{version}",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    alarm = "bench-latency-p99"
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        ExtendedStatistic="p99",
        Dimensions=[{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "AllTraffic"}],
        Period=2,
        EvaluationPeriods=1,
        Threshold=40_000.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1")
    wait_for("the endpoint", lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService")

    def deploy(config: str) -> dict[str, Any]:
        sm.update_endpoint(
            EndpointName=name,
            EndpointConfigName=config,
            DeploymentConfig={
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 4,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20},
                    },
                    "TerminationWaitInSeconds": 1,
                    "MaximumExecutionTimeoutInSeconds": 600,
                },
                "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
            },
        )
        time.sleep(0.5)
        return wait_for(
            f"the update to {config}",
            lambda: (d := sm.describe_endpoint(EndpointName=name))["EndpointStatus"] == "InService" and d,
        )

    records_file, stop_file = work / "requests.jsonl", work / "stop"
    load = subprocess.Popen([sys.executable, __file__, "--load", endpoint_url, name, str(records_file), str(stop_file)])
    marks: dict[str, float] = {}
    try:
        time.sleep(5)
        marks["rollout_start"] = time.time()
        promoted = deploy(f"{name}-v2")
        marks["rollout_end"] = time.time()
        time.sleep(4)
        marks["rollback_start"] = time.time()
        rolled_back = deploy(f"{name}-v3")
        marks["rollback_end"] = time.time()
        time.sleep(4)
    finally:
        stop_file.write_text("stop")
        load.wait(timeout=MAX_SECONDS + 60)

    requests = [json.loads(line) for line in records_file.read_text().splitlines() if line.strip()]
    state = json.loads((work / "home" / "emulator" / "sagemaker" / "state.json").read_text())
    rollback = state["records"]["Endpoint"][name].get("_LastRollback", {})
    alarm_seen = rollback.get("AlarmSeenAt")
    last_green = max((r["t"] + r["ms"] / 1000 for r in requests if r["v"] == "v3"), default=None)

    def phase(start: float, end: float) -> dict[str, Any]:
        return percentiles([r["ms"] for r in requests if start <= r["t"] < end and r["ok"]])

    first, last = requests[0]["t"], max(r["t"] for r in requests) + 1
    result = {
        "what": "InvokeEndpoint on the local SageMaker under steady load (4 client threads in another process, "
        "loopback), through a canary rollout (v1 -> v2, CANARY 20%, 4 s bake) and a rollback "
        "(v2 -> v3, a model 60 ms slower; ModelLatency p99 > 40 ms alarm, 2 s period)",
        "machine": "2 cores, one model server process per fleet",
        "requests_sent": len(requests),
        "requests_failed": sum(1 for r in requests if not r["ok"]),
        "failures": sorted({r["error"] for r in requests if not r["ok"]})[:5],
        "answers_by_model": {v: sum(1 for r in requests if r["v"] == v) for v in ("v1", "v2", "v3")},
        "latency": {
            "before_rollout": phase(first, marks["rollout_start"]),
            "during_rollout": phase(marks["rollout_start"], marks["rollout_end"]),
            "between": phase(marks["rollout_end"], marks["rollback_start"]),
            "during_rollback": phase(marks["rollback_start"], marks["rollback_end"]),
            "after_rollback": phase(marks["rollback_end"], last),
        },
        "rollout": {
            "seconds": round(marks["rollout_end"] - marks["rollout_start"], 2),
            "serving": promoted["EndpointConfigName"],
        },
        "rollback": {
            "seconds": round(marks["rollback_end"] - marks["rollback_start"], 2),
            "serving": rolled_back["EndpointConfigName"],
            "failure_reason": rolled_back.get("FailureReason"),
            "alarm_to_old_fleet_all_traffic_seconds": round(rollback["SecondsToBlue"], 4)
            if "SecondsToBlue" in rollback
            else None,
            "alarm_to_last_new_fleet_answer_seconds": round(last_green - alarm_seen, 4)
            if alarm_seen and last_green
            else None,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0 if result["requests_failed"] == 0 and rolled_back["EndpointConfigName"] == f"{name}-v2" else 1


if __name__ == "__main__":
    raise SystemExit(main())
