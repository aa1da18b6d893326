"""The jobs' failure-line protocol: what they write is what the pipeline reads."""

from __future__ import annotations

import json

import evaluate
import prepare_failures
import pytest
import train
from failure_line import JobFailure, failure_line, run_job

from retrain.errors import DOMAIN_ERROR_NAMES
from retrain.failure_line import FAILURE_LINE
from retrain.failures import classify


class SchemaMismatch(JobFailure):
    pass


def test_the_line_is_the_class_name_and_the_message_on_one_line() -> None:
    assert failure_line("SchemaMismatch", "column a\n   is missing ") == "SchemaMismatch: column a is missing"
    assert SchemaMismatch("x  y").line() == "SchemaMismatch: x y"


def test_a_job_failure_ends_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    def job() -> None:
        print("working")
        raise SchemaMismatch("column amount\nhas type string")

    assert run_job(job) == 1
    captured = capsys.readouterr()
    assert captured.out == "working\n"
    assert captured.err.splitlines()[-1] == "SchemaMismatch: column amount has type string"
    assert run_job(lambda: None) == 0


def test_a_bug_is_named_when_the_job_says_how(capsys: pytest.CaptureFixture[str]) -> None:
    def job() -> None:
        raise ValueError("boom")

    assert run_job(job, unexpected=train.TrainingScriptFailed) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "Traceback (most recent call last):"
    assert err[-1] == "TrainingScriptFailed: unexpected ValueError: boom"
    with pytest.raises(ValueError, match="boom"):
        run_job(job)  # the Glue job: the service reports the traceback


@pytest.mark.parametrize("module", [prepare_failures, train, evaluate])
def test_every_failure_a_job_names_is_a_pipeline_error_and_classifies(module: object) -> None:
    failures = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, JobFailure) and value is not JobFailure
    ]
    assert failures
    for failure in failures:
        line = failure("what broke;\nhow to fix it").line()
        match = FAILURE_LINE.match(line)
        assert match and match.group("name") == failure.__name__ in DOMAIN_ERROR_NAMES
        summary = classify(
            {"Error": "States.TaskFailed", "Cause": json.dumps({"ExitMessage": line, "ProcessingJobName": "j"})}
        )
        assert summary.error == failure.__name__
        assert summary.cause.startswith("Processing job j failed: what broke; how to fix it")
