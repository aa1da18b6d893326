"""Runs a Glue job's script for real on this machine, the way Glue runs it.

A Spark job (`Command.Name` = `glueetl`) runs on local PySpark. Local Spark has no S3 connector, so
the runner mirrors S3 for the job: every `s3://` argument is copied into a scratch directory before
the run and replaced by the `file://` URI of its copy; after the run, whatever the job wrote, changed
or deleted under those locations is copied back to S3. The script itself is the one deployed to AWS
and never knows. A Python shell job (`pythonshell`) gets its arguments unchanged and reaches S3
through boto3, as on AWS.

Both kinds get `--JOB_NAME`, `--JOB_RUN_ID` and the merged arguments as `--key value` pairs on argv,
and `--extra-py-files` on their `PYTHONPATH`. A failed script fails the run with its last error line
(`SchemaMismatch: ...`) as the run's `ErrorMessage`; the whole output is kept as the run's log.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from local.clients import LocalClients

logger = logging.getLogger("retrain.local.glue")

SPARK_COMMANDS = frozenset({"glueetl", "gluestreaming"})
# Arguments Glue itself consumes instead of the script reading them as data locations.
_RUNNER_ARGUMENTS = frozenset({"--extra-py-files", "--additional-python-modules", "--conf"})
# Local Spark: two cores, few partitions; everything bound to loopback.
SPARK_SUBMIT_ARGS = (
    "--master local[2]",
    "--conf spark.sql.shuffle.partitions=4",
    "--conf spark.default.parallelism=4",
    "--conf spark.ui.enabled=false",
    "--conf spark.driver.host=127.0.0.1",
    "--conf spark.driver.bindAddress=127.0.0.1",
    "--conf spark.sql.session.timeZone=UTC",
    "--driver-memory 1g",
)
POLL_SECONDS = 0.25
# Hadoop's local filesystem writes a checksum file beside each file; S3 has none.
_CHECKSUM_FILE = re.compile(r"^\..*\.crc$")
# Spark's own log lines ("25/11/21 23:59:01 INFO ...") interleave with the Python error.
_SPARK_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} [A-Z]+ ")
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(?P<name>[A-Za-z_]\w*)(?P<rest>(?::.*)?)$")
# `SchemaMismatch: ...`, `retrain.errors.DataQualityError: ...`: a class-like name, a colon, a message.
_ERROR_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*: \S")


class GlueRunError(Exception):
    """The runner could not set the job up (missing script, unreadable argument)."""


@dataclass(frozen=True)
class GlueJobRun:
    """What one run needs: the job's definition and the run's resolved arguments."""

    job_name: str
    run_id: str
    command_name: str
    script_location: str
    arguments: dict[str, str]  # DefaultArguments merged with the run's Arguments, --JOB_* included
    timeout_minutes: int

    @property
    def is_spark(self) -> bool:
        return self.command_name in SPARK_COMMANDS


@dataclass
class GlueRunOutcome:
    state: str  # SUCCEEDED | FAILED | TIMEOUT | STOPPED
    error_message: str = ""
    log_path: Path | None = None


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
            raise GlueRunError(f"{uri!r} is not an s3://bucket/key URI")
        return cls(parsed.netloc, parsed.path.lstrip("/"))


@dataclass
class S3Mirror:
    """A scratch-directory copy of the S3 locations a job names, synced back after the run."""

    s3: Any
    root: Path
    _prefixes: dict[tuple[str, str], Path] = field(default_factory=dict)
    _pulled: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def local_path(self, location: S3Location) -> Path:
        return self.root / location.bucket / location.key

    def mount(self, uri: str) -> str:
        """Copy what is at `uri` (one object, or everything under the prefix) and return its file:// URI."""
        location = S3Location.parse(uri)
        target = self.local_path(location)
        if location.key and not location.key.endswith("/") and self._is_object(location):
            self._download(location.bucket, location.key, target)
            prefix = location.key
        else:
            prefix = location.key if not location.key or location.key.endswith("/") else location.key + "/"
            for key in self._keys_under(location.bucket, prefix):
                self._download(location.bucket, key, self.root / location.bucket / key)
        self._prefixes[(location.bucket, prefix)] = self.root / location.bucket / prefix
        # Parents exist so Spark can write there; the location itself is created by the job.
        target.parent.mkdir(parents=True, exist_ok=True)
        file_uri = target.as_uri()
        return file_uri + "/" if uri.endswith("/") and not file_uri.endswith("/") else file_uri

    def download_file(self, uri: str, directory: Path) -> Path:
        location = S3Location.parse(uri)
        target = directory / Path(location.key).name
        self._download(location.bucket, location.key, target, record=False)
        return target

    def sync_back(self) -> tuple[int, int]:
        """Upload new or changed files under the mounted locations; delete what the job removed."""
        uploaded = deleted = 0
        seen: set[Path] = set()
        for (bucket, prefix), local in self._prefixes.items():
            files = [local] if local.is_file() else sorted(p for p in local.rglob("*") if p.is_file())
            for path in files:
                if path in seen or _CHECKSUM_FILE.match(path.name):
                    continue
                seen.add(path)
                stat = path.stat()
                if self._pulled.get(path) == (stat.st_size, stat.st_mtime_ns):
                    continue
                key = path.relative_to(self.root / bucket).as_posix()
                self.s3.upload_file(str(path), bucket, key)
                uploaded += 1
            for path in [p for p in self._pulled if self._under(p, bucket, prefix)]:
                if not path.exists():
                    self.s3.delete_object(Bucket=bucket, Key=path.relative_to(self.root / bucket).as_posix())
                    self._pulled.pop(path)
                    deleted += 1
        return uploaded, deleted

    def _under(self, path: Path, bucket: str, prefix: str) -> bool:
        try:
            key = path.relative_to(self.root / bucket).as_posix()
        except ValueError:
            return False
        return key.startswith(prefix)

    def _is_object(self, location: S3Location) -> bool:
        try:
            self.s3.head_object(Bucket=location.bucket, Key=location.key)
            return True
        except ClientError:
            return False

    def _keys_under(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
        except ClientError as error:
            raise GlueRunError(f"cannot list s3://{bucket}/{prefix}: {error}") from None
        return keys

    def _download(self, bucket: str, key: str, target: Path, record: bool = True) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.download_file(bucket, key, str(target))
        except ClientError as error:
            raise GlueRunError(f"cannot read s3://{bucket}/{key}: {error}") from None
        if record:
            stat = target.stat()
            self._pulled[target] = (stat.st_size, stat.st_mtime_ns)


class LocalGlueJobRunner:
    """Runs one Glue job run as a subprocess of the emulator and reports its outcome."""

    def __init__(self, endpoint_url: str, scratch_root: Path, log_root: Path, region: str = "us-east-1") -> None:
        self.endpoint_url = endpoint_url
        self.scratch_root = scratch_root
        self.log_root = log_root
        self.region = region

    def run(self, job_run: GlueJobRun, should_stop: Callable[[], bool]) -> GlueRunOutcome:
        scratch = self.scratch_root / job_run.run_id
        log_path = self.log_root / job_run.job_name / f"{job_run.run_id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        scratch.mkdir(parents=True, exist_ok=True)
        mirror = S3Mirror(self._s3(), scratch / "s3")
        try:
            try:
                command, env = self._prepare(job_run, mirror, scratch)
            except GlueRunError as error:
                log_path.write_text(f"{error}\n", encoding="utf-8")
                return GlueRunOutcome("FAILED", str(error), log_path)
            outcome = self._execute(job_run, command, env, log_path, should_stop)
            if job_run.is_spark and outcome.state in ("SUCCEEDED", "FAILED"):
                # On AWS the job writes to S3 as it goes; a failed job leaves what it wrote too.
                try:
                    uploaded, deleted = mirror.sync_back()
                    logger.info("Glue run %s: %d objects written back, %d deleted", job_run.run_id, uploaded, deleted)
                except (ClientError, OSError) as error:
                    return GlueRunOutcome("FAILED", f"writing the job's output back to S3 failed: {error}", log_path)
            return outcome
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _s3(self) -> Any:
        return LocalClients(self.endpoint_url, self.region).client("s3")

    def _prepare(self, job_run: GlueJobRun, mirror: S3Mirror, scratch: Path) -> tuple[list[str], dict[str, str]]:
        script = self._script(job_run.script_location, mirror, scratch)
        python_path = [str(path) for path in self._extra_py_files(job_run.arguments, mirror, scratch)]
        argv: list[str] = []
        for key, value in job_run.arguments.items():
            if key in _RUNNER_ARGUMENTS:
                continue
            if job_run.is_spark and isinstance(value, str) and value.startswith(("s3://", "s3a://")):
                value = mirror.mount(value)
            argv += [key, str(value)]
        env = dict(os.environ)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "TMPDIR": str(scratch),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join([*python_path, env.get("PYTHONPATH", "")]).strip(os.pathsep),
            }
        )
        if job_run.is_spark:
            submit = [*SPARK_SUBMIT_ARGS, f"--conf spark.local.dir={scratch / 'spark'}"]
            extra_conf = job_run.arguments.get("--conf")
            if extra_conf:
                submit.append(f"--conf {extra_conf}")
            env.update(
                {
                    "SPARK_LOCAL_IP": "127.0.0.1",
                    "PYSPARK_PYTHON": sys.executable,
                    "PYSPARK_DRIVER_PYTHON": sys.executable,
                    "PYSPARK_SUBMIT_ARGS": " ".join(submit) + " pyspark-shell",
                }
            )
        return [sys.executable, str(script), *argv], env

    @staticmethod
    def _script(location: str, mirror: S3Mirror, scratch: Path) -> Path:
        if not location:
            raise GlueRunError("the job has no Command.ScriptLocation")
        if location.startswith("s3://"):
            return mirror.download_file(location, scratch / "script")
        path = Path(location.removeprefix("file://"))
        if not path.is_file():
            raise GlueRunError(f"script {location} does not exist")
        return path

    @staticmethod
    def _extra_py_files(arguments: dict[str, str], mirror: S3Mirror, scratch: Path) -> list[Path]:
        entries: list[Path] = []
        for uri in filter(None, (part.strip() for part in arguments.get("--extra-py-files", "").split(","))):
            if uri.startswith("s3://"):
                path = mirror.download_file(uri, scratch / "py-files")
            else:
                path = Path(uri.removeprefix("file://"))
            # A zip is itself an import root; a .py file is importable from its directory.
            entries.append(path if path.suffix in (".zip", ".egg", ".whl") else path.parent)
        return entries

    def _execute(
        self,
        job_run: GlueJobRun,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        should_stop: Callable[[], bool],
    ) -> GlueRunOutcome:
        deadline = time.monotonic() + job_run.timeout_minutes * 60
        logger.info("Glue run %s of %s: %s (log %s)", job_run.run_id, job_run.job_name, shlex.join(command), log_path)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=env["TMPDIR"], start_new_session=True
            )
            state = ""
            while process.poll() is None:
                if should_stop():
                    state = "STOPPED"
                elif time.monotonic() > deadline:
                    state = "TIMEOUT"
                if state:
                    self._terminate(process)
                    break
                time.sleep(POLL_SECONDS)
        if state == "STOPPED":
            return GlueRunOutcome("STOPPED", "", log_path)
        if state == "TIMEOUT":
            return GlueRunOutcome(
                "TIMEOUT", f"Job run exceeded its timeout of {job_run.timeout_minutes} minutes", log_path
            )
        if process.returncode == 0:
            return GlueRunOutcome("SUCCEEDED", "", log_path)
        output = log_path.read_text(encoding="utf-8", errors="replace")
        return GlueRunOutcome("FAILED", failure_reason(output, process.returncode), log_path)

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes]) -> None:
        # The job's session holds the JVM too: end the whole group, then make sure.
        for signum, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, signum)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def failure_reason(output: str, returncode: int) -> str:
    """The script's last error, as Glue reports it: `ClassName: message` (module path dropped).

    An uncaught exception gives its traceback's final line(s); a script that reports its own error
    (`print("SchemaMismatch: ...", file=sys.stderr); return 1`) gives its last `Name: message` line.
    Spark's own log lines are never the reason.
    """
    lines = [line for line in output.splitlines() if line.strip() and not _SPARK_LOG_LINE.match(line)]
    marker = max(
        (i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")), default=-1
    )
    if marker >= 0:
        index = marker + 1
        while index < len(lines) and lines[index].startswith(" "):
            index += 1
        message = lines[index : index + 5]
        if message:
            return "\n".join([_without_module(message[0]), *message[1:]])[:2000]
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return _without_module(line)[:2000]
    if lines:
        return lines[-1][:2000]
    return f"the job script exited with code {returncode}"


def _without_module(line: str) -> str:
    match = _EXCEPTION_LINE.match(line)
    return match.group("name") + match.group("rest") if match else line
