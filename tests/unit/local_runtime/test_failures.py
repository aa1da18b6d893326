"""Reading what a failed script says went wrong (the failure-line protocol)."""

from __future__ import annotations

import re

from local.runtime.failures import read_failure

NOISE = re.compile(r"^\d{2}/\d{2}/\d{2} ")


def test_the_exception_is_what_follows_the_last_tracebacks_frames() -> None:
    output = (
        "starting\n"
        "Traceback (most recent call last):\n  File \"a.py\", line 1\nKeyError: 'first'\n\n"
        "During handling of the above exception, another exception occurred:\n\n"
        'Traceback (most recent call last):\n  File "a.py", line 3, in <module>\n    main()\n'
        "ValueError: second\nTrainingScriptFailed: unexpected ValueError: second\n"
    )
    failure = read_failure(output)
    assert failure.exception == ("ValueError: second", "TrainingScriptFailed: unexpected ValueError: second")
    assert failure.failure_line == "TrainingScriptFailed: unexpected ValueError: second"


def test_a_failure_line_without_a_traceback_and_noise_left_out() -> None:
    failure = read_failure(
        ["26/11/22 00:08:44 WARN x: y\n", "retrain.errors.SchemaMismatch: column a\n", "26/11/22 INFO done\n", "\n"],
        noise=NOISE,
    )
    assert failure.exception == ()
    assert failure.failure_line == "retrain.errors.SchemaMismatch: column a"
    assert failure.lines == ("retrain.errors.SchemaMismatch: column a",)


def test_lines_that_are_not_failure_lines() -> None:
    failure = read_failure("lowercase: not a class\nNoSpace:after\nplain text\n")
    assert failure.failure_line is None
    assert failure.lines[-1] == "plain text"
