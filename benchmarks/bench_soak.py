"""Soak of the local AWS: consecutive retrain cycles on one state directory, with restarts between some;
writes `benchmarks/results/soak.json` (rewritten after every step, so a cut-short run keeps its rows).

On a fresh state directory (`RETRAIN_HOME` in a temp dir, a free `RETRAIN_LOCAL_PORT`): `retrain local up
--detach`, `retrain demo-data`, then N cycles of `retrain run --approve auto --json`, each after a few new
demo days land (so each trains). Between some cycles the local AWS is stopped (`retrain local down`) or
killed (SIGKILL), then started again (`retrain local up --detach`). At the end, two stops in the middle of
a run, while its Glue job's Spark runs: `down`, then (after `up`) SIGKILL.

After each cycle: the emulator's RSS, threads, open descriptors (pipes, sockets, files), the processes it
started that are still alive (model servers of the live endpoint and the Glue warm standby are expected;
anything else is a leftover), the state directory's size (total and per subfolder), the cycle's wall time
and outcome. After each stop: which processes of the state directory are still alive, polled until none
is (bounded), and the seconds that took. Linux only (reads /proc).

    python benchmarks/bench_soak.py [--cycles 10] [--down-after 3] [--kill-after 7] [--days 3] [--output FILE]
    python benchmarks/bench_soak.py --resummarize [--output FILE]   # re-kind the processes, recompute the summary
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess  # runs the `retrain` command  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
COMMAND_TIMEOUT = 1800.0
GONE_BOUND_SECONDS = 120.0
SPARK_WAIT_SECONDS = 600.0
POLL_SECONDS = 0.25


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- /proc ------------------------------------------------------------------------------------


def pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]) if fields[0] != "Z" else None  # a zombie holds nothing


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descriptors(pid: int) -> dict[str, int]:
    kinds = {"total": 0, "pipe": 0, "socket": 0, "anon": 0, "file": 0}
    try:
        entries = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return kinds
    for entry in entries:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue
        kinds["total"] += 1
        kind = target.split(":", 1)[0] if ":" in target and not target.startswith("/") else "file"
        kinds[kind if kind in kinds else "anon"] += 1
    return kinds


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in pids():
        parent = parent_of(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def of_home(home: Path, exclude: set[int]) -> list[int]:
    """Live processes whose command line, working directory or environment names the state directory."""
    mark = str(home).encode()
    found = []
    for pid in pids():
        if pid in exclude or parent_of(pid) is None:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd").encode()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # gone, or not ours
        if mark in cwd or mark in environ or mark in argv:
            found.append(pid)
    return found


def kind_of(command: str) -> str:
    if "model_server" in command:
        return "model_server"
    if "standby_driver" in command:
        return "glue_standby"
    if "ministack-lamb" in command:  # (a recorded command line may be cut there)
        return "lambda_worker"  # the emulator's warm Lambda workers, reaped when idle
    if "java" in command.split(" ", 1)[0]:
        return "jvm"
    if "local.server" in command:
        return "emulator"
    return "other"


def classify(processes: list[int]) -> dict[str, Any]:
    """Each process by its own command line, and a JVM by its parent's (a standby's JVM is the standby's)."""
    kinds: dict[str, int] = {}
    others: list[str] = []
    for pid in processes:
        command = cmdline(pid)
        kind = kind_of(command)
        if kind == "jvm":
            parent = parent_of(pid)
            parent_kind = kind_of(cmdline(parent)) if parent else "other"
            kind = "glue_standby_jvm" if parent_kind == "glue_standby" else "jvm"
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind in ("other", "jvm"):
            others.append(f"{pid}: {command[:160]}")
    return {"by_kind": kinds, "unexpected": others}


