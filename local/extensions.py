"""Every fix and addition this project makes to the local AWS emulator, in one module.

The pipeline relies on AWS behaviour that the emulator (ministack, pinned) lacks or gets wrong. Each
class below closes one gap through the emulator's own registries (its service handler table, its
Step Functions integration table, its module-level functions), and each gap is pinned by a contract
test in `tests/contract/emulator/` that fails loudly when an upgrade changes the behaviour:

- `LambdaErrorTypes`: a Lambda's exception reaches the caller (Invoke, Step Functions) with its class
  name as `errorType`, so `Retry`/`Catch` by name work; emulator-side failures become
  `Lambda.ServiceException`/`Lambda.TooManyRequestsException` as on AWS.
- `StepFunctionsFixes`: `$$.Execution.RedriveCount`, `TimeoutSecondsPath`, Retry with
  `MaxDelaySeconds` and `JitterStrategy`, `IsPresent` on a null value, and a failing Lambda of a
  `lambda:invoke.waitForTaskToken` state failing the state instead of leaving it waiting.
- `GlueJobs`: job runs execute for real (`local.glue_runner`), with `--arguments` on argv;
  `arn:aws:states:::glue:startJobRun[.sync]` as a Step Functions integration; a job keeps its
  `ExecutionProperty` and a run beyond `MaxConcurrentRuns` is refused.
- `Schedules`: EventBridge Scheduler fires within a second of a schedule being due, and a one-time
  schedule that fired stays fired across restarts.
- CloudFormation, so the project's real stack (`infra/app.py`) deploys unchanged:
  `GlueSecurityConfigurations` (`AWS::Glue::SecurityConfiguration` was refused),
  `MetricMathAlarmTemplates` (an `AWS::CloudWatch::Alarm` with `Metrics` was refused),
  `TemplateProperties` (properties the provisioners dropped: a function's reserved concurrency, a
  topic's KMS key, a job's execution property, a schedule's time zone, a state machine's logging
  and tracing), and `AWS::SageMaker::ModelPackageGroup` in `local.cloudformation_sagemaker`.

Relied on as the emulator ships it (pinned by a contract test, no fix): a function may name a
public layer of another account that the local AWS does not hold (the pipeline's Powertools layer);
the reference resolves, the stack deploys, and the function runs on the emulator's interpreter,
which has the packages the layer would bring. A missing layer of the local account fails the
deploy, as on AWS.

`install(home)` runs once in the emulator process, after the emulator is imported and before it
serves. Add-on services (the local SageMaker) register through `ExtensionPoints`.
"""

from __future__ import annotations

import contextvars
import importlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from local import cloudformation_sagemaker
from local.glue_runner import GlueJobRun, LocalGlueJobRunner
from local.home import StateDirectory

logger = logging.getLogger("retrain.local")

EMULATOR_DISTRIBUTION = "ministack"
TESTED_EMULATOR_VERSION = "1.5.33"

# A task integration gets the Task's resource ARN and its resolved Parameters and returns the result.
TaskIntegration = Callable[[str, Any], Any]


class ExtensionError(RuntimeError):
    """The emulator no longer has something a fix relies on (an upgrade changed it)."""


def _require(module: Any, name: str) -> Any:
    if not hasattr(module, name):
        raise ExtensionError(
            f"{module.__name__}.{name} is gone: {EMULATOR_DISTRIBUTION} changed; the fix in "
            f"local/extensions.py that patches it must be revisited (tested with {TESTED_EMULATOR_VERSION})"
        )
    return getattr(module, name)


def _replace(module: Any, name: str, wrapper_factory: Callable[[Any], Any], fix: str = "") -> None:
    """Replace `module.name` with `wrapper_factory(original)`; each `fix` applies once."""
    original = _require(module, name)
    fix = fix or getattr(wrapper_factory, "__qualname__", repr(wrapper_factory))
    applied: frozenset[str] = getattr(original, "__retrain_fixes__", frozenset())
    if fix in applied:
        return
    patched = wrapper_factory(original)
    patched.__retrain_fixes__ = applied | {fix}
    patched.__wrapped__ = original
    setattr(module, name, patched)


def _emulator(name: str) -> Any:
    """A service module, loaded through the emulator's own registry so it is the instance it serves."""
    from ministack import app

    return app._get_module(name)


# --- Lambda: the exception's class name is the error -----------------------------------------


