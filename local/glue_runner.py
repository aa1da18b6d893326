"""Runs a Glue job's script for real on this machine, the way Glue runs it.

A Spark job (`Command.Name` = `glueetl`) runs on local PySpark. Local Spark has no S3 connector, so
the runner mirrors S3 for the job (`local.runtime.staging.S3Mirror`): every `s3://` argument is copied
into a scratch directory before the run and replaced by the `file://` URI of its copy; after the run,
whatever the job wrote, changed or deleted under those locations is copied back to S3. The script
itself is the one deployed to AWS and never knows. A Python shell job (`pythonshell`) gets its
arguments unchanged and reaches S3 through boto3, as on AWS.

Both kinds get `--JOB_NAME`, `--JOB_RUN_ID` and the merged arguments as `--key value` pairs on argv,
and `--extra-py-files` on their `PYTHONPATH`. A Spark job's processes (driver and Python workers) run on
the interpreter of its Glue version's isolated environment (`GlueImports`: built from the version's
runtime profile in `emulator/profiles/`) and import what it holds, the job's `--additional-python-modules`,
its script's folder and its `--extra-py-files`, never this machine's environment nor the local AWS's
`PYTHONPATH`. A failed script fails the run with its last error line
(`SchemaMismatch: ...`, by the failure-line protocol) as the run's `ErrorMessage`; the whole output is
kept as the run's log. The process, the staging and the reading of the failure are the local runtime's
(`local.runtime`), shared with the local SageMaker.

A Spark run starts on a warm driver when one waits for its environment (`local.runtime.standby`: a
process that has already started Python, the JVM and the SparkSession, and runs this one script, then
exits); otherwise cold, as `python script ...`. Either way the script, its argv, environment, working
directory, log, exit code, stop and timeout are the same. The next run's driver starts after each run
and when a job is created or changed (`warm`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shlex
import shutil
import subprocess  # the class archive's driver  # nosec B404
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from local.clients import LocalClients
from local.runtime import class_archive
from local.runtime.class_archive import dump_archive
from local.runtime.environments import (
    EnvironmentMissing,
    EnvironmentSpec,
    RuntimeEnvironments,
    build_profiles,
    link_distributions,
)
from local.runtime.failures import read_failure
from local.runtime.isolation import RuntimeProfile
from local.runtime.process import Ending, ScriptProcess, end_processes_working_under
from local.runtime.staging import AccessDenied, Authorize, S3Mirror, S3Staging, StagingError
from local.runtime.standby import DRIVER as STANDBY_DRIVER
from local.runtime.standby import SCRATCH, EnvironmentKey, Standby, StandbyPool, environment_key, start_cold
from retrain.failure_line import without_module

logger = logging.getLogger("retrain.local.glue")

PROFILES = Path(__file__).parent / "emulator" / "profiles"
SPARK_COMMANDS = frozenset({"glueetl", "gluestreaming"})
GLUE_SESSION = "GlueJobRunnerSession"  # the session name Glue gives the job's role
# Arguments Glue itself consumes instead of the script reading them as data locations.
_RUNNER_ARGUMENTS = frozenset({"--extra-py-files", "--additional-python-modules", "--conf"})
# Local Spark: two cores, few partitions; everything bound to loopback. The driver's JVM compiles with C1 only
# and collects with the serial collector: a job run on demo-sized data is over before C2's compilations (and
# G1's threads) pay for the CPU they take from the job on two cores, so the same run takes about half the
# JVM's CPU (benchmarks/results/glue_warm.json). The JIT and the collector change how fast, never what, a job
# computes; Glue's own drivers keep their JVM's defaults. A cached DataFrame is kept uncompressed: its columns'
# encoding and decoding is CPU the two cores pay on every pass over the cache, for memory that data of a local
# run's size does not need; the values read back are the same.
DRIVER_JAVA_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
SPARK_SUBMIT_ARGS = (
    "--master local[2]",
    "--conf spark.sql.inMemoryColumnarStorage.compressed=false",
    "--conf spark.sql.shuffle.partitions=4",
    "--conf spark.default.parallelism=4",
    "--conf spark.ui.enabled=false",
    "--conf spark.driver.host=127.0.0.1",
    "--conf spark.driver.bindAddress=127.0.0.1",
    "--conf spark.sql.session.timeZone=UTC",
    "--driver-memory 1g",
)
# The driver's JVM stops and exits once a warm session has run (`build_class_archive`): its classes are dumped then.
_EXIT_JVM = """import sys
from pyspark import SparkContext