def reclassify(value: Any) -> None:
    """Re-kind the unexpected processes a run recorded with an older `kind_of` (`--resummarize`)."""
    if isinstance(value, list):
        for item in value:
            reclassify(item)
    elif isinstance(value, dict):
        if "by_kind" in value and "unexpected" in value:
            kept = []
            for entry in value["unexpected"]:
                old = "jvm" if kind_of(entry.split(": ", 1)[1]) == "jvm" else "other"
                new = kind_of(entry.split(": ", 1)[1])
                if new in ("other", "jvm"):
                    kept.append(entry)
                    continue
                value["by_kind"][old] -= 1
                value["by_kind"][new] = value["by_kind"].get(new, 0) + 1
                if not value["by_kind"][old]:
                    del value["by_kind"][old]
            value["unexpected"] = kept
        for item in value.values():
            reclassify(item)


# --- the soak ---------------------------------------------------------------------------------


class Soak:
    def __init__(self, scratch: Path, output: Path) -> None:
        self.home = scratch / "home"
        self.port = free_port()
        self.env = {**os.environ, "RETRAIN_HOME": str(self.home), "RETRAIN_LOCAL_PORT": str(self.port)}
        self.output = output
        self.document: dict[str, Any] = {
            "benchmark": "soak: consecutive retrain cycles with the local AWS restarted between some",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
            "cycles": [],
            "stops": [],
        }
        self.bucket = ""
        self.ignored = {os.getpid()}  # this benchmark and the commands it runs in the background

    def retrain(self, *args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
        started = time.perf_counter()
        done = subprocess.run(  # this interpreter, fixed argv  # nosec B603
            [sys.executable, "-m", "cli", *args],
            cwd=ROOT,
            env=self.env,
            text=True,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
        )
        if check and done.returncode != 0:
            raise SystemExit(f"retrain {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return time.perf_counter() - started, done

    def emulator_pid(self) -> int | None:
        try:
            return int(json.loads((self.home / "emulator.json").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def save(self) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.output.write_text(json.dumps(self.document, indent=2) + "\n", encoding="utf-8")

    def sizes(self) -> dict[str, int]:
        parts: dict[str, int] = {}
        total = 0
        for path in self.home.rglob("*"):
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                size = path.stat().st_size
            except OSError:
                continue
            relative = path.relative_to(self.home).parts
            key = "/".join(relative[:2]) if relative[0] == "emulator" and len(relative) > 2 else relative[0]
            parts[key] = parts.get(key, 0) + size
            total += size
        return {"total": total, **dict(sorted(parts.items()))}

    def snapshot(self) -> dict[str, Any]:
        pid = self.emulator_pid()
        if pid is None:
            raise SystemExit("the local AWS is not running")
        tree = descendants(pid)
        strays = [p for p in of_home(self.home, self.ignored | {pid}) if p not in tree]
        return {
            "emulator_pid": pid,
            "emulator_rss_mb": round(status_field(pid, "VmRSS") / 1024, 1),
            "emulator_threads": status_field(pid, "Threads"),
            "emulator_fds": descriptors(pid),
            "descendants": classify(tree),
            "home_processes_outside_tree": classify(strays),
            "state_dir_bytes": self.sizes(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }

    def wait_gone(self, exclude: set[int]) -> dict[str, Any]:
        """After a stop: the state directory's processes still alive, polled until none is (bounded)."""
        started = time.monotonic()
        first = of_home(self.home, exclude)
        alive_at_stop = classify(first)
        left = first
        while left and time.monotonic() - started < GONE_BOUND_SECONDS:
            time.sleep(POLL_SECONDS)
            left = of_home(self.home, exclude)
        return {
            "alive_when_stop_returned": alive_at_stop,
            "seconds_until_all_gone": round(time.monotonic() - started, 2) if not left else None,
            "still_alive_after_bound": classify(left) if left else None,
            "bound_seconds": GONE_BOUND_SECONDS,
        }

    def stop(self, how: str, after: str) -> None:
        pid = self.emulator_pid()
        before = classify(descendants(pid)) if pid else None
        started = time.perf_counter()
        if how == "down":
            self.retrain("local", "down")
        else:
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            while parent_of(pid) is not None and time.perf_counter() - started < 10:
                time.sleep(0.05)
        row: dict[str, Any] = {
            "how": how,
            "after": after,
            "stop_seconds": round(time.perf_counter() - started, 2),
            "emulator_tree_before": before,
            **self.wait_gone(self.ignored),
        }
        marker = self.home / "emulator" / "running"
        row["crash_marker_present"] = marker.exists()
        unclean = self.unclean_starts()
        up, _ = self.retrain("local", "up", "--detach")
        row["up_seconds"] = round(up, 2)
        row["restart_logged_unclean"] = self.unclean_starts() > unclean
        self.document["stops"].append(row)
        self.save()
        print(f"stop {how} after {after}: {json.dumps(row)}", flush=True)

    def unclean_starts(self) -> int:
        log = self.home / "logs" / "emulator.log"
        return log.read_text(errors="replace").count("was not stopped cleanly") if log.exists() else 0

    def output_value(self, key: str) -> str:
        from cli.pipeline import read_stack_outputs
        from local.clients import LocalClients
        from retrain.config import load_config

        config = load_config(ROOT / "retrain.toml")
        return str(read_stack_outputs(LocalClients.at_port(self.port), config.pipeline.name)[key])

    def land(self, days: int) -> None:
        self.retrain("demo-data", "--days", str(days), *(("--bucket", self.bucket) if self.bucket else ()))

    def cycle(self, number: int, days: int) -> None:
        if number > 1:
            self.land(days)
        wall, done = self.retrain("run", "--approve", "auto", "--json", check=False)
        try:
            summary = json.loads(done.stdout)
            outcome = summary.get("outcome")
        except ValueError:
            outcome = f"error {done.returncode}: {done.stderr[-300:]}"
        row = {"cycle": number, "wall_seconds": round(wall, 1), "outcome": outcome, **self.snapshot()}
        self.document["cycles"].append(row)
        self.save()
        short = {k: row[k] for k in ("cycle", "wall_seconds", "outcome", "emulator_rss_mb", "emulator_fds")}
        print(json.dumps(short), flush=True)

    def stop_mid_run(self, how: str, days: int) -> None:
        """Land data, start a run, and stop the local AWS while its Glue job's Spark runs."""
        self.land(days)
        runner = subprocess.Popen(  # this interpreter, fixed argv  # nosec B603
            [sys.executable, "-m", "cli", "run", "--approve", "auto", "--json"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ignored.add(runner.pid)
        spark = self.wait_for_glue_run()
        self.stop(how, f"mid-run (Glue job run RUNNING for {spark:.0f} s)" if spark else "mid-run (no Glue run seen)")
        try:
            runner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
            runner.wait()

    def wait_for_glue_run(self) -> float | None:
        """Seconds the pipeline's Glue job run had been RUNNING (at least 5, so its Spark is up); None: none came."""
        from local.clients import LocalClients

        glue = LocalClients.at_port(self.port).client("glue")
        job = self.output_value("GlueJobName")
        deadline = time.monotonic() + SPARK_WAIT_SECONDS
        seen: float | None = None
        while time.monotonic() < deadline:
            running = [r for r in glue.get_job_runs(JobName=job)["JobRuns"] if r["JobRunState"] == "RUNNING"]
            if running:
                seen = seen or time.monotonic()
                if time.monotonic() - seen >= 5:
                    return time.monotonic() - seen
            time.sleep(POLL_SECONDS)
        return None

    def summarize(self) -> None:
        rows = self.document["cycles"]
        segments: list[list[dict[str, Any]]] = []
        for row in rows:
            if not segments or segments[-1][-1]["emulator_pid"] != row["emulator_pid"]:
                segments.append([])
            segments[-1].append(row)

        def slope(points: list[tuple[float, float]]) -> float | None:
            if len(points) < 2:
                return None
            mean_x = sum(x for x, _ in points) / len(points)
            mean_y = sum(y for _, y in points) / len(points)
            var = sum((x - mean_x) ** 2 for x, _ in points)
            return round(sum((x - mean_x) * (y - mean_y) for x, y in points) / var, 3)

        def per_segment(value: Any) -> list[dict[str, Any]]:
            return [
                {
                    "cycles": f"{seg[0]['cycle']}-{seg[-1]['cycle']}",
                    "first": value(seg[0]),
                    "last": value(seg[-1]),
                    "slope_per_cycle": slope([(r["cycle"], value(r)) for r in seg]),
                }
                for seg in segments
            ]

        mb = 1024 * 1024
        self.document["summary"] = {
            "cycles": len(rows),
            "outcomes": [r["outcome"] for r in rows],
            "emulator_rss_mb": per_segment(lambda r: r["emulator_rss_mb"]),
            "emulator_threads": per_segment(lambda r: r["emulator_threads"]),
            "emulator_fds": per_segment(lambda r: r["emulator_fds"]["total"]),
            "emulator_pipe_fds": per_segment(lambda r: r["emulator_fds"]["pipe"]),
            "state_dir_mb": {
                "first": round(rows[0]["state_dir_bytes"]["total"] / mb, 2) if rows else None,
                "last": round(rows[-1]["state_dir_bytes"]["total"] / mb, 2) if rows else None,
                "slope_per_cycle": slope([(r["cycle"], r["state_dir_bytes"]["total"] / mb) for r in rows]),
                "slope_per_cycle_by_part": {
                    part: slope([(r["cycle"], r["state_dir_bytes"].get(part, 0) / mb) for r in rows])
                    for part in sorted({k for r in rows for k in r["state_dir_bytes"]} - {"total"})
                },
            },
            "unexpected_processes_after_cycles": sum(len(r["descendants"]["unexpected"]) for r in rows),
            "model_servers_after_cycles": [r["descendants"]["by_kind"].get("model_server", 0) for r in rows],
            "stops": [
                {
                    "how": s["how"],
                    "after": s["after"],
                    "alive_when_stop_returned": s["alive_when_stop_returned"]["by_kind"],
                    "seconds_until_all_gone": s["seconds_until_all_gone"],
                    "left_after_bound": s["still_alive_after_bound"],
                }
                for s in self.document["stops"]
            ],
        }
        self.save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--down-after", type=int, nargs="*", default=[3], help="cycles followed by `local down`")
    parser.add_argument("--kill-after", type=int, nargs="*", default=[7], help="cycles followed by SIGKILL")
    parser.add_argument("--days", type=int, default=3, help="new demo days landed before each cycle")
    parser.add_argument("--no-mid-run", action="store_true", help="skip the two stops in the middle of a run")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the figures go (default: %(default)s)")
    parser.add_argument("--resummarize", action="store_true", help="re-kind the processes and summary of --output")
    args = parser.parse_args()
    if args.resummarize:
        soak = Soak(Path(tempfile.gettempdir()), args.output)
        soak.document = json.loads(args.output.read_text(encoding="utf-8"))
        reclassify(soak.document)
        soak.summarize()
        print(json.dumps(soak.document["summary"], indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="bench-soak-", ignore_cleanup_errors=True) as scratch:
        soak = Soak(Path(scratch), args.output)
        soak.document["plan"] = {
            "cycles": args.cycles,
            "down_after": args.down_after,
            "kill_after": args.kill_after,
            "days_per_cycle": args.days,
        }
        try:
            up, _ = soak.retrain("local", "up", "--detach")
            soak.document["first_up_seconds"] = round(up, 2)
            soak.retrain("demo-data")
            for number in range(1, args.cycles + 1):
                soak.cycle(number, args.days)
                if not soak.bucket:
                    soak.bucket = soak.output_value("DataBucketName")
                if number in args.down_after:
                    soak.stop("down", f"cycle {number}")
                if number in args.kill_after:
                    soak.stop("kill -9", f"cycle {number}")
            soak.summarize()
            if not args.no_mid_run:
                soak.stop_mid_run("down", args.days)
                soak.stop_mid_run("kill -9", args.days)
                soak.summarize()
        finally:
            soak.retrain("local", "down", check=False)
            leftovers = of_home(soak.home, soak.ignored)
            soak.document["left_at_exit"] = classify(leftovers)
            soak.save()
            for pid in leftovers:  # never leave a process of this benchmark behind
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    print(json.dumps(soak.document.get("summary"), indent=2))


if __name__ == "__main__":
    main()