class LambdaErrorTypes:
    """AWS reports a handler's exception as `errorType` = its class name (`SchemaMismatch`); the
    emulator's Python worker reports every exception as `Runtime.HandlerError`."""

    # The worker script's line that reports a handler exception, as the emulator ships it...
    _WORKER_ERROR = 'json.dumps({"status": "error", "error": str(e), "trace": traceback.format_exc()})'
    # ...and with the class name and the stack trace the AWS Python runtime reports (frames below
    # the worker's own call of the handler).
    _WORKER_ERROR_FIXED = (
        'json.dumps({"status": "error", "error": str(e), "trace": traceback.format_exc(), '
        '"errorType": type(e).__name__, '
        '"stackTrace": traceback.format_list(traceback.extract_tb(e.__traceback__))[1:]})'
    )

    def __init__(self) -> None:
        self._last = threading.local()

    def install(self) -> None:
        from ministack.core import lambda_runtime

        script = _require(lambda_runtime, "_PYTHON_WORKER_SCRIPT")
        if self._WORKER_ERROR_FIXED not in script:
            if script.count(self._WORKER_ERROR) != 1:
                raise ExtensionError("the emulator's Python Lambda worker no longer reports errors as expected")
            lambda_runtime._PYTHON_WORKER_SCRIPT = script.replace(self._WORKER_ERROR, self._WORKER_ERROR_FIXED)
        worker_class = _require(lambda_runtime, "Worker")
        _replace(worker_class, "invoke", self._recording_invoke)
        _replace(_emulator("lambda_svc"), "_execute_function_warm", self._typed_warm_execution)
        _replace(_emulator("stepfunctions"), "_call_lambda", self._service_errors)

    def _recording_invoke(self, original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        last = self._last

        def invoke(worker: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            response = original(worker, *args, **kwargs)
            last.response = response
            return response

        return invoke

    def _typed_warm_execution(self, original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        last = self._last

        def execute(func: dict[str, Any], event: Any, request_id: str) -> dict[str, Any]:
            last.response = None
            result = original(func, event, request_id)
            body = result.get("body") if isinstance(result, dict) else None
            if not (isinstance(result, dict) and result.get("error") and isinstance(body, dict)):
                return result
            if result.get("throttle"):
                return result
            response = last.response
            if response is not None and response.get("errorType"):
                body["errorType"] = response["errorType"]
                body["stackTrace"] = response.get("stackTrace", [])
            elif response is not None and response.get("error") == "Worker process died":
                body["errorType"] = "Runtime.ExitError"
            elif response is None and str(body.get("errorMessage", "")).startswith("Worker init failed"):
                body["errorType"] = (
                    "Runtime.ImportModuleError" if "module" in body["errorMessage"] else "Runtime.Unknown"
                )
            elif response is None:
                body["errorType"] = "Lambda.ServiceException"
            return result

        return execute

    @staticmethod
    def _service_errors(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        from ministack.services import stepfunctions

        def call_lambda(func_ref: Any, event: Any) -> Any:
            try:
                return original(func_ref, event)
            except stepfunctions._ExecutionError as error:
                if error.error == "Lambda.Unknown" and '"TooManyRequestsException"' in str(error.cause):
                    raise stepfunctions._ExecutionError("Lambda.TooManyRequestsException", error.cause) from None
                raise
            except Exception as error:  # the emulator itself failed to run the function
                cause = json.dumps({"errorMessage": str(error), "errorType": "ServiceException"})
                raise stepfunctions._ExecutionError("Lambda.ServiceException", cause) from None

        return call_lambda


# --- Step Functions engine -------------------------------------------------------------------


class RetryBackoff:
    """A retrier's delay as AWS computes it: IntervalSeconds x BackoffRate^n, capped by
    MaxDelaySeconds, and with `JitterStrategy: FULL` a uniform draw between 0 and that."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def delay(self, retrier: dict[str, Any], retries_done: int) -> float:
        delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** retries_done
        if "MaxDelaySeconds" in retrier:
            delay = min(delay, float(retrier["MaxDelaySeconds"]))
        if retrier.get("JitterStrategy", "NONE") == "FULL":
            delay = self.rng.uniform(0.0, delay)
        return delay


class JsonPathPresence:
    """Whether a path selects a field at all (a field holding null is present)."""

    def __init__(self, parse_tokens: Callable[[str], Any]) -> None:
        self._parse = parse_tokens

    def present(self, path: str, data: Any, ctx: Any) -> bool:
        if path.startswith("$$"):
            data, path = ctx or {}, path[1:]
        if path == "$":
            return True
        tokens = self._parse(path)
        if tokens is None:
            return False
        current = data
        for kind, value in tokens:
            selects = (kind == "field" and isinstance(current, dict) and value in current) or (
                kind == "index" and isinstance(current, list) and -len(current) <= value < len(current)
            )
            if not selects:
                return False
            current = current[value]
        return True


class StepFunctionsFixes:
    def __init__(self, backoff: RetryBackoff | None = None) -> None:
        self.backoff = backoff or RetryBackoff()
        self._callback = threading.local()

    def install(self) -> None:
        sfn = _emulator("stepfunctions")
        _replace(sfn, "_resolve_ctx_path", self._context_with_redrive_count)
        _replace(sfn, "_find_matching_retrier", self._aws_backoff)
        _replace(sfn, "_execute_task", self._timeout_seconds_path)
        presence = JsonPathPresence(_require(sfn, "_parse_jsonpath_tokens"))
        _replace(sfn, "_evaluate_rule", lambda original: self._is_present(original, presence), "is-present")
        _require(sfn, "_task_tokens")
        _replace(sfn, "_invoke_with_callback", self._remember_callback)
        _replace(sfn, "_call_lambda", self._fail_callback_on_lambda_error)

    def _remember_callback(self, original: Callable[..., Any]) -> Callable[..., Any]:
        callback = self._callback

        def invoke(resource: str, input_data: Any, token: str, state_def: dict[str, Any]) -> Any:
            asynchronous = isinstance(input_data, dict) and input_data.get("InvocationType") == "Event"
            callback.token = None if asynchronous else token
            try:
                return original(resource, input_data, token, state_def)
            finally:
                callback.token = None

        return invoke

    def _fail_callback_on_lambda_error(self, original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """A `lambda:invoke.waitForTaskToken` state invokes the function synchronously: when the
        function fails, the state fails with its error at once (the emulator ignored the error and
        waited for a token that never comes)."""
        from ministack.services import stepfunctions as sfn

        callback = self._callback

        def call_lambda(func_ref: Any, event: Any) -> Any:
            try:
                return original(func_ref, event)
            except sfn._ExecutionError as error:
                token = getattr(callback, "token", None)
                waiting = sfn._task_tokens.get(token) if token else None
                if waiting is not None:
                    waiting["error"] = {"Error": error.error, "Cause": error.cause}
                    waiting["event"].set()
                raise

        return call_lambda

    @staticmethod
    def _context_with_redrive_count(original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
        # The emulator has no RedriveExecution, so every execution is on its first drive.
        def resolve(path: str, ctx: Any) -> Any:
            execution = ctx.get("Execution") if isinstance(ctx, dict) else None
            if isinstance(execution, dict):
                execution.setdefault("RedriveCount", 0)
            return original(path, ctx)

        return resolve

    def _aws_backoff(self, original: Callable[..., tuple[Any, int]]) -> Callable[..., tuple[Any, int]]:
        backoff = self.backoff

        # The engine sleeps IntervalSeconds x BackoffRate^n and ignores MaxDelaySeconds and
        # JitterStrategy: hand it a retrier whose interval is already the AWS delay.
        def find(retriers: list[dict[str, Any]], error: str, retry_counts: dict[int, int]) -> tuple[Any, int]:
            retrier, index = original(retriers, error, retry_counts)
            if retrier is None:
                return retrier, index
            delay = backoff.delay(retrier, retry_counts.get(index, 0))
            return {**retrier, "IntervalSeconds": delay, "BackoffRate": 1.0}, index

        return find

    @staticmethod
    def _timeout_seconds_path(original: Callable[..., Any]) -> Callable[..., Any]:
        from ministack.services import stepfunctions as sfn

        def execute(state_def: dict[str, Any], raw_input: Any, execution: Any, ctx: Any) -> Any:
            path = state_def.get("TimeoutSecondsPath")
            if isinstance(path, str):
                value = sfn._resolve_path_or_ctx(path, raw_input, ctx)
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise sfn._ExecutionError(
                        "States.Runtime",
                        f"TimeoutSecondsPath {path} must select a positive integer, got {json.dumps(value)}",
                    )
                state_def = {k: v for k, v in state_def.items() if k != "TimeoutSecondsPath"}
                state_def["TimeoutSeconds"] = value
            return original(state_def, raw_input, execution, ctx)

        return execute

    @staticmethod
    def _is_present(original: Callable[..., bool], presence: JsonPathPresence) -> Callable[..., bool]:
        def evaluate(rule: dict[str, Any], data: Any, ctx: Any = None) -> bool:
            if "IsPresent" in rule and isinstance(rule.get("Variable"), str):
                return presence.present(rule["Variable"], data, ctx) == bool(rule["IsPresent"])
            return bool(original(rule, data, ctx))

        return evaluate


# --- Glue ------------------------------------------------------------------------------------


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

    def install(self) -> None:
        glue = _emulator("glue")
        _require(glue, "_job_runs")
        _require(glue, "_jobs")
        _replace(glue, "_start_job_run", lambda _original: lambda data: self.start_job_run(data))
        _replace(glue, "load_persisted_state", self._fail_interrupted_runs)
        _replace(glue, "_create_job", self._keep_execution_property)
        _replace(glue, "_update_job", self._update_execution_property)
        sfn = _emulator("stepfunctions")
        _require(sfn, "_SERVICE_DISPATCH")["arn:aws:states:::glue:startJobRun"] = self.state_machine_task

    def start_job_run(self, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        from ministack.core.responses import error_response_json, json_response

        glue = _emulator("glue")
        job_name = str(data.get("JobName") or "")
        job = glue._jobs.get(job_name) if job_name else None
        if job is None:
            return error_response_json("EntityNotFoundException", f"Job {job_name} not found", 400)
        limit = int((job.get("ExecutionProperty") or self.DEFAULT_EXECUTION_PROPERTY).get("MaxConcurrentRuns", 1))
        active = [run for run in glue._job_runs.get(job_name, []) if run.get("JobRunState") in self.ACTIVE]
        if len(active) >= limit:
            return error_response_json(
                "ConcurrentRunsExceededException", f"Concurrent runs exceeded for {job_name}", 400
            )
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
        command = job.get("Command", {})
        job_run = GlueJobRun(
            job_name=job_name,
            run_id=run_id,
            command_name=command.get("Name", "glueetl"),
            script_location=command.get("ScriptLocation", ""),
            arguments={key: str(value) for key, value in arguments.items()},
            timeout_minutes=timeout,
        )
        # The request's account and region scope the job-run store: carry them into the thread.
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(self._execute, run, job_run), name=f"glue-{run_id[:11]}", daemon=True
        ).start()
        return json_response({"JobRunId": run_id})

    def _execute(self, run: dict[str, Any], job_run: GlueJobRun) -> None:
        run["JobRunState"] = "RUNNING"
        run["LastModifiedOn"] = int(time.time())
        try:
            outcome = self.runner.run(job_run, should_stop=lambda: run["JobRunState"] == "STOPPED")
            state, message = outcome.state, outcome.error_message
        except Exception as error:  # the runner itself broke: the run must still end
            logger.exception("Glue run %s failed to run", job_run.run_id)
            state, message = "ERROR", f"the local Glue runner failed: {error}"
        if message:
            run["ErrorMessage"] = message
        completed = int(time.time())
        run.update(JobRunState=state, CompletedOn=completed, LastModifiedOn=completed)
        run["ExecutionTime"] = completed - run["StartedOn"]

    def state_machine_task(self, resource: str, parameters: Any) -> Any:
        sfn = _emulator("stepfunctions")
        status, _, body = self.start_job_run(parameters if isinstance(parameters, dict) else {})
        payload = json.loads(body or b"{}")
        if status >= 400:
            raise sfn._ExecutionError(f"Glue.{payload.get('__type', 'GlueException')}", payload.get("message", ""))
        if ".sync" not in resource:
            return {"JobRunId": payload["JobRunId"]}
        run = self._find_run(parameters["JobName"], payload["JobRunId"])
        # Bounded by the run's own timeout, which the runner enforces, plus a margin.
        deadline = time.monotonic() + int(run.get("Timeout", 2880)) * 60 + 300
        while run["JobRunState"] not in self.TERMINAL:
            if time.monotonic() > deadline:
                raise sfn._ExecutionError("States.Timeout", f"Glue job run {run['Id']} did not finish")
            time.sleep(self.POLL_SECONDS)
        output = self.task_output(run)
        if run["JobRunState"] != "SUCCEEDED":
            raise sfn._ExecutionError("States.TaskFailed", json.dumps(output))
        return output

    @staticmethod
    def _find_run(job_name: str, run_id: str) -> dict[str, Any]:
        for run in _emulator("glue")._job_runs.get(job_name, []):
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
        default = self.DEFAULT_EXECUTION_PROPERTY

        def create_job(data: Any) -> Any:
            response = original(data)
            job = _emulator("glue")._jobs.get(data.get("Name")) if isinstance(data, dict) else None
            if response[0] < 300 and job is not None:
                job["ExecutionProperty"] = {**default, **(data.get("ExecutionProperty") or {})}
            return response

        return create_job

    def _update_execution_property(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        default = self.DEFAULT_EXECUTION_PROPERTY

        def update_job(data: Any) -> Any:
            response = original(data)
            update = (data.get("JobUpdate") or {}) if isinstance(data, dict) else {}
            job = _emulator("glue")._jobs.get(data.get("JobName")) if isinstance(data, dict) else None
            if response[0] < 300 and job is not None and "ExecutionProperty" in update:
                job["ExecutionProperty"] = {**default, **(update["ExecutionProperty"] or {})}
            return response

        return update_job

    @staticmethod
    def _fail_interrupted_runs(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def load(data: Any) -> Any:
            result = original(data)
            for runs in _emulator("glue")._job_runs.values():
                for run in runs:
                    if run.get("JobRunState") in ("STARTING", "RUNNING", "STOPPING"):
                        run.update(
                            JobRunState="FAILED",
                            ErrorMessage="the local AWS was stopped while this job run was running",
                        )
            return result

        return load


class GlueSecurityConfigurations:
    """`AWS::Glue::SecurityConfiguration` in CloudFormation (the emulator's Glue API has security
    configurations; its CloudFormation refused the type). `Ref` is the name; both properties are
    create-only, so a change replaces it (and fails for an unchanged name, as on AWS)."""

    RESOURCE_TYPE = "AWS::Glue::SecurityConfiguration"

    def install(self, points: ExtensionPoints) -> None:
        glue = _emulator("glue")
        for name in ("_create_security_configuration", "_delete_security_configuration", "_security_configs"):
            _require(glue, name)
        points.add_cloudformation_resource(
            self.RESOURCE_TYPE,
            self.create,
            delete=self.delete,
            create_only_properties=("Name", "EncryptionConfiguration"),
            name_property="Name",
        )

    def create(self, logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
        name = props.get("Name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{logical_id} ({self.RESOURCE_TYPE}): Name is required")
        status, _, body = _emulator("glue")._create_security_configuration(
            {"Name": name, "EncryptionConfiguration": self.api_shape(props.get("EncryptionConfiguration") or {})}
        )
        if status >= 400:
            raise ValueError(f"{logical_id} ({self.RESOURCE_TYPE}): {json.loads(body or b'{}').get('message', body)}")
        return name, {}

    def delete(self, physical_id: str, props: dict[str, Any]) -> None:
        _emulator("glue")._delete_security_configuration({"Name": physical_id})

    @staticmethod
    def api_shape(encryption: dict[str, Any]) -> dict[str, Any]:
        """The template's `S3Encryptions` is the API's `S3Encryption` (a list in both)."""
        shaped = {key: value for key, value in encryption.items() if key != "S3Encryptions"}
        if "S3Encryptions" in encryption:
            shaped["S3Encryption"] = encryption["S3Encryptions"]
        return shaped


# --- CloudWatch alarms from templates ---------------------------------------------------------


class MetricMathAlarmTemplates:
    """`AWS::CloudWatch::Alarm` with `Metrics` (metric math): the emulator's CloudFormation refused
    it. The alarm is stored as PutMetricAlarm stores one with `Metrics` (the queries kept, no
    single-metric members), so DescribeAlarms returns its `Metrics` and the local SageMaker's
    rollback controller can evaluate it. A percentile alarm (`ExtendedStatistic`) is stored without
    the `Statistic` the emulator added."""

    SINGLE_METRIC = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit")

    def install(self) -> None:
        from ministack.services.cloudformation import provisioners

        _replace(provisioners, "_cw_metric_alarm_record", self._with_metrics)

    def _with_metrics(self, original: Callable[[str, dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
        def record(name: str, props: dict[str, Any]) -> dict[str, Any]:
            metrics = props.get("Metrics")
            if not metrics:
                alarm = original(name, props)
                if alarm.get("ExtendedStatistic"):
                    # A percentile alarm has no Statistic (the emulator filled in Average).
                    alarm.pop("Statistic", None)
                return alarm
            queries = self.queries(name, metrics, props)
            # The single-metric path checks and shapes everything else (threshold, actions, state).
            placeholder = {k: v for k, v in props.items() if k != "Metrics" and k not in self.SINGLE_METRIC}
            alarm = original(name, {**placeholder, "MetricName": "-", "Namespace": "-"})
            for member in self.SINGLE_METRIC:
                alarm.pop(member, None)
            alarm["Metrics"] = queries
            return alarm

        return record

    def queries(self, name: str, metrics: Any, props: dict[str, Any]) -> list[dict[str, Any]]:
        """The template's MetricDataQuery list in PutMetricAlarm's shape; refuses what AWS refuses."""
        alongside = [member for member in self.SINGLE_METRIC if props.get(member)]
        if alongside:
            raise ValueError(
                f"alarm {name}: Metrics cannot be combined with {', '.join(alongside)}; a metric math alarm "
                "names its metrics in its MetricStat queries"
            )
        if not isinstance(metrics, list) or not all(isinstance(query, dict) for query in metrics):
            raise ValueError(f"alarm {name}: Metrics must be a list of MetricDataQuery objects")
        shaped = []
        for index, query in enumerate(metrics, start=1):
            if not query.get("Id"):
                raise ValueError(f"alarm {name}: Metrics[{index}].Id is required")
            if bool(query.get("MetricStat")) == bool(query.get("Expression")):
                raise ValueError(
                    f"alarm {name}: Metrics[{index}] ({query['Id']}) needs exactly one of MetricStat and Expression"
                )
            item = dict(query)
            # Template values may arrive as strings ("true", "60"); the API shape has bools and ints.
            if "ReturnData" in item:
                item["ReturnData"] = str(item["ReturnData"]).lower() == "true"
            if "Period" in item:
                item["Period"] = int(item["Period"])
            if isinstance(item.get("MetricStat"), dict):
                stat = dict(item["MetricStat"])
                if "Period" in stat:
                    stat["Period"] = int(stat["Period"])
                item["MetricStat"] = stat
            shaped.append(item)
        returned = [query["Id"] for query in shaped if query.get("ReturnData", True)]
        if len(returned) != 1:
            raise ValueError(
                f"alarm {name}: exactly one of Metrics must have ReturnData true (the alarm's series), "
                f"{len(returned)} do"
            )
        return shaped


# --- CloudFormation: properties the emulator's provisioners drop ------------------------------


def _wrap_resource_handler(resource_type: str, action: str, wrapper_factory: Callable[[Any], Any], fix: str) -> None:
    """Wrap the emulator's CloudFormation `action` handler of a resource type (once per fix)."""
    from ministack.services.cloudformation import provisioners

    handlers = _require(provisioners, "_RESOURCE_HANDLERS").get(resource_type)
    if not handlers or action not in handlers:
        raise ExtensionError(
            f"the emulator's CloudFormation has no {action} handler for {resource_type} any more: "
            f"{EMULATOR_DISTRIBUTION} changed; revisit local/extensions.py (tested with {TESTED_EMULATOR_VERSION})"
        )
    original = handlers[action]
    applied: frozenset[str] = getattr(original, "__retrain_fixes__", frozenset())
    if fix in applied:
        return
    patched = wrapper_factory(original)
    patched.__retrain_fixes__ = applied | {fix}
    patched.__wrapped__ = original
    handlers[action] = patched


class TemplateProperties:
    """Template properties that the emulator's CloudFormation accepted but did not apply, although
    its own API keeps them. Each is applied after the emulator's handler ran, on create and update,
    the way the API call CloudFormation makes on AWS would have:

    - `AWS::Lambda::Function` `ReservedConcurrentExecutions` (the starter's serialization guard);
    - `AWS::SNS::Topic` `KmsMasterKeyId`;
    - `AWS::Glue::Job` `ExecutionProperty` (`MaxConcurrentRuns`, enforced by `GlueJobs`);
    - `AWS::Scheduler::Schedule` `ScheduleExpressionTimezone`, `StartDate`, `EndDate`,
      `ActionAfterCompletion`, `KmsKeyArn`;
    - `AWS::StepFunctions::StateMachine` `LoggingConfiguration` (kept in the template's PascalCase,
      which DescribeStateMachine then showed as empty) and `TracingConfiguration`.
    """

    SCHEDULE_FIELDS = {
        "ScheduleExpressionTimezone": "UTC",
        "StartDate": None,
        "EndDate": None,
        "ActionAfterCompletion": "NONE",
        "KmsKeyArn": None,
    }

    def install(self) -> None:
        appliers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::Lambda::Function": self.function_concurrency,
            "AWS::SNS::Topic": self.topic_encryption,
            "AWS::Glue::Job": self.glue_execution_property,
            "AWS::Scheduler::Schedule": self.schedule_fields,
            "AWS::StepFunctions::StateMachine": self.state_machine_configuration,
        }
        for resource_type, apply in appliers.items():
            _wrap_resource_handler(resource_type, "create", self._after_create(apply), "template-properties")
            _wrap_resource_handler(resource_type, "update", self._after_update(apply), "template-properties")

    @staticmethod
    def _after_create(apply: Callable[[str, dict[str, Any]], None]) -> Callable[[Any], Any]:
        def factory(original: Callable[..., tuple[str, dict[str, Any]]]) -> Callable[..., tuple[str, dict[str, Any]]]:
            def create(logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
                result = original(logical_id, props, stack_name)
                apply(result[0], props)
                return result

            return create

        return factory

    @staticmethod
    def _after_update(apply: Callable[[str, dict[str, Any]], None]) -> Callable[[Any], Any]:
        def factory(original: Callable[..., tuple[str, dict[str, Any]]]) -> Callable[..., tuple[str, dict[str, Any]]]:
            def update(
                physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], *rest: Any
            ) -> tuple[str, dict[str, Any]]:
                result = original(physical_id, old_props, new_props, *rest)
                apply(result[0], new_props)
                return result

            return update

        return factory

    @staticmethod
    def function_concurrency(name: str, props: dict[str, Any]) -> None:
        function = _emulator("lambda_svc")._functions.get(name)
        if function is not None:
            value = props.get("ReservedConcurrentExecutions")
            function["concurrency"] = None if value in (None, "") else int(value)

    @staticmethod
    def topic_encryption(arn: str, props: dict[str, Any]) -> None:
        topic = _emulator("sns")._topics.get(arn)
        if topic is None:
            return
        attributes = topic.setdefault("attributes", {})
        if props.get("KmsMasterKeyId"):
            attributes["KmsMasterKeyId"] = str(props["KmsMasterKeyId"])
        else:
            attributes.pop("KmsMasterKeyId", None)

    @staticmethod
    def glue_execution_property(name: str, props: dict[str, Any]) -> None:
        job = _emulator("glue")._jobs.get(name)
        if job is not None:
            given = props.get("ExecutionProperty") or {}
            limit = given.get("MaxConcurrentRuns", GlueJobs.DEFAULT_EXECUTION_PROPERTY["MaxConcurrentRuns"])
            job["ExecutionProperty"] = {"MaxConcurrentRuns": int(limit)}

    def schedule_fields(self, name: str, props: dict[str, Any]) -> None:
        schedule = _emulator("scheduler")._schedules.get(f"{props.get('GroupName') or 'default'}/{name}")
        if schedule is not None:
            for field, default in self.SCHEDULE_FIELDS.items():
                schedule[field] = props.get(field, default)

    @staticmethod
    def state_machine_configuration(arn: str, props: dict[str, Any]) -> None:
        machine = _emulator("stepfunctions")._state_machines.get(arn)
        if machine is None:
            return
        logging_config = props.get("LoggingConfiguration") or {}
        machine["loggingConfiguration"] = {
            "level": logging_config.get("Level", "OFF"),
            "includeExecutionData": str(logging_config.get("IncludeExecutionData", False)).lower() == "true",
            "destinations": [
                {"cloudWatchLogsLogGroup": {"logGroupArn": group["LogGroupArn"]}}
                for destination in logging_config.get("Destinations") or []
                if (group := destination.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")
            ],
        }
        tracing = props.get("TracingConfiguration") or {}
        machine["tracingConfiguration"] = {"enabled": str(tracing.get("Enabled", False)).lower() == "true"}


# --- EventBridge Scheduler -------------------------------------------------------------------


class Schedules:
    """Schedules are checked every second (the emulator checks every 10), and which ones have fired
    is saved with the schedules, so a one-time `at(...)` schedule does not fire again after a restart."""

    TICK_SECONDS = 1

    def install(self) -> None:
        scheduler = _emulator("scheduler")
        _require(scheduler, "_SCHEDULE_TICK_INTERVAL")
        scheduler._SCHEDULE_TICK_INTERVAL = self.TICK_SECONDS
        _require(scheduler, "_schedule_last_fired")
        _replace(scheduler, "get_state", self._with_last_fired)
        _replace(scheduler, "load_persisted_state", self._restore_last_fired)

    @staticmethod
    def _with_last_fired(original: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        def get_state() -> dict[str, Any]:
            state = original()
            fired = _emulator("scheduler")._schedule_last_fired
            state["retrain_last_fired"] = [[*key, when] for key, when in list(fired.items())]
            return state

        return get_state

    @staticmethod
    def _restore_last_fired(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def load(data: Any) -> Any:
            result = original(data)
            fired = _emulator("scheduler")._schedule_last_fired
            for *key, when in (data or {}).get("retrain_last_fired", []):
                fired[tuple(key)] = when
            return result

        return load


# --- add-on services -------------------------------------------------------------------------


@dataclass
class ExtensionPoints:
    """What an add-on service may register into the emulator.

    A service module is an object with the emulator's service contract:
    `async handle_request(method, path, headers, body, query_params) -> (status, headers, body)`,
    `get_state() -> dict | None`, `load_persisted_state(data)` and `reset()`. Requests signed for
    the service's SigV4 name (e.g. `sagemaker`, which `sagemaker-runtime` also signs with) reach it.
    """

    home: StateDirectory
    endpoint_url: str

    def add_service(self, name: str, module: Any, state_key: str | None = None) -> None:
        from ministack import app

        module_name = f"retrain_{name.replace('-', '_')}"
        app._loaded_modules[module_name] = module
        app.SERVICE_REGISTRY[name] = {"module": module_name, "state_key": state_key or module_name}
        app._state_map[state_key or module_name] = module_name
        app.SERVICE_HANDLERS[name] = app._lazy_handler(module_name)

    def add_task_integration(self, resource_prefix: str, handler: TaskIntegration) -> None:
        """`handler(resource, parameters)` for Task states whose Resource starts with the prefix
        (`.sync` and `.waitForTaskToken` suffixes included: the handler sees the full resource)."""
        _emulator("stepfunctions")._SERVICE_DISPATCH[resource_prefix] = handler

    def task_failure(self, error: str, cause: str) -> Exception:
        """The exception a task integration raises to fail its state with `error` and `cause`."""
        return _emulator("stepfunctions")._ExecutionError(error, cause)

    def add_cloudformation_resource(
        self,
        resource_type: str,
        create: Callable[[str, dict[str, Any], str], tuple[str, dict[str, Any]]],
        update: Callable[..., tuple[str, dict[str, Any]]] | None = None,
        delete: Callable[[str, dict[str, Any]], None] | None = None,
        *,
        create_only_properties: tuple[str, ...] = (),
        name_property: str | None = None,
    ) -> None:
        """`create(logical_id, props, stack_name) -> (physical_id, attributes)`,
        `update(physical_id, old_props, new_props, stack_name)`, `delete(physical_id, props)`.

        `create_only_properties` ("Update requires: Replacement" in the resource's reference): a
        change creates a new resource and deletes the old one, as CloudFormation does.
        `name_property`: the property that names the resource; a replacement that keeps an
        explicit name fails the update as on AWS ("custom-named resource requires replacing").
        """
        from ministack.services.cloudformation import provisioners

        handlers: dict[str, Any] = {"create": create}
        if update is not None:
            handlers["update"] = update
        if delete is not None:
            handlers["delete"] = delete
        _require(provisioners, "_RESOURCE_HANDLERS")[resource_type] = handlers
        if create_only_properties:
            _require(provisioners, "_REPLACING_PROPERTIES")[resource_type] = tuple(create_only_properties)
        if name_property:
            _require(provisioners, "_CUSTOM_NAME_REPLACEMENT")[resource_type] = {"name": name_property}


# Add-on modules, each with `install(points: ExtensionPoints)`; absent ones are skipped.
ADDONS: tuple[str, ...] = (
    # >>> the local SageMaker registers here (control plane, jobs, endpoints) <<<
    "local.sagemaker",
)


def _install_addons(points: ExtensionPoints) -> list[str]:
    installed = []
    for name in ADDONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:
                logger.info("add-on %s is not present; skipped", name)
                continue
            raise
        install = getattr(module, "install", None)
        if install is None:
            logger.info("add-on %s has no install(points) yet; skipped", name)
            continue
        install(points)
        installed.append(name)
    return installed


def install(home: StateDirectory) -> list[str]:
    """Apply every fix and register every add-on; returns the add-ons installed."""
    import os

    found = version(EMULATOR_DISTRIBUTION)
    if found != TESTED_EMULATOR_VERSION:
        logger.warning(
            "%s %s is installed; local/extensions.py was written against %s (run the contract tests)",
            EMULATOR_DISTRIBUTION,
            found,
            TESTED_EMULATOR_VERSION,
        )
    endpoint_url = f"http://127.0.0.1:{os.environ['GATEWAY_PORT']}"
    LambdaErrorTypes().install()
    StepFunctionsFixes().install()
    GlueJobs(LocalGlueJobRunner(endpoint_url, home.glue_scratch, home.glue_logs)).install()
    Schedules().install()
    MetricMathAlarmTemplates().install()
    TemplateProperties().install()
    points = ExtensionPoints(home, endpoint_url)
    GlueSecurityConfigurations().install(points)
    cloudformation_sagemaker.register(points)
    return _install_addons(points)
