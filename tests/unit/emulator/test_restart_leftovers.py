"""A local AWS that starts again after a `kill -9` ends what its predecessor's jobs left running.

The local SageMaker ended a job's process at the restart by the pid the job recorded once the process had
started; a kill between the start and that record left the process to run to its own end
(tests/local/test_crash_cycles.py waited 60 s for a training job's processes in vain). The restart now finds
them by the folder they work in, and the local Glue does the same for its scratch folders (a standby that had
not yet learnt its parent was gone).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from local.glue_runner import LocalGlueJobRunner
from local.sagemaker.service import LocalSageMaker
from local.sagemaker.store import StateStore


def ended_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.poll() is not None


def test_a_job_process_whose_pid_was_never_recorded_ends_when_the_local_sagemaker_starts_again(
    tmp_path: Path,
) -> None:
    root = tmp_path / "sagemaker"
    StateStore(root / "state.json").put(
        "TrainingJob",
        "train-1",
        {"TrainingJobName": "train-1", "TrainingJobStatus": "InProgress", "_Region": "us-east-1"},
    )
    folder = root / "work" / "training" / "train-1" / "opt" / "ml" / "code"
    folder.mkdir(parents=True)
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=folder, start_new_session=True)
    sagemaker = LocalSageMaker("http://127.0.0.1:9", tmp_path, ship_logs=False, publish_metrics=False)
    try:
        sagemaker.start()
        assert ended_within(left, 10), "the left-over job process still runs"
        job = sagemaker.store.get("TrainingJob", "train-1")
        assert job is not None and job["TrainingJobStatus"] == "Failed"
    finally:
        sagemaker.shutdown()
        left.kill()
        left.wait(timeout=10)


def test_a_process_left_in_the_glue_scratch_folders_ends_before_the_local_glue_starts_anything(tmp_path: Path) -> None:
    runner = LocalGlueJobRunner("http://127.0.0.1:9", tmp_path / "glue-runs", tmp_path / "logs", standbys=0)
    folder = tmp_path / "glue-runs" / ".standby-1"
    folder.mkdir(parents=True)
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=folder, start_new_session=True)
    try:
        runner.end_left_overs()
        assert ended_within(left, 10), "the left-over standby still runs"
    finally:
        runner.close()
        left.kill()
        left.wait(timeout=10)
