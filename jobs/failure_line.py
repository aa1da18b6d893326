"""The failure-line protocol of the job scripts: a job that fails ends its stderr with one line,
`<Name>: <message>`, and exits with 1.

`Name` is the failure's class name, which the pipeline maps to its error (`SchemaMismatch`,
`DataQualityError`, `InvalidJobArguments`, `TrainingScriptFailed`, `EvaluationFailed`: the names of
`retrain.errors`); the message says what is wrong and how to fix it, on that one line. The readers
(`retrain.failure_line`, `retrain.failures`, the local runtime) parse exactly this shape.

SageMaker does not read stderr for a job's failure text: it reads a file the container writes, which
`run_job` writes too when given `failure_file`: `/opt/ml/output/failure` for training (its first 1 KB
is `FailureReason`; the training toolkit writes it only when the script has not, sagemaker-training
4.8.0 `files.write_failure_file`), `/opt/ml/output/message` for processing (its first 1 KB is
`ExitMessage`: https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-metadata.html).

The jobs run flat inside managed containers and import this module by its bare name, so it ships
with them: in the SageMaker `sourcedir.tar.gz` and in the Glue job's `--extra-py-files` zip.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path

PROCESSING_MESSAGE = "/opt/ml/output/message"
CONTAINER_ROOT = "/opt/ml/"


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


def write_failure_file(path: Path | None, line: str) -> None:
    """The failure line into the container's failure file; best effort (stderr has the line anyway)."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(line + "\n", encoding="utf-8")
    except OSError as error:
        print(f"could not write the failure file {path}: {error}", file=sys.stderr, flush=True)


def processing_message_file(processing_path: str | None) -> Path:
    """`/opt/ml/output/message` of the container that holds `processing_path`, one of the job's
    `/opt/ml/processing/...` folders as its arguments name it (SageMaker requires a processing input's
    or output's LocalPath under /opt/ml/processing); `/opt/ml/output/message` itself without one."""
    if processing_path and CONTAINER_ROOT in processing_path + "/":
        root = (processing_path + "/")[: (processing_path + "/").index(CONTAINER_ROOT) + len(CONTAINER_ROOT)]
        return Path(root) / "output" / "message"
    return Path(PROCESSING_MESSAGE)


def run_job(
    job: Callable[[], object],
    unexpected: type[JobFailure] | None = None,
    failure_file: Callable[[], Path | None] | None = None,
) -> int:
    """Run `job` and return the exit code: 0 when it returns, 1 after the failure line of a `JobFailure`.

    With `unexpected`, any other exception (a bug) is reported too, as that failure after its
    traceback; without it, the exception propagates and the service reports its traceback.
    `failure_file()` names the file the failure line is also written to (read when the job failed).
    """
    try:
        job()
    except JobFailure as failure:
        name, message = type(failure).__name__, str(failure)
    except Exception as error:
        if unexpected is None:
            raise
        traceback.print_exc()
        name, message = unexpected.__name__, f"unexpected {type(error).__name__}: {error}"
    else:
        return 0
    write_failure_file(failure_file() if failure_file is not None else None, failure_line(name, message))
    report(name, message)  # last: the failure line ends stderr
    return 1
