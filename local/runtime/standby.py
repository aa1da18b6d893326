"""Warm standby processes: a script run's fixed start-up cost paid before the run, in a process of its own.

Most of a small Spark job's wall time locally is the start of Python, the JVM and the SparkSession.
A `Standby` is a process (`standby_driver.py`) started with exactly the environment and working
directory a run will have, which has already paid that cost and waits for one script. A run whose
environment equals a standby's takes it and hands it the script and its argv; the process runs the
script and exits. So each run is still a process of its own, as cold (nothing leaks from one run to
the next: no module state, no Spark temp views or cached tables), and its output, exit code, stop
and timeout are a `ScriptProcess`'s as before: the standby is one, started earlier.

Why this over a long-lived driver that runs job after job: isolation needs no cleanup code to be
right (a fresh process cannot leak), and a crash or a stop ends one run only. Why not forking a
warm parent: a JVM does not survive a fork. The price is one idle standby per environment (`size`
bounds them, least recently used evicted) and its start after each run, in the background.

The key is the whole environment a run would get with its scratch folder as a placeholder, so any
difference that could change the driver (Spark conf, Python path, a variable) means a cold start.
A standby ends with the local AWS that started it: it exits at EOF on its stdin, which closes when
its parent exits or dies; `close` ends them all at once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from local.runtime.process import ScriptProcess

logger = logging.getLogger("retrain.local.standby")

DRIVER = Path(__file__).with_name("standby_driver.py")
# Stands for a run's scratch folder in a key: each standby has its own.
SCRATCH = "\x1fscratch\x1f"

# The interpreter a standby runs on when its environment names one (Spark's own variable for the driver's
# Python: a Glue job's isolated environment), else this one.
PYTHON_ENV = "PYSPARK_DRIVER_PYTHON"

EnvironmentKey = tuple[tuple[str, str], ...]


def environment_key(environment: Mapping[str, str]) -> EnvironmentKey:
    """The key of the environment built for the placeholder scratch folder `Path(SCRATCH)`."""
    return tuple(sorted(environment.items()))


def for_scratch(key: EnvironmentKey, scratch: Path) -> dict[str, str]:
    return {name: value.replace(SCRATCH, str(scratch)) for name, value in key}


STANDBYS_ENV = "RETRAIN_LOCAL_GLUE_STANDBYS"


def configured_standbys(environ: Mapping[str, str] | None = None) -> int:
    """How many warm Spark drivers the local Glue keeps, one per job environment: `RETRAIN_LOCAL_GLUE_STANDBYS`,
    default 1. 0 starts every run cold: a standby's start costs about 7 CPU-seconds and its JVM's memory, spent
    for nothing in a local AWS that never runs a Spark job (a deploy-only check)."""
    value = (os.environ if environ is None else environ).get(STANDBYS_ENV, "1").strip()
    if not re.fullmatch("[0-9]+", value):
        raise ValueError(f"{STANDBYS_ENV}={value!r}: use a whole number of warm drivers (the default 1; 0: none)")
    return int(value)


@dataclass
class Standby:
    """One started standby: its process (output going to `log`), scratch folder and environment."""

    process: ScriptProcess
    scratch: Path
    log: Path
    environment: dict[str, str]

    @property
    def ready_file(self) -> Path:
        return self.log.with_suffix(".ready")

    def ready(self) -> bool:
        """Whether it has paid its start-up cost and waits for the script."""
        return self.ready_file.exists()

    def hand_over(self, script: Path, argv: Sequence[str], log_path: Path) -> ScriptProcess:
        """Run `script` with `argv` in this standby, its output (from its start) in `log_path`.

        OSError when the standby has exited (a cold start then does the run).
        """
        # First the log (the process tree keeps writing to the same file, under its new name): once the
        # script is sent it runs, and a failure after that must not start the run a second time.
        self.log.replace(log_path)
        self.process.send(json.dumps({"script": str(script), "argv": list(argv)}) + "\n")
        return self.process

    def discard(self) -> None:
        self.process.stop(grace=2)
        self.log.unlink(missing_ok=True)
        self.ready_file.unlink(missing_ok=True)
        shutil.rmtree(self.scratch, ignore_errors=True)


def start_cold(command: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path) -> ScriptProcess:
    """Run `command` (`python script argv...`) without a standby, through the same driver: it watches its
    parent as a standby does, so a cold run (and its JVM) ends with a local AWS that is killed too, instead of
    running to its end with no one to take its result. OSError when it cannot start."""
    process = ScriptProcess([command[0], str(DRIVER)], cwd=cwd, env=env)
    process.start(log_file=log_path, keep_stdin=True)
    process.send(json.dumps({"script": str(command[1]), "argv": list(command[2:])}) + "\n")
    return process


class StandbyPool:
    """At most `size` standbys, one per environment key; `size` 0 turns them off."""

    def __init__(self, scratch_root: Path, log_root: Path, *, size: int = 1, spark: bool = True) -> None:
        self.scratch_root = scratch_root
        self.log_root = log_root
        self.size = size
        self.spark = spark
        self._standbys: OrderedDict[EnvironmentKey, Standby] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False
        # What standbys of a local AWS that was killed left behind (one local AWS per home).
        for stale in (*scratch_root.glob("standby-*"), *log_root.glob(".standby-*")):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)

    def waiting(self) -> list[Standby]:
        with self._lock:
            return list(self._standbys.values())

    def take(self, key: EnvironmentKey) -> Standby | None:
        """The standby for `key`, now the caller's; None when there is none alive."""
        with self._lock:
            standby = self._standbys.pop(key, None)
        if standby is not None and not standby.process.alive():
            logger.warning("standby %s had exited (see %s); starting cold", standby.process.pid, standby.log)
            standby.discard()
            return None
        return standby

    def ensure(self, key: EnvironmentKey) -> None:
        """Start a standby for `key` unless one waits already; the least recently used beyond `size` ends."""
        if self.size <= 0:
            return
        evicted: list[Standby] = []
        with self._lock:
            if self._closed:
                return
            if key in self._standbys:
                self._standbys.move_to_end(key)
                return
            try:
                self._standbys[key] = self._start(key)
            except OSError as error:
                logger.warning("could not start a standby: %s", error)
            while len(self._standbys) > self.size:
                evicted.append(self._standbys.popitem(last=False)[1])
        for standby in evicted:
            standby.discard()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            standbys = list(self._standbys.values())
            self._standbys.clear()
        for standby in standbys:
            standby.discard()

    def _start(self, key: EnvironmentKey) -> Standby:
        name = f"standby-{uuid.uuid4().hex[:12]}"
        scratch = self.scratch_root / name
        scratch.mkdir(parents=True)
        self.log_root.mkdir(parents=True, exist_ok=True)
        log = self.log_root / f".{name}.log"
        environment = for_scratch(key, scratch)
        python = environment.get(PYTHON_ENV, sys.executable)
        process = ScriptProcess([python, str(DRIVER)], cwd=scratch, env=environment)
        standby = Standby(process, scratch, log, environment)
        process.argv += [*(["--spark"] if self.spark else []), "--ready-file", str(standby.ready_file)]
        process.start(log_file=log, keep_stdin=True)
        logger.info("standby %s started (pid %s)", name, process.pid)
        return standby
