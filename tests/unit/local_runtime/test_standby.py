"""Standby processes (without Spark): a run handed to one behaves as `python script argv...` would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.runtime.process import Ending
from local.runtime.standby import DRIVER, SCRATCH, StandbyPool, environment_key, for_scratch
from tests.support.polling import PROCESS_START_BOUND, wait_until

SCRIPT = """
import os, sys
import helper
print("argv", sys.argv[1:], "path0", sys.path[0] == os.path.dirname(os.path.abspath(__file__)), flush=True)
print("main", __name__, "stdin", sys.stdin.read() == "", "cwd", os.getcwd() == os.environ["TMPDIR"], flush=True)
helper.VALUE = helper.VALUE + 1
print("helper", helper.VALUE, flush=True)
mode = sys.argv[1]
if mode == "raise":
    raise helper.SchemaMismatch("column x is missing")
sys.exit(int(mode))
"""
HELPER = "VALUE = 0\n\nclass SchemaMismatch(Exception):\n    pass\n"


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[StandbyPool]:
    pool = StandbyPool(tmp_path / "scratch", tmp_path / "logs", size=1, spark=False)
    yield pool
    pool.close()


@pytest.fixture
def script(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "job.py").write_text(SCRIPT)
    (code / "helper.py").write_text(HELPER)
    return code / "job.py"


def key() -> tuple[tuple[str, str], ...]:
    return environment_key({**os.environ, "TMPDIR": SCRATCH})


def run(pool: StandbyPool, script: Path, argv: list[str], log: Path) -> tuple[int | None, str]:
    standby = pool.take(key())
    assert standby is not None
    wait_until(standby.ready, 30, "the standby to be ready")
    process = standby.hand_over(script, argv, log)
    assert process.supervise(30) is Ending.EXITED
    standby.discard()
    return process.returncode, log.read_text()


def test_a_handed_over_script_runs_as_its_own_main_and_exits_with_its_code(
    pool: StandbyPool, script: Path, tmp_path: Path
) -> None:
    pool.ensure(key())
    code, output = run(pool, script, ["3", "--flag", "value"], tmp_path / "run.log")
    assert code == 3
    assert "argv ['3', '--flag', 'value'] path0 True" in output
    assert "main __main__ stdin True cwd True" in output
    assert "helper 1" in output


def test_each_run_is_a_fresh_process_and_a_failure_is_the_scripts_traceback(
    pool: StandbyPool, script: Path, tmp_path: Path
) -> None:
    pool.ensure(key())
    assert run(pool, script, ["0"], tmp_path / "first.log")[0] == 0
    pool.ensure(key())
    code, output = run(pool, script, ["raise"], tmp_path / "second.log")
    assert code == 1
    assert "helper 1" in output  # not 2: the first run's module state died with its process
    assert output.endswith("helper.SchemaMismatch: column x is missing\n")
    assert f'Traceback (most recent call last):\n  File "{script}"' in output
    assert "standby_driver" not in output


def test_a_standby_is_per_environment_and_the_pool_is_bounded(pool: StandbyPool) -> None:
    other = environment_key({"TMPDIR": SCRATCH, "PYTHONPATH": "elsewhere"})
    pool.ensure(key())
    first = pool.waiting()[0]
    pool.ensure(other)  # size 1: the least recently used standby ends
    assert [standby.environment for standby in pool.waiting()] == [for_scratch(other, pool.waiting()[0].scratch)]
    wait_until(lambda: not first.process.alive(), 10, "the evicted standby to end")
    assert not first.scratch.exists()
    assert pool.take(key()) is None


def test_a_standby_whose_stdin_closes_exits_without_running_anything(pool: StandbyPool) -> None:
    pool.ensure(key())
    standby = pool.waiting()[0]
    standby.process.send("")  # what its parent's exit does: EOF
    wait_until(lambda: not standby.process.alive(), 10, "the standby to exit")
    assert standby.process.returncode == 0
    assert pool.take(key()) is None  # an exited standby is never handed a run


# A local AWS in miniature: starts a standby in a session of its own (as `StandbyPool` does), hands it a job
# that starts a child of its own (a JVM's place) and writes both pids, then waits to be killed.
PARENT = """
import json, subprocess, sys
driver = subprocess.Popen([sys.executable, sys.argv[1]], stdin=subprocess.PIPE, start_new_session=True)
driver.stdin.write((json.dumps({"script": sys.argv[2], "argv": [sys.argv[3]]}) + "\\n").encode())
driver.stdin.close()
sys.stdin.read()
"""
LINGERING = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(sys.argv[1] + ".tmp", "w") as out:
    out.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
"""


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def kill_parent_then_wait_for_the_job_to_end(argv: list[str], pids: Path) -> None:
    """Start the miniature local AWS (`argv`), wait for its job to write its and its child's pids to `pids`,
    kill -9 the parent, and wait (bounded) for both to be gone."""
    parent = subprocess.Popen(argv, stdin=subprocess.PIPE, cwd=Path(__file__).resolve().parents[3])
    try:
        wait_until(pids.exists, 30, "the job to start its child")
        script, child = (int(pid) for pid in pids.read_text().split())
        parent.kill()
        parent.wait()
        wait_until(lambda: gone(script) and gone(child), 30, "the job and its child to end with the parent")
    finally:
        parent.kill()
        for pid in pids.read_text().split() if pids.exists() else []:
            if not gone(int(pid)):
                os.kill(int(pid), signal.SIGKILL)


