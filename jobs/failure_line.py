"""The failure-line protocol of the job scripts: a job that fails ends its stderr with one line,
`<Name>: <message>`, and exits with 1.

`Name` is the failure's class name, which the pipeline maps to its error (`SchemaMismatch`,
`DataQualityError`, `InvalidJobArguments`, `TrainingScriptFailed`, `EvaluationFailed`: the names of
`retrain.errors`); the message says what is wrong and how to fix it, on that one line. The readers
(`retrain.failure_line`, `retrain.failures`, the local runtime) parse exactly this shape.

The jobs run flat inside managed containers and import this module by its bare name, so it ships
with them: in the SageMaker `sourcedir.tar.gz` and in the Glue job's `--extra-py-files` zip.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable


class JobFailure(Exception):
    """A failure the job reports as its failure line, named by its class."""

    def line(self) -> str:
        return failure_line(type(self).__name__, str(self))


def failure_line(name: str, message: str) -> str:
    """`Name: message`, the message on one line (the readers take a single line)."""
    return f"{name}: {' '.join(message.split())}"


def report(name: str, message: str) -> None:
    """Write the failure line as the last line on stderr."""
    sys.stdout.flush()  # what the job printed comes before it where both streams share a log
    print(failure_line(name, message), file=sys.stderr, flush=True)


def run_job(job: Callable[[], object], unexpected: type[JobFailure] | None = None) -> int:
    """Run `job` and return the exit code: 0 when it returns, 1 after the failure line of a `JobFailure`.

    With `unexpected`, any other exception (a bug) is reported too, as that failure after its
    traceback; without it, the exception propagates and the service reports its traceback.
    """
    try:
        job()
    except JobFailure as failure:
        report(type(failure).__name__, str(failure))
        return 1
    except Exception as error:
        if unexpected is None:
            raise
        traceback.print_exc()
        report(unexpected.__name__, f"unexpected {type(error).__name__}: {error}")
        return 1
    return 0
