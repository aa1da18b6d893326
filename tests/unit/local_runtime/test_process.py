"""The local runtime's script processes: own process group, output to a log, deadline, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from local.runtime.process import Ending, ScriptProcess, end_processes_working_under, terminate, waiter

# A script that starts a child in its own group and reports the child's pid, then waits.
PARENT_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)
IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def wait_for(condition, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_output_goes_line_by_line_and_the_stderr_tail_is_kept(tmp_path: Path) -> None:
    out: list[str] = []
    err: list[str] = []
    process = ScriptProcess(
        [sys.executable, "-c", "import sys; print('to stdout'); print('boom', file=sys.stderr); sys.exit(3)"],
        cwd=tmp_path,
        env=dict(os.environ),
    )
    process.start(on_stdout=out.append, on_stderr=err.append)
    assert process.supervise(30) is Ending.EXITED
    process.join_output(5)
    assert process.returncode == 3
    assert out == ["to stdout\n"] and err == ["boom\n"]
    assert list(process.tail) == ["boom\n"]


def test_output_to_a_log_file_holds_both_streams(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    process = ScriptProcess(
        [sys.executable, "-c", "import sys; print('out', flush=True); print('err', file=sys.stderr)"],
        cwd=tmp_path,
        env=dict(os.environ),
    )
    process.start(log_file=log)
    assert process.supervise(30) is Ending.EXITED
    assert log.read_text().splitlines() == ["out", "err"]


def test_a_timeout_ends_the_whole_process_group(tmp_path: Path) -> None:
    lines: list[str] = []
    process = ScriptProcess([sys.executable, "-c", PARENT_WITH_CHILD], cwd=tmp_path, env=dict(os.environ))
    process.start(on_stdout=lines.append)
    assert wait_for(lambda: bool(lines))
    child = int(lines[0])
    assert process.supervise(0.5) is Ending.TIMED_OUT
    assert not process.alive()
    assert wait_for(lambda: not alive(child))


def test_a_stop_request_stops_it_and_sigkill_follows_an_ignored_sigterm(tmp_path: Path) -> None:
    lines: list[str] = []
    process = ScriptProcess([sys.executable, "-c", IGNORES_SIGTERM], cwd=tmp_path, env=dict(os.environ))
    process.start(on_stdout=lines.append)
    assert wait_for(lambda: bool(lines))
    started = time.monotonic()
    assert process.supervise(60, should_stop=lambda: True, grace=0.5) is Ending.STOPPED
    assert time.monotonic() - started < 10
    assert process.returncode == -signal.SIGKILL


def test_terminate_of_a_single_process_and_of_one_already_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert terminate(child.pid, group=False, grace=5, wait=waiter(child))
    assert child.returncode == -signal.SIGTERM
    assert terminate(child.pid, group=False)  # reaped: nothing left to signal


def pipe_descriptors() -> set[tuple[str, str]]:
    """This process's open pipe descriptors, each with the pipe it is (`pipe:[inode]`)."""
    pipes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor, closed already
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("pipe:"):
                pipes.add((fd, target))
    return pipes


def test_a_finished_script_kept_by_its_owner_holds_no_pipe(tmp_path: Path) -> None:
    # The local SageMaker keeps a finished job's runner (and so its ScriptProcess): its output pipes
    # must close when the output ends, not when the object goes, or each job leaves two descriptors.
    before = pipe_descriptors()
    kept = []
    for streams in ("both", "stdout"):
        process = ScriptProcess([sys.executable, "-c", "print('done')"], cwd=tmp_path, env=dict(os.environ))
        process.start(on_stdout=lambda line: None, on_stderr=(lambda line: None) if streams == "both" else None)
        assert process.supervise(30) is Ending.EXITED
        process.join_output(5)
        kept.append(process)
    # None opened since is still open. (A count failed when an earlier test's pipe closed meanwhile: 8 == 9.)
    assert pipe_descriptors() - before == set()


def test_the_processes_working_under_a_folder_end_with_their_children_and_no_other_does(tmp_path: Path) -> None:
    job = tmp_path / "work" / "training" / "job-1"
    job.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    spawn = {"start_new_session": True, "stdout": subprocess.PIPE, "text": True}
    left = subprocess.Popen([sys.executable, "-c", PARENT_WITH_CHILD], cwd=job, **spawn)  # type: ignore[call-overload]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=tmp_path / "elsewhere")
    try:
        child = int(left.stdout.readline())
        ended = end_processes_working_under(tmp_path / "work")
        assert ended == [left.pid]  # its group: the child is in it
        assert wait_for(lambda: left.poll() is not None and not alive(child))
        assert other.poll() is None and alive(os.getpid())
    finally:
        for process in (left, other):
            process.kill()
            process.wait(timeout=10)