def test_a_running_script_and_its_children_end_when_the_standbys_parent_is_killed(tmp_path: Path) -> None:
    # `kill -9` of the local AWS: nothing in it runs to stop the job, whose JVM must not outlive it.
    (tmp_path / "job.py").write_text(LINGERING)
    pids = tmp_path / "pids"
    kill_parent_then_wait_for_the_job_to_end(
        [sys.executable, "-c", PARENT, str(DRIVER), str(tmp_path / "job.py"), str(pids)], pids
    )


# The local AWS in miniature again, this time starting the job cold (no standby waits for its environment).
COLD_PARENT = """
import os, sys
from pathlib import Path
from local.runtime.standby import start_cold
scratch = Path(sys.argv[3])
environment = dict(os.environ, TMPDIR=str(scratch))
start_cold([sys.executable, sys.argv[1], sys.argv[2]], scratch, environment, scratch / "run.log")
sys.stdin.read()
"""


def test_a_cold_run_and_its_children_end_when_the_local_aws_is_killed(tmp_path: Path) -> None:
    # A cold Glue run was started as `python script`, with nothing watching its parent: after a kill -9 of the
    # local AWS it ran to its end (its JVM too), a minute in the soak benchmark.
    (tmp_path / "job.py").write_text(LINGERING)
    pids = tmp_path / "pids"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    kill_parent_then_wait_for_the_job_to_end(
        [sys.executable, "-c", COLD_PARENT, str(tmp_path / "job.py"), str(pids), str(scratch)], pids
    )


# What PySpark does in a Spark standby before its script: start a child (the JVM) with a pipe as its stdin. This
# one, unlike the JVM PySpark's gateway means to be, does not exit at EOF on that pipe; a standby's JVM was once
# found alive, orphaned, 80 minutes after its driver had exited at EOF.
DEAF_CHILD = """
import os, subprocess
pids = os.environ.pop("STANDBY_CHILD_PID", None)
if pids:
    CHILD = subprocess.Popen(["sleep", "120"], stdin=subprocess.PIPE)
    with open(pids + ".tmp", "w") as out:
        out.write(str(CHILD.pid))
    os.replace(pids + ".tmp", pids)
"""


def test_a_standby_whose_stdin_closes_ends_what_it_started_whether_or_not_it_would_by_itself(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(DEAF_CHILD)  # run by the standby's interpreter as it starts
    pids = tmp_path / "child.pid"
    environment = {**os.environ, "TMPDIR": SCRATCH, "PYTHONPATH": str(site), "STANDBY_CHILD_PID": str(pids)}
    pool = StandbyPool(tmp_path / "scratch", tmp_path / "logs", size=1, spark=False)
    try:
        pool.ensure(environment_key(environment))
        standby = pool.waiting()[0]
        wait_until(lambda: pids.exists() and standby.ready(), PROCESS_START_BOUND, "the standby and its child")
        child = int(pids.read_text())

        standby.process.send("")  # its parent's exit, or death

        wait_until(lambda: not standby.process.alive(), 10, "the standby to exit")
        assert standby.process.returncode == 0
        wait_until(lambda: gone(child), 10, "the child it started to end with it")
    finally:
        pool.close()
        if pids.exists() and not gone(int(pids.read_text())):
            os.kill(int(pids.read_text()), signal.SIGKILL)
