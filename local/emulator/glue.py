"""Glue: job runs execute for real, and Step Functions can start one and wait for it; the Data Catalog's
partition calls answer as AWS does (`GlueCatalog`).

Gaps closed (`GlueJobs`), pinned in `tests/contract/emulator/test_glue.py`:
- StartJobRun ran nothing: the run now executes the job's script (`local.glue_runner`: PySpark for
  `glueetl`, plain Python for `pythonshell`) with the merged `--arguments` on argv —
  `test_spark_job_reads_and_writes_s3_and_step_functions_waits`, `test_python_shell_job_gets_merged_arguments_on_argv`,
  `test_failed_spark_job_fails_the_task_with_the_scripts_error`;
- `arn:aws:states:::glue:startJobRun[.sync]` is a Step Functions integration (same tests);
- a job keeps its `ExecutionProperty` and a run beyond `MaxConcurrentRuns` is refused —
  `test_a_run_beyond_max_concurrent_runs_is_refused`;
- a run that was running when the local AWS stopped is FAILED after a restart, not left running;
- a Spark job ran on the project's environment: it now runs in its Glue version's isolated environment,
  Glue's pandas, numpy and pyarrow and nothing else (`GlueImports`, profiles in `profiles/`) —
  `tests/contract/emulator/test_glue_runtime.py` and `test_glue_warm.py`.

- a run's output was in no CloudWatch log: it is written to `/aws-glue/jobs/output` (stream the run ID) as the
  job's role, and is missing when the role may not (the run's outcome stays) — `test_glue_role.py`,
  `test_a_runs_log_is_in_cloudwatch_only_when_its_role_may_write_it`.

Not a gap, a local cost: a created or changed Spark job (and, at start-up, the job changed last) gets
its warm driver started for its next run (`LocalGlueJobRunner.warm`), pinned in `test_glue_warm.py`;
`RETRAIN_LOCAL_GLUE_STANDBYS=0` in the local AWS's environment starts every run cold instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.emulator.seam import (
    ExtensionPoints,
    error_response,
    execution_error,
    get_account_id,
    json_response,
    replace,
    request_scope,
    require,
    service,
    state_changed,
)
from local.emulator.service_roles import log_write_refusal
from local.glue_runner import GLUE_SESSION, GlueImports, GlueJobRun, LocalGlueJobRunner

__all__ = ["GlueCatalog", "GlueImports", "GlueJobRun", "GlueJobs", "LocalGlueJobRunner"]

logger = logging.getLogger("retrain.local")

# Where Glue writes a job's own output (Glue developer guide, "Logging for AWS Glue jobs": "user stdout ... and
# stderr ... logs are written to the /aws-glue/jobs/output log group"), one stream per run.
OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
_LOG_BATCH = 1000  # events per PutLogEvents (at most 10,000)


def role_arn(role: str) -> str:
    """A job's `Role` as an ARN: Glue takes "the name or Amazon Resource Name (ARN) of the IAM role" (botocore
    glue `CreateJobRequest.Role`), a name being the account's role of that name."""
    return role if not role or role.startswith("arn:") else f"arn:aws:iam::{get_account_id()}:role/{role}"