context = SparkContext._active_spark_context
gateway = context._gateway
context.stop()
gateway.proc.stdin.close()  # the gateway JVM exits at EOF on its stdin
sys.exit(gateway.proc.wait(timeout=300))
"""
# Spark's own log lines ("25/11/21 23:59:01 INFO ...") interleave with the Python error.
_SPARK_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} [A-Z]+ ")


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
    glue_version: str = "5.0"
    role_arn: str = ""  # the job's Role, which Glue reads the script and moves the data as

    @property
    def is_spark(self) -> bool:
        return self.command_name in SPARK_COMMANDS


@dataclass
class GlueRunOutcome:
    state: str  # SUCCEEDED | FAILED | TIMEOUT | STOPPED
    error_message: str = ""
    log_path: Path | None = None


class GlueImports:
    """The Python of a Spark job's processes, its warm driver's included: the interpreter of its Glue version's
    isolated environment (`local.runtime.environments`, built from the version's runtime profile by
    `retrain local runtimes`), so the job sees Glue's pandas, numpy and pyarrow and nothing of this machine's.
    Its `--additional-python-modules` (on AWS pip installs them) are this machine's distributions of those
    names and their dependencies the environment lacks, linked into a folder of the job's own on its
    `PYTHONPATH` (one per module list, in `folder`); a module not installed here does not import."""

    def __init__(
        self, folder: Path, profiles: Path = PROFILES, environments: RuntimeEnvironments | None = None
    ) -> None:
        self.folder, self.profiles = folder, profiles
        self.environments = environments or RuntimeEnvironments()
        self._specs: dict[str, EnvironmentSpec] = {}
        self._added: dict[tuple[str, tuple[str, ...]], Path] = {}
        self._lock = threading.Lock()

    def environment(self, job_run: GlueJobRun, python_path: list[Path]) -> dict[str, str]:
        """`PYTHONPATH` (the added modules, then `python_path`) and the interpreter of the driver and of
        Spark's Python workers; GlueRunError when the version has no profile or its environment is not built."""
        modules = additional_modules(job_run.arguments)
        with self._lock:  # one writer of a folder at a time
            spec = self.spec(job_run.glue_version)
            try:
                python = self.environments.interpreter(spec)
            except EnvironmentMissing as error:
                raise GlueRunError(str(error)) from None
            entries = [self._linked(spec, modules)] if modules else []
        path = os.pathsep.join(map(str, [*entries, *python_path]))
        return {"PYTHONPATH": path, "PYSPARK_PYTHON": python, "PYSPARK_DRIVER_PYTHON": python}

    def java_options(self, job_run: GlueJobRun, environ: Mapping[str, str]) -> tuple[str, ...]:
        """The driver JVM's options that map its environment's class archive, once built for this JVM."""
        return class_archive.java_options(self.environments.location(self.spec(job_run.glue_version)), environ)

    def spec(self, glue_version: str) -> EnvironmentSpec:
        if glue_version not in self._specs:
            self._specs[glue_version] = EnvironmentSpec.from_profile(profile_path(glue_version, self.profiles))
        return self._specs[glue_version]

    def _linked(self, spec: EnvironmentSpec, modules: tuple[str, ...]) -> Path:
        """The folder of `modules` and of what they need here that the environment lacks (once per process)."""
        key = (spec.name, modules)
        if key not in self._added:
            digest = hashlib.sha256(",".join(modules).encode()).hexdigest()[:12]
            folder = self.folder / f"{spec.name}+{digest}"
            shutil.rmtree(folder, ignore_errors=True)  # what an earlier local AWS linked may be stale
            needed = RuntimeProfile("added", spec.python, dict.fromkeys(modules, "*"), {}).allowed_distributions()
            link_distributions(sorted(needed - spec.pins.keys() - spec.linked.keys()), folder)
            self._added[key] = folder
        return self._added[key]


