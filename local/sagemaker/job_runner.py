"""What training and processing job runners share: a thread per job, its process, its log stream.

A subclass names its kind and says which image its job runs (`_image`: the job runs on the interpreter of
that image's isolated environment), how it runs (`_run_in`), how it records a stop and how it
records a failure of the runner itself; the lifecycle around that is the same for every job.
"""

from __future__ import annotations

import logging
import shutil
import threading
from typing import Any, ClassVar

from local.runtime.environments import EnvironmentMissing
from local.runtime.staging import S3Staging
from local.sagemaker import execution_role
from local.sagemaker.images import UnknownImage
from local.sagemaker.jobs import ContainerPaths, JobContext, JobProcess
from local.sagemaker.logstream import LogStream
from local.sagemaker.store import Record, StateStore

logger = logging.getLogger("local.sagemaker")
HOST = "algo-1"


class JobRunner:
    KIND: ClassVar[str]  # the store's kind, e.g. "TrainingJob"
    FOLDER: ClassVar[str]  # work and log folder under the state directory, e.g. "training"
    LOG_GROUP: ClassVar[str]  # the CloudWatch Logs group SageMaker writes the job's output to

    def __init__(self, name: str, store: StateStore, context: JobContext) -> None:
        self.name = name
        self._store = store
        self._context = context
        self._stop = threading.Event()
        self._process: JobProcess | None = None
        self._thread = threading.Thread(target=self._run_safely, name=f"{self.FOLDER}-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def finished(self) -> bool:
        """Started and ended: the job's record holds its outcome, and a stop has nothing left to stop."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._mark_stopping()
        if self._process is not None:
            self._process.stop()

    def _run_safely(self) -> None:
        try:
            self._run()
        except Exception as error:  # a bug here must still end the job, never leave it InProgress
            logger.exception("%s %s failed in the local SageMaker", self.KIND, self.name)
            self._fail_internally(f"InternalServerError: {error}"[:1024])

    def _run(self) -> None:
        record = self._store.get(self.KIND, self.name)
        assert record is not None
        region = record["_Region"]
        try:
            interpreter = self._context.runtimes.interpreter(self._image(record))
        except (UnknownImage, EnvironmentMissing) as error:
            self._fail_internally(f"ClientError: {error}"[:1024])
            return
        clients = self._context.clients
        # SageMaker moves the job's data as the job's role (local.sagemaker.execution_role).
        s3_client = clients.client("s3", region)  # type: ignore[attr-defined]
        s3 = execution_role.staging(self._context.roles, s3_client, region, record.get("RoleArn"))
        work = self._context.state_dir / "work" / self.FOLDER / self.name
        shutil.rmtree(work, ignore_errors=True)
        paths = ContainerPaths(work, interpreter)
        log = execution_role.log_stream(
            self._context.roles,
            record.get("RoleArn"),
            clients.client("logs", region) if self._context.ship_logs else None,  # type: ignore[attr-defined]
            self.LOG_GROUP,
            f"{self.name}/{HOST}-{int(record['CreationTime'])}",
            self._context.state_dir / "logs" / self.FOLDER / f"{self.name}.log",
            (region, record["_Account"]),
        )
        try:
            self._run_in(record, paths, s3, log, region)
        finally:
            log.close()
            # SageMaker deletes a job's storage volume when it ends (what it keeps went to S3 and its logs):
            # kept here, each job would grow the state directory by its inputs and outputs.
            shutil.rmtree(work, ignore_errors=True)

    # --- what each kind of job says itself ----------------------------------------------------

    def _image(self, record: Record) -> str | None:
        raise NotImplementedError

    def _run_in(self, record: Record, paths: ContainerPaths, s3: S3Staging, log: LogStream, region: str) -> None:
        raise NotImplementedError

    def _mark_stopping(self) -> None:
        raise NotImplementedError

    def _fail_internally(self, reason: str) -> None:
        raise NotImplementedError


class JobRunners(dict[tuple[str, str], Any]):
    """The runners of a local SageMaker's jobs by (kind, name), for their stop and shutdown.

    A finished runner leaves when the next job starts: it holds its process's output tail and log
    stream, and a stop of its job is refused from the job's record, so keeping it would only grow the
    emulator with each job (a monitoring schedule starts one an hour, a minute at the 1/60 clock).
    """

    def __setitem__(self, key: tuple[str, str], runner: Any) -> None:
        for done in [name for name, kept in list(self.items()) if kept.finished()]:
            self.pop(done, None)
        super().__setitem__(key, runner)
