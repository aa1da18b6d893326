"""Cost of the local AWS's per-change persistence (local/emulator/durability.py); writes
`benchmarks/results/durability.json`.

Two emulators side by side in the same run, one with it (the default) and one without
(`RETRAIN_LOCAL_DURABLE=off`, state saved at a clean stop only), alternating rounds:
- DynamoDB PutItem, one client in sequence and 8 threads at once (the waiting requests share a write),
  into an empty table and into one already holding `--rows` items (each write saves the service's state);
- StartExecution of a one-state machine, in sequence (each execution's history is saved too).

Run: `python benchmarks/bench_durability.py [--requests 100] [--rows 1000] [--rounds 2]`. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from local.aws import LocalAws
from local.emulator.durability import DURABLE_ENV
from local.home import StateDirectory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "durability.json"
ROLE_ARN = "arn:aws:iam::000000000000:role/bench"
THREADS = 8


def create_table(dynamodb: Any, name: str, rows: int) -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    for start in range(0, rows, 25):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"row-{i}"}, "v": {"N": str(i)}, "pad": {"S": "x" * 100}}}}
            for i in range(start, min(start + 25, rows))
        ]
        dynamodb.batch_write_item(RequestItems={name: requests})


def rate(count: int, action: Any, threads: int = 1) -> float:
    started = time.perf_counter()
    if threads == 1:
        for index in range(count):
            action(index)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(action, range(count)))
    return count / (time.perf_counter() - started)


def measure(aws: LocalAws, label: str, requests: int, rows: int) -> dict[str, float]:
    clients = aws.clients()
    dynamodb, sfn = clients.client("dynamodb"), clients.client("stepfunctions")
    empty, full = f"{label}-empty", f"{label}-full"
    create_table(dynamodb, empty, 0)
    create_table(dynamodb, full, rows)

    def put(table: str) -> Any:
        return lambda i: dynamodb.put_item(TableName=table, Item={"pk": {"S": f"{label}-{i}"}, "v": {"N": str(i)}})

    machine = sfn.create_state_machine(
        name=f"{label}-pass",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    return {
        "put_item_per_s": rate(requests, put(empty)),
        f"put_item_{THREADS}_threads_per_s": rate(requests, put(empty), THREADS),
        f"put_item_table_of_{rows}_per_s": rate(requests, put(full)),
        "start_execution_per_s": rate(requests, lambda i: sfn.start_execution(stateMachineArn=machine, name=f"e{i}")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100, help="requests per figure")
    parser.add_argument("--rows", type=int, default=1000, help="items already in the larger table")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (median reported)")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"durable": [], "save_at_stop_only": []}
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as scratch:
        emulators = {
            "durable": LocalAws(StateDirectory(Path(scratch) / "durable"), port=0),
            "save_at_stop_only": LocalAws(
                StateDirectory(Path(scratch) / "plain"), port=0, environment={DURABLE_ENV: "off"}
            ),
        }
        try:
            for aws in emulators.values():
                aws.start()
            for round_index in range(args.rounds):
                for mode, aws in emulators.items():
                    runs[mode].append(measure(aws, f"r{round_index}", args.requests, args.rows))
        finally:
            for aws in emulators.values():
                aws.stop()
    medians = {
        mode: {key: round(statistics.median(r[key] for r in rounds), 1) for key in rounds[0]}
        for mode, rounds in runs.items()
    }
    results = {
        "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": {name: version(name) for name in ("ministack", "boto3")},
        "requests_per_figure": args.requests,
        "rounds": args.rounds,
        "requests_per_second_median": medians,
        "durable_relative": {
            key: round(medians["durable"][key] / medians["save_at_stop_only"][key], 3) for key in medians["durable"]
        },
        "runs": {mode: [{k: round(v, 1) for k, v in r.items()} for r in rounds] for mode, rounds in runs.items()},
        "note": "one boto3 client on loopback; both emulators run on the same machine in the same run, "
        "alternating; durable = each acknowledged change written (tmp file, fsync, rename) before its response",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
