"""The local SageMaker's table of job runners keeps the running ones only: a soak of consecutive cycles
(benchmarks/bench_soak.py) must not grow the emulator by each finished job."""

from __future__ import annotations

from typing import Any, cast

from local.sagemaker.job_runner import JobRunner, JobRunners
from local.sagemaker.jobs import JobContext
from local.sagemaker.store import StateStore


class Instant(JobRunner):
    KIND = "TrainingJob"
    FOLDER = "training"

    def __init__(self, name: str) -> None:
        super().__init__(name, cast(StateStore, None), cast(JobContext, None))

    def _run(self) -> None:
        return None


def started(runner: Any) -> Any:
    runner.start()
    runner.join(10)
    return runner


def test_a_finished_runner_leaves_the_table_when_the_next_job_starts() -> None:
    runners = JobRunners()
    first = Instant("first")
    runners[("TrainingJob", "first")] = first
    assert not first.finished()  # added before its thread starts: kept
    started(first)
    assert first.finished()
    runners[("ProcessingJob", "second")] = Instant("second")
    assert list(runners) == [("ProcessingJob", "second")]


def test_a_running_runner_stays_for_its_stop_and_the_shutdown() -> None:
    runners = JobRunners()
    waiting = Instant("waiting")
    runners[("TrainingJob", "waiting")] = waiting
    runners[("TrainingJob", "next")] = Instant("next")
    assert set(runners) == {("TrainingJob", "waiting"), ("TrainingJob", "next")}