def profile_path(glue_version: str, profiles: Path = PROFILES) -> Path:
    """The runtime profile of a Glue version; GlueRunError naming the fix when there is none."""
    path = profiles / f"glue-{glue_version}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem.removeprefix("glue-") for p in profiles.glob("glue-*.toml")))
        raise GlueRunError(
            f"the local Glue has no runtime profile for GlueVersion {glue_version}; use one it has ({known}) "
            f"or add local/emulator/profiles/glue-{glue_version}.toml"
        )
    return path


def spark_submit_args(scratch: Path, java_options: Sequence[str] = ()) -> list[str]:
    """The local runner's spark-submit arguments, the driver's JVM given `java_options` too.

    What the driver writes for itself goes in `scratch`, which goes with its run: Spark's local folder, and the
    JVM's own temporary files (the native libraries it unpacks: snappy's, lz4's), which Java writes to
    `java.io.tmpdir`, not TMPDIR, and a killed JVM never removes."""
    options = [*DRIVER_JAVA_OPTIONS, f"-Djava.io.tmpdir={scratch}", *java_options]
    return [
        f"--conf {shlex.quote('spark.driver.extraJavaOptions=' + ' '.join(options))}",
        *SPARK_SUBMIT_ARGS,
        f"--conf spark.local.dir={scratch / 'spark'}",
    ]


def build_environments(report: Callable[[str], None]) -> list[Path]:
    """The isolated environment of every Glue version's profile, each built unless it is, with its driver's
    class archive for this machine's JVM."""
    entries = build_profiles(sorted(PROFILES.glob("glue-*.toml")), report)
    for entry in entries:
        build_class_archive(entry, report)
    return entries


def build_class_archive(entry: Path, report: Callable[[str], None], timeout: float = 600.0) -> Path | None:
    """The class archive (`local.runtime.class_archive`) of the Glue environment `entry`, dumped by a driver that
    starts as a standby does (the same interpreter, Spark conf and warm-up round trip), unless it is built."""

    def warm_session(java_option: str) -> int:
        report(f"building the local Spark driver's class archive of {entry.name} (once per Java) ...")
        python = str(entry / "bin" / "python")
        with tempfile.TemporaryDirectory(prefix="class-archive-") as folder:
            script, ready = Path(folder) / "exit_jvm.py", Path(folder) / "ready"
            script.write_text(_EXIT_JVM, encoding="utf-8")
            submit = spark_submit_args(Path(folder), [java_option])
            env = {
                **os.environ,
                "SPARK_LOCAL_IP": "127.0.0.1",
                "TMPDIR": folder,
                "PYTHONPATH": "",
                "PYSPARK_PYTHON": python,
                "PYSPARK_DRIVER_PYTHON": python,
                "PYSPARK_SUBMIT_ARGS": " ".join(submit) + " pyspark-shell",
            }
            # The driver's own argv, its files only; its output is the build's, read on failure.
            with (Path(folder) / "driver.log").open("w+", encoding="utf-8") as log:
                process = subprocess.Popen(  # nosec B603
                    [python, str(STANDBY_DRIVER), "--spark", "--ready-file", str(ready)],
                    cwd=folder,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                try:
                    deadline = time.monotonic() + timeout
                    # The script only once the warm-up is done: a script waiting cuts the warm-up short.
                    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.2)
                    assert process.stdin is not None
                    process.stdin.write(json.dumps({"script": str(script), "argv": []}) + "\n")
                    process.stdin.close()
                    code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
                except (OSError, subprocess.TimeoutExpired):
                    process.kill()
                    code = process.wait()
                if code != 0:
                    log.seek(0)
                    logger.warning("class archive driver of %s exited %s:\n%s", entry.name, code, log.read()[-4000:])
                return code

    return dump_archive(entry, os.environ, warm_session, report)