class GlueJobs:
    """StartJobRun runs the job's script for real; Step Functions can start one and wait for it.

    A job keeps its `ExecutionProperty` (the emulator dropped it) and a run beyond its
    `MaxConcurrentRuns` (default 1, as on AWS) is refused with `ConcurrentRunsExceededException`.
    """

    TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED"})
    ACTIVE = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
    POLL_SECONDS = 0.5
    DEFAULT_EXECUTION_PROPERTY = {"MaxConcurrentRuns": 1}

    def __init__(self, runner: LocalGlueJobRunner) -> None:
        self.runner = runner

    def install(self, points: ExtensionPoints) -> None:
        glue = service("glue")
        require(glue, "_job_runs")
        require(glue, "_jobs")
        replace(glue, "_start_job_run", lambda _original: lambda data: self.start_job_run(data))
        replace(glue, "load_persisted_state", self._fail_interrupted_runs)
        # The persisted job changed last is the one likely to run next: its driver starts once IAM and STS are
        # loaded too, or its environment would lack its role's session and no run would find it (a cold start).
        points.on_state_loaded(self._warm_last_changed_job)
        replace(glue, "_create_job", self._keep_execution_property)
        replace(glue, "_update_job", self._update_execution_property)
        points.add_task_integration("arn:aws:states:::glue:startJobRun", self.state_machine_task)
        # A stop of the local AWS ends its runs and standbys: no job's JVM outlives it.
        points.on_stop(self.runner.close)

    def start_job_run(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        glue = service("glue")
        job_name = str(data.get("JobName") or "")
        job = glue._jobs.get(job_name) if job_name else None
        if job is None:
            return error_response("EntityNotFoundException", f"Job {job_name} not found", 400)
        limit = int((job.get("ExecutionProperty") or self.DEFAULT_EXECUTION_PROPERTY).get("MaxConcurrentRuns", 1))
        active = [run for run in glue._job_runs.get(job_name, []) if run.get("JobRunState") in self.ACTIVE]
        if len(active) >= limit:
            return error_response("ConcurrentRunsExceededException", f"Concurrent runs exceeded for {job_name}", 400)
        run_id = "jr_" + uuid.uuid4().hex + uuid.uuid4().hex
        run_arguments = dict(data.get("Arguments") or {})
        arguments = {
            **job.get("DefaultArguments", {}),
            "--JOB_NAME": job_name,
            "--JOB_RUN_ID": run_id,
            **run_arguments,
            **job.get("NonOverridableArguments", {}),
        }
        timeout = int(data.get("Timeout") or job.get("Timeout") or 2880)
        now = int(time.time())
        run: dict[str, Any] = {
            "Id": run_id,
            "Attempt": 0,
            "JobName": job_name,
            "StartedOn": now,
            "LastModifiedOn": now,
            "JobRunState": "STARTING",
            "Arguments": run_arguments,
            "PredecessorRuns": [],
            "AllocatedCapacity": job.get("NumberOfWorkers") or 2,
            "ExecutionTime": 0,
            "Timeout": timeout,
            "WorkerType": data.get("WorkerType") or job.get("WorkerType", "G.1X"),
            "NumberOfWorkers": data.get("NumberOfWorkers") or job.get("NumberOfWorkers", 2),
            "GlueVersion": job.get("GlueVersion", "5.0"),
            "LogGroupName": "/aws-glue/jobs",
        }
        glue._job_runs.setdefault(job_name, []).append(run)
        job_run = self._job_run(job, run_id, arguments, timeout)
        refusal = self.log_encryption_refusal(job, job_run)
        # The request's account and region scope the job-run store: carry them into the thread.
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(self._execute, run, job_run, refusal), name=f"glue-{run_id[:11]}", daemon=True
        ).start()
        return json_response({"JobRunId": run_id})

    @staticmethod
    def _job_run(job: dict[str, Any], run_id: str, arguments: dict[str, Any], timeout: int) -> GlueJobRun:
        command = job.get("Command", {})
        return GlueJobRun(
            job_name=str(job.get("Name", "")),
            run_id=run_id,
            command_name=command.get("Name", "glueetl"),
            script_location=command.get("ScriptLocation", ""),
            arguments={key: str(value) for key, value in arguments.items()},
            timeout_minutes=timeout,
            glue_version=str(job.get("GlueVersion") or "5.0"),
            role_arn=role_arn(str(job.get("Role") or "")),
        )

    def _warm(self, job: dict[str, Any]) -> None:
        """A created or changed job's next run finds its Spark driver started (`LocalGlueJobRunner.warm`)."""
        arguments = {**job.get("DefaultArguments", {}), **job.get("NonOverridableArguments", {})}
        self.runner.warm(self._job_run(job, "", arguments, int(job.get("Timeout") or 2880)))

    def log_encryption_refusal(self, job: dict[str, Any], job_run: GlueJobRun) -> str | None:
        """Why the run cannot start when its job's security configuration encrypts its CloudWatch logs (SSE-KMS) and
        the job's role may not associate the key with the run's log group; None otherwise.

        Glue associates the configuration's key with the job's log group as the job's role when the run starts:
        the role needs `logs:AssociateKmsKey` on the group and the KMS permissions to encrypt with the key (Glue
        developer guide, "Encrypting data written by AWS Glue", "Setting up AWS Glue to use security
        configurations": the key grants "the IAM roles that are passed to AWS Glue crawlers and jobs" kms:Encrypt*
        and the others "to encrypt CloudWatch Logs"; CloudWatch Logs checks the caller's `kms:Encrypt` when a key
        is associated). A refusal fails the run at its start ("Failed to AssociateKmsKey for logGroup ...", as
        runs of roles without `logs:AssociateKmsKey` fail on AWS). The group is the one Glue names for a security
        configuration (JobRun.LogGroupName: `/aws-glue/jobs-<role>-<configuration>`); the local run's output still
        goes to `/aws-glue/jobs/output`. Only the role's identity policies are evaluated here (the key policy is
        the key's own: the stack's delegates to the account's IAM)."""
        name = job.get("SecurityConfiguration")
        if not name or self.runner.roles is None:
            return None
        configuration = service("glue")._security_configs.get(name) or {}
        encryption = (configuration.get("EncryptionConfiguration") or {}).get("CloudWatchEncryption") or {}
        key_arn = str(encryption.get("KmsKeyArn") or "")
        if encryption.get("CloudWatchEncryptionMode") != "SSE-KMS" or not key_arn:
            return None
        region, account = request_scope()
        authorize = self.runner.roles(job_run.role_arn, GLUE_SESSION, region)
        if authorize is None:
            return None
        group = f"/aws-glue/jobs-{job_run.role_arn.rsplit('/', 1)[-1]}-{name}"
        group_arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
        for action, resource in (("logs:AssociateKmsKey", group_arn), ("kms:Encrypt", key_arn)):
            refusal = authorize(action, resource, {})
            if refusal is not None:
                return f"Failed to AssociateKmsKey for logGroup: {group} using KmsKeyId: {key_arn}: {refusal}"
        return None

    def _execute(self, run: dict[str, Any], job_run: GlueJobRun, refusal: str | None = None) -> None:
        run["JobRunState"] = "RUNNING"
        run["LastModifiedOn"] = int(time.time())
        state_changed("glue")
        if refusal is not None:  # the run fails at its start: its script never runs
            completed = int(time.time())
            run.update(ErrorMessage=refusal, JobRunState="FAILED", CompletedOn=completed, LastModifiedOn=completed)
            state_changed("glue")
            return
        try:
            outcome = self.runner.run(job_run, should_stop=lambda: run["JobRunState"] == "STOPPED")
            state, message, log_path = outcome.state, outcome.error_message, outcome.log_path
        except Exception as error:  # the runner itself broke: the run must still end
            logger.exception("Glue run %s failed to run", job_run.run_id)
            state, message, log_path = "ERROR", f"the local Glue runner failed: {error}", None
        if message:
            run["ErrorMessage"] = message
        try:
            self.ship_log(job_run, log_path)
        except Exception:  # the run's outcome does not depend on its logs
            logger.exception("Glue run %s: its log was not shipped to CloudWatch Logs", job_run.run_id)
        completed = int(time.time())
        # One update, marked at once: a state that sees the run end may move on (durability.py).
        ended = {"CompletedOn": completed, "LastModifiedOn": completed, "ExecutionTime": completed - run["StartedOn"]}
        run.update(JobRunState=state, **ended)
        state_changed("glue")

    def ship_log(self, job_run: GlueJobRun, log_path: Path | None) -> bool:
        """The run's output in CloudWatch Logs (`/aws-glue/jobs/output`, stream the run ID), written as the job's
        role's Glue session; False when the role may not write it (the run's outcome stays; the local file keeps
        the log). Needed: logs:CreateLogStream and logs:PutLogEvents on the stream, logs:CreateLogGroup on the
        group when it does not exist (Service Authorization Reference, CloudWatch Logs; the AWSGlueServiceRole
        managed policy grants the three on `/aws-glue/*`)."""
        if log_path is None or not log_path.is_file():
            return False
        region, account = request_scope()
        group_arn = f"arn:aws:logs:{region}:{account}:log-group:{OUTPUT_LOG_GROUP}"
        logs = self.runner.clients.client("logs", region)
        exists = bool(logs.describe_log_groups(logGroupNamePrefix=OUTPUT_LOG_GROUP)["logGroups"])
        authorize = self.runner.roles(job_run.role_arn, GLUE_SESSION, region) if self.runner.roles else None
        if authorize is not None:
            refusal = log_write_refusal(authorize, group_arn, job_run.run_id, group_exists=exists)
            if refusal is not None:
                logger.warning("Glue run %s: its log is not shipped to CloudWatch Logs: %s", job_run.run_id, refusal)
                return False
        if not exists:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=OUTPUT_LOG_GROUP)
        logs.create_log_stream(logGroupName=OUTPUT_LOG_GROUP, logStreamName=job_run.run_id)
        now = int(time.time() * 1000)
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines() or [" "]
        for start in range(0, len(lines), _LOG_BATCH):
            events = [{"timestamp": now, "message": line or " "} for line in lines[start : start + _LOG_BATCH]]
            logs.put_log_events(logGroupName=OUTPUT_LOG_GROUP, logStreamName=job_run.run_id, logEvents=events)
        return True

    def state_machine_task(self, resource: str, parameters: Any) -> Any:
        failure = execution_error()
        status, _, body = self.start_job_run(parameters if isinstance(parameters, dict) else {})
        payload = json.loads(body or b"{}")
        if status >= 400:
            raise failure(f"Glue.{payload.get('__type', 'GlueException')}", payload.get("message", ""))
        if ".sync" not in resource:
            return {"JobRunId": payload["JobRunId"]}
        run = self._find_run(parameters["JobName"], payload["JobRunId"])
        # Bounded by the run's own timeout, which the runner enforces, plus a margin.
        deadline = time.monotonic() + int(run.get("Timeout", 2880)) * 60 + 300
        while run["JobRunState"] not in self.TERMINAL:
            if time.monotonic() > deadline:
                raise failure("States.Timeout", f"Glue job run {run['Id']} did not finish")
            time.sleep(self.POLL_SECONDS)
        output = self.task_output(run)
        if run["JobRunState"] != "SUCCEEDED":
            raise failure("States.TaskFailed", json.dumps(output))
        return output

    @staticmethod
    def _find_run(job_name: str, run_id: str) -> dict[str, Any]:
        for run in service("glue")._job_runs.get(job_name, []):
            if run["Id"] == run_id:
                return run
        raise KeyError(run_id)

    @staticmethod
    def task_output(run: dict[str, Any]) -> dict[str, Any]:
        """GetJobRun's JobRun as Step Functions passes it on: timestamps in epoch milliseconds."""
        output = dict(run)
        for stamp in ("StartedOn", "LastModifiedOn", "CompletedOn"):
            if isinstance(output.get(stamp), (int, float)):
                output[stamp] = int(output[stamp] * 1000)
        return output

    def _keep_execution_property(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        default, warm = self.DEFAULT_EXECUTION_PROPERTY, self._warm

        def create_job(data: Any) -> Any:
            response = original(data)
            job = service("glue")._jobs.get(data.get("Name")) if isinstance(data, dict) else None
            if response[0] < 300 and job is not None:
                job["ExecutionProperty"] = {**default, **(data.get("ExecutionProperty") or {})}
                warm(job)
            return response

        return create_job

    def _update_execution_property(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        default, warm = self.DEFAULT_EXECUTION_PROPERTY, self._warm

        def update_job(data: Any) -> Any:
            response = original(data)
            update = (data.get("JobUpdate") or {}) if isinstance(data, dict) else {}
            job = service("glue")._jobs.get(data.get("JobName")) if isinstance(data, dict) else None
            if response[0] < 300 and job is not None:
                if "ExecutionProperty" in update:
                    job["ExecutionProperty"] = {**default, **(update["ExecutionProperty"] or {})}
                warm(job)
            return response

        return update_job

    def _warm_last_changed_job(self) -> None:
        jobs = list(service("glue")._jobs.values())
        if jobs:
            self._warm(max(jobs, key=lambda job: float(job.get("LastModifiedOn") or 0)))

    def _fail_interrupted_runs(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        runner = self.runner

        def load(data: Any) -> Any:
            result = original(data)
            runner.end_left_overs()  # before a standby starts in the same folders (`_warm_last_changed_job`)
            for runs in service("glue")._job_runs.values():
                for run in runs:
                    if run.get("JobRunState") in ("STARTING", "RUNNING", "STOPPING"):
                        run.update(
                            JobRunState="FAILED",
                            ErrorMessage="the local AWS was stopped while this job run was running",
                        )
            return result

        return load


class GlueCatalog:
    """The Data Catalog's partition calls as AWS answers them, and catalog locations as a Glue job on AWS writes them.

    - A partition call on a table that does not exist is `EntityNotFoundException` (botocore glue:
      CreatePartition, BatchCreatePartition, GetPartition and GetPartitions list it); the emulator stored
      partitions of no table and answered an empty list.
    - A partition's `Values` must match the table's `PartitionKeys` one for one (Glue: "The number of partition
      keys do not match the number of partition values", InvalidInputException; per partition in a batch).
    - A Spark job runs locally on `file://` mounts of the S3 URIs it was given (`LocalGlueJobRunner`); a
      location it registers (`StorageDescriptor.Location` of a table or partition) is the S3 URI the mount
      stands for, as the job registers on Glue. What still differs: the job compares the table it reads back
      (`s3://`) with its own `file://` view, so locally each run rewrites the table's identical definition
      (UpdateTable) where on AWS it leaves it alone.
    Pinned in `tests/contract/emulator/test_glue_catalog.py` and `tests/local/test_query.py`.
    """

    KEY_COUNT_MESSAGE = "The number of partition keys do not match the number of partition values"

    def __init__(self, runner: LocalGlueJobRunner) -> None:
        self.runner = runner

    def install(self) -> None:
        glue = service("glue")
        require(glue, "_tables")
        replace(glue, "_create_table", lambda original: self._located(original, "TableInput"))
        replace(glue, "_update_table", lambda original: self._located(original, "TableInput"))
        replace(
            glue,
            "_create_partition",
            lambda original: self._create_partition(self._located(original, "PartitionInput")),
        )
        replace(glue, "_batch_create_partition", lambda original: self._batch_create_partition(original))
        replace(glue, "_batch_update_partition", lambda original: self._batch_update_partition(original))
        for name in ("_get_partition", "_get_partitions"):
            replace(glue, name, lambda original: self._of_a_table(original), fix=f"GlueCatalog.table_exists.{name}")

    @staticmethod
    def _table(data: Any) -> dict[str, Any] | None:
        if not isinstance(data, dict):
            return None
        table: dict[str, Any] | None = service("glue")._tables.get(
            f"{data.get('DatabaseName')}/{data.get('TableName')}"
        )
        return table

    def _of_a_table(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(data: Any) -> Any:
            if self._table(data) is None:
                return self._no_table(data)
            return original(data)

        return call

    @staticmethod
    def _no_table(data: Any) -> tuple[int, dict[str, str], bytes]:
        name = data.get("TableName") if isinstance(data, dict) else None
        database = data.get("DatabaseName") if isinstance(data, dict) else None
        return error_response("EntityNotFoundException", f"Table {name} not found in database {database}.", 400)

    def _relocate(self, item: Any) -> None:
        storage = item.get("StorageDescriptor") if isinstance(item, dict) else None
        if isinstance(storage, dict) and isinstance(storage.get("Location"), str):
            storage["Location"] = self.runner.s3_uri_of(storage["Location"])

    def _located(self, original: Callable[[Any], Any], field: str) -> Callable[[Any], Any]:
        def call(data: Any) -> Any:
            if isinstance(data, dict):
                self._relocate(data.get(field))
            return original(data)

        return call

    def _key_count_wrong(self, table: dict[str, Any], partition: Any) -> bool:
        values = partition.get("Values") if isinstance(partition, dict) else None
        return len(values or []) != len(table.get("PartitionKeys") or [])

    def _create_partition(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(data: Any) -> Any:
            table = self._table(data)
            if table is None:
                return self._no_table(data)
            if self._key_count_wrong(table, data.get("PartitionInput")):
                return error_response("InvalidInputException", self.KEY_COUNT_MESSAGE, 400)
            return original(data)

        return call

    def _batch_create_partition(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        message = self.KEY_COUNT_MESSAGE

        def call(data: Any) -> Any:
            table = self._table(data)
            if table is None:
                return self._no_table(data)
            accepted, refused = [], []
            for partition in data.get("PartitionInputList") or []:
                self._relocate(partition)
                if self._key_count_wrong(table, partition):
                    detail = {"ErrorCode": "InvalidInputException", "ErrorMessage": message}
                    refused.append({"PartitionValues": partition.get("Values") or [], "ErrorDetail": detail})
                else:
                    accepted.append(partition)
            status, headers, body = original({**data, "PartitionInputList": accepted})
            if status >= 300 or not refused:
                return status, headers, body
            errors = json.loads(body or b"{}").get("Errors") or []
            return json_response({"Errors": [*errors, *refused]})

        return call

    def _batch_update_partition(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(data: Any) -> Any:
            if isinstance(data, dict):
                for entry in data.get("Entries") or []:
                    self._relocate(entry.get("PartitionInput") if isinstance(entry, dict) else None)
            return original(data)

        return call