class LocalGlueJobRunner:
    """Runs one Glue job run as a subprocess of the emulator and reports its outcome; with `imports`, a Spark
    job's processes run in its Glue version's isolated environment (`GlueImports`), else on this interpreter."""

    def __init__(
        self,
        endpoint_url: str,
        scratch_root: Path,
        log_root: Path,
        region: str = "us-east-1",
        *,
        standbys: int = 1,
        imports: GlueImports | None = None,
        roles: Callable[[str, str, str], Authorize | None] | None = None,
        credentials: Callable[[str, str], dict[str, str] | None] | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        # One set of clients for every run: building a client parses botocore's endpoints file and the
        # service's model (~10 MB of objects), which a client per run did again each time.
        self.clients = LocalClients(endpoint_url, region)
        self.scratch_root = scratch_root
        self.log_root = log_root
        self.region = region
        self.imports = imports
        # (role ARN, session, region) -> the check of each S3 call the run makes as the job's role.
        self.roles = roles
        # (role ARN, job name) -> the credentials of the role's Glue session the run's own SDK calls are made with
        # (None, or no such role: the account's keys).
        self.credentials = credentials
        # Warm Spark drivers, one per environment (`local.runtime.standby`); 0: every run starts cold.
        self.standbys = StandbyPool(scratch_root, log_root, size=standbys)
        self._mirrors: list[S3Mirror] = []  # of the runs going on, for `s3_uri_of`
        self._mirrors_lock = threading.Lock()
        self._running: set[ScriptProcess] = set()  # the runs' processes, for `close`
        self._running_lock = threading.Lock()
        self._closed = False

    def s3_uri_of(self, uri: str) -> str:
        """The S3 URI a running Spark job was given as a `file://` mount, else `uri` unchanged: what the job
        hands back to AWS (a catalog location) names S3, as on Glue, whatever it was told locally."""
        with self._mirrors_lock:
            mirrors = list(self._mirrors)
        return next((found for mirror in mirrors if (found := mirror.s3_uri(uri))), uri)

    def run(self, job_run: GlueJobRun, should_stop: Callable[[], bool]) -> GlueRunOutcome:
        key = self._key(job_run)
        standby = self.standbys.take(key) if key is not None else None
        scratch = standby.scratch if standby is not None else self.scratch_root / job_run.run_id
        log_path = self.log_root / job_run.job_name / f"{job_run.run_id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        scratch.mkdir(parents=True, exist_ok=True)
        mirror = S3Mirror(S3Staging(self._s3(), self.region, self._authorize(job_run)), scratch / "s3")
        with self._mirrors_lock:
            self._mirrors.append(mirror)
        try:
            try:
                command, env = self._prepare(job_run, mirror, scratch)
            except (GlueRunError, StagingError) as error:
                log_path.write_text(f"{error}\n", encoding="utf-8")
                return GlueRunOutcome("FAILED", str(error), log_path)
            outcome = self._execute(job_run, command, env, log_path, should_stop, standby)
            if job_run.is_spark and outcome.state in ("SUCCEEDED", "FAILED"):
                # On AWS the job writes to S3 as it goes; a failed job leaves what it wrote too.
                try:
                    uploaded, deleted = mirror.sync_back()
                    logger.info("Glue run %s: %d objects written back, %d deleted", job_run.run_id, uploaded, deleted)
                except (ClientError, OSError, AccessDenied) as error:
                    return GlueRunOutcome("FAILED", f"writing the job's output back to S3 failed: {error}", log_path)
            return outcome
        finally:
            with self._mirrors_lock:
                self._mirrors.remove(mirror)
            if standby is not None:
                standby.discard()  # gone by now unless the run never started
            shutil.rmtree(scratch, ignore_errors=True)
            if key is not None:
                self.standbys.ensure(key)  # for the next run, started while nothing else waits on it

    def warm(self, job_run: GlueJobRun) -> None:
        """Start a standby for runs like `job_run` (a job was created or changed), if it gets one."""
        key = self._key(job_run)
        if key is not None:
            self.standbys.ensure(key)

    def end_left_overs(self) -> None:
        """End what a killed predecessor left running in the scratch folders (a standby or a run that had not yet
        learnt its parent was gone): a local AWS starting again calls it before it starts anything there."""
        ended = end_processes_working_under(self.scratch_root)
        if ended:
            logger.warning("ended the process groups %s left running by a local Glue that was stopped", ended)

    def close(self, grace: float = 5.0) -> None:
        """End the standbys and every run going on (the local AWS stops): a job's JVM must not outlive it.

        On AWS a job run ends with its job; here the emulator stopping is the end of every run, which a
        restart records as FAILED (`local.emulator.glue`)."""
        with self._running_lock:
            self._closed = True
            running = list(self._running)
        self.standbys.close()
        for process in running:
            process.stop(grace=grace)

    def _key(self, job_run: GlueJobRun) -> EnvironmentKey | None:
        """A Spark run's environment with its scratch folder as a placeholder; None: always cold."""
        if not job_run.is_spark:
            return None
        scratch = Path(SCRATCH)
        try:
            return environment_key(self._environment(job_run, scratch, self._python_path(job_run.arguments, scratch)))
        except GlueRunError:
            return None  # the run fails, when it prepares, with the reason

    def _authorize(self, job_run: GlueJobRun) -> Authorize | None:
        """The script and a Spark job's S3 locations are read and written as the job's role, in Glue's
        session of it (`assumed-role/<role>/GlueJobRunnerSession`); None: not checked."""
        if self.roles is None or not job_run.role_arn:
            return None
        return self.roles(job_run.role_arn, GLUE_SESSION, self.region)

    def _s3(self) -> Any:
        return self.clients.client("s3")

    def _prepare(self, job_run: GlueJobRun, mirror: S3Mirror, scratch: Path) -> tuple[list[str], dict[str, str]]:
        script = self._script(job_run.script_location, mirror, scratch)
        python_path = self._python_path(job_run.arguments, scratch)
        for uri in _extra_py_files(job_run.arguments):
            if uri.startswith("s3://"):
                mirror.download_file(uri, scratch / "py-files")
        argv: list[str] = []
        for key, value in job_run.arguments.items():
            if key in _RUNNER_ARGUMENTS:
                continue
            if job_run.is_spark and isinstance(value, str) and value.startswith(("s3://", "s3a://")):
                value = mirror.mount(value)
            argv += [key, str(value)]
        env = self._environment(job_run, scratch, python_path)
        return [env.get("PYSPARK_DRIVER_PYTHON", sys.executable), str(script), *argv], env

    def _environment(self, job_run: GlueJobRun, scratch: Path, python_path: list[Path]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "TMPDIR": str(scratch),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join([*map(str, python_path), env.get("PYTHONPATH", "")]).strip(os.pathsep),
            }
        )
        env.update(self._run_credentials(job_run))
        if job_run.is_spark:
            java_options: tuple[str, ...] = ()
            env.update({"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable})
            if self.imports is not None:  # the job's own folders only, not the local AWS's PYTHONPATH
                env.update(self.imports.environment(job_run, python_path))
                java_options = self.imports.java_options(job_run, env)
            submit = spark_submit_args(scratch, java_options)
            extra_conf = job_run.arguments.get("--conf")
            if extra_conf:
                submit.append(f"--conf {extra_conf}")
            env.update({"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_SUBMIT_ARGS": " ".join(submit) + " pyspark-shell"})
        return env

    def _run_credentials(self, job_run: GlueJobRun) -> dict[str, str]:
        """The job role's session, as Glue runs the script with it; else the emulator's dummy keys."""
        session = (
            self.credentials(job_run.role_arn, job_run.job_name) if self.credentials and job_run.role_arn else None
        )
        if session is not None:
            return session
        # The emulator's dummy key (no session token: an empty one would be sent and refused).
        return {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}  # nosec B105

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
    def _python_path(arguments: dict[str, str], scratch: Path) -> list[Path]:
        """Where `--extra-py-files` are imported from (an S3 file is downloaded into `scratch/py-files`)."""
        entries: list[Path] = []
        for uri in _extra_py_files(arguments):
            path = (
                scratch / "py-files" / Path(uri).name if uri.startswith("s3://") else Path(uri.removeprefix("file://"))
            )
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
        standby: Standby | None = None,
    ) -> GlueRunOutcome:
        with self._running_lock:
            if self._closed:
                return GlueRunOutcome("STOPPED", "the local AWS is stopping", log_path)
            process = self._start(command, env, log_path, standby)
            self._running.add(process)
        try:
            return self._supervise(job_run, command, process, log_path, should_stop, standby)
        finally:
            with self._running_lock:
                self._running.discard(process)

    def _supervise(
        self,
        job_run: GlueJobRun,
        command: list[str],
        process: ScriptProcess,
        log_path: Path,
        should_stop: Callable[[], bool],
        standby: Standby | None,
    ) -> GlueRunOutcome:
        logger.info(
            "Glue run %s of %s: %s (%s, log %s)",
            job_run.run_id,
            job_run.job_name,
            shlex.join(command),
            "warm driver" if standby is not None and process is standby.process else "cold",
            log_path,
        )
        # The job's process group holds the JVM too: a stop or a timeout ends all of it.
        ending = process.supervise(job_run.timeout_minutes * 60, should_stop)
        if ending is Ending.STOPPED:
            return GlueRunOutcome("STOPPED", "", log_path)
        if ending is Ending.TIMED_OUT:
            return GlueRunOutcome(
                "TIMEOUT", f"Job run exceeded its timeout of {job_run.timeout_minutes} minutes", log_path
            )
        if process.returncode == 0:
            return GlueRunOutcome("SUCCEEDED", "", log_path)
        output = log_path.read_text(encoding="utf-8", errors="replace")
        return GlueRunOutcome("FAILED", failure_reason(output, process.returncode or 0), log_path)

    @staticmethod
    def _start(command: list[str], env: dict[str, str], log_path: Path, standby: Standby | None) -> ScriptProcess:
        """The run's process: the standby's when its environment is the run's, else a cold start."""
        if standby is not None and standby.environment == env:
            try:
                return standby.hand_over(Path(command[1]), command[2:], log_path)
            except OSError as error:
                logger.warning("the standby driver could not take the run (%s); starting cold", error)
        return start_cold(command, Path(env["TMPDIR"]), env, log_path)


def additional_modules(arguments: dict[str, str]) -> tuple[str, ...]:
    """The distributions `--additional-python-modules` names: requirements (`name==1.0`) and wheel files."""
    names: set[str] = set()
    for entry in (part.strip() for part in arguments.get("--additional-python-modules", "").split(",")):
        if not entry:
            continue
        try:
            if entry.endswith(".whl"):
                names.add(str(parse_wheel_filename(entry.rsplit("/", 1)[-1])[0]))
            elif "/" not in entry:
                names.add(Requirement(entry).name)
            else:
                raise InvalidRequirement(entry)
        except (InvalidRequirement, InvalidWheelFilename):
            raise GlueRunError(
                f"--additional-python-modules: the local Glue reads requirements (name==version) and .whl files, "
                f"not {entry!r} (a requirements file or a zip of wheels): list the modules instead"
            ) from None
    return tuple(sorted(names))


def _extra_py_files(arguments: dict[str, str]) -> list[str]:
    return [part for part in (part.strip() for part in arguments.get("--extra-py-files", "").split(",")) if part]


def failure_reason(output: str, returncode: int) -> str:
    """The script's last error, as Glue reports it: `ClassName: message` (module path dropped).

    An uncaught exception gives its traceback's final line(s); a script that reports its own error
    (`print("SchemaMismatch: ...", file=sys.stderr); return 1`) gives its last `Name: message` line.
    Spark's own log lines are never the reason.
    """
    failure = read_failure(output, noise=_SPARK_LOG_LINE)
    if failure.exception:
        message = [without_module(failure.exception[0]), *failure.exception[1:5]]
    elif failure.failure_line:
        message = [without_module(failure.failure_line)]
    elif failure.lines:
        message = [failure.lines[-1]]
    else:
        return f"the job script exited with code {returncode}"
    return "\n".join(message)[:2000]
