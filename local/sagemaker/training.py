"""Training jobs in script mode, with SageMaker's training environment contract.

The SKLearn container's training toolkit reads `sagemaker_program` and `sagemaker_submit_directory`
from the hyperparameters, unpacks the code into `/opt/ml/code`, and runs the program with the other
hyperparameters as `--key value` arguments and the `SM_*` environment. This runner does the same
with a work directory standing in for `/opt/ml`, then uploads `/opt/ml/model` as
`<S3OutputPath>/<job>/output/model.tar.gz` and `/opt/ml/output/data` as `output.tar.gz`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from typing import Any

from local.runtime.staging import AccessDenied, NoObjectsFound, S3Staging
from local.sagemaker.job_runner import HOST, JobRunner
from local.sagemaker.jobs import ContainerPaths, JobContext, JobOutcome, JobProcess, base_environment
from local.sagemaker.logstream import LogStream
from local.sagemaker.store import Record, StateStore

logger = logging.getLogger("local.sagemaker")

KIND = "TrainingJob"
_STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "The training job was stopped",
    "MaxRuntimeExceeded": "Training job exceeded its maximum allowed runtime (MaxRuntimeInSeconds)",
}
SAGEMAKER_KEYS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
)


def decode_hyperparameter(value: str) -> Any:
    """SageMaker's SDK JSON-encodes each value; the toolkit decodes what it can."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """The toolkit's argument list: sorted keys, `--key value` (`-k` for one letter)."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, dict):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def transition(record: Record, status: str, now: float) -> None:
    """Close the open secondary status and open `status`, as DescribeTrainingJob lists them."""
    transitions = record.setdefault("SecondaryStatusTransitions", [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": _STATUS_MESSAGES.get(status, status)}
    if status in ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded"):
        entry["EndTime"] = now
    transitions.append(entry)
    record["SecondaryStatus"] = status
    record["LastModifiedTime"] = now


class TrainingJobRunner(JobRunner):
    """Runs one training job on a thread; `stop()` is StopTrainingJob."""

    KIND = KIND
    FOLDER = "training"
    LOG_GROUP = "/aws/sagemaker/TrainingJobs"

    def __init__(self, name: str, store: StateStore, context: JobContext) -> None:
        super().__init__(name, store, context)
        self._metrics: dict[str, tuple[float, float]] = {}

    def _mark_stopping(self) -> None:
        self._set_secondary("Stopping", TrainingJobStatus="Stopping")

    def _fail_internally(self, reason: str) -> None:
        self._finish("Failed", "Failed", FailureReason=reason)

    # --- the job ---------------------------------------------------------------------------

    def _set_secondary(self, status: str, **fields: Any) -> Record:
        now = time.time()

        def change(record: Record) -> None:
            transition(record, status, now)
            record.update(fields)

        return self._store.update(KIND, self.name, change)

    def _finish(self, status: str, secondary: str, **fields: Any) -> None:
        now = time.time()
        record = self._store.get(KIND, self.name) or {}
        started = record.get("TrainingStartTime", now)
        seconds = max(1, round(now - started))
        self._set_secondary(
            secondary,
            TrainingJobStatus=status,
            TrainingEndTime=now,
            TrainingTimeInSeconds=seconds,
            BillableTimeInSeconds=seconds,
            **fields,
        )

    def _image(self, record: Record) -> str | None:
        return (record.get("AlgorithmSpecification") or {}).get("TrainingImage")

    def _run_in(self, record: Record, paths: ContainerPaths, s3: S3Staging, log: LogStream, region: str) -> None:
        self._set_secondary("Downloading", TrainingStartTime=time.time())
        raw_hps: dict[str, str] = record.get("HyperParameters") or {}
        decoded = {key: decode_hyperparameter(value) for key, value in raw_hps.items()}
        program = decoded.get("sagemaker_program")
        submit_dir = decoded.get("sagemaker_submit_directory")
        if not program or not submit_dir:
            self._finish(
                "Failed",
                "Failed",
                FailureReason=(
                    "ClientError: the local SageMaker runs training in script mode: set the hyperparameters "
                    "sagemaker_program (the entry point, e.g. train.py) and sagemaker_submit_directory "
                    "(the S3 URI of a sourcedir.tar.gz)"
                ),
            )
            return
        code_dir = paths.host("/opt/ml/code")
        model_dir = paths.host("/opt/ml/model")
        output_data_dir = paths.host("/opt/ml/output/data")
        config_dir = paths.host("/opt/ml/input/config")
        for directory in (code_dir, model_dir, output_data_dir, config_dir, paths.host("/opt/ml/output/intermediate")):
            directory.mkdir(parents=True, exist_ok=True)
        channels: dict[str, str] = {}
        input_config: dict[str, Any] = {}
        try:
            log.write(f"Downloading code from {submit_dir}")
            if str(submit_dir).startswith("s3://"):
                s3.download_and_extract(str(submit_dir), code_dir)
            else:
                raise NoObjectsFound(f"sagemaker_submit_directory {submit_dir!r} is not an S3 URI")
            for channel in record.get("InputDataConfig") or []:
                name = channel["ChannelName"]
                source = channel.get("DataSource", {}).get("S3DataSource")
                if source is None:
                    raise NoObjectsFound(f"channel {name!r}: only S3DataSource inputs are supported locally")
                if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                    raise NoObjectsFound(
                        f"channel {name!r}: S3DataType {source['S3DataType']} is not supported locally; use S3Prefix"
                    )
                target = paths.host(f"/opt/ml/input/data/{name}")
                count = s3.download_prefix(source["S3Uri"], target)
                log.write(f"Downloaded {count} object(s) for channel {name} from {source['S3Uri']}")
                channels[name] = str(target)
                input_config[name] = {
                    "TrainingInputMode": channel.get("InputMode")
                    or record["AlgorithmSpecification"].get("TrainingInputMode", "File"),
                    "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                    "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                    **({"ContentType": channel["ContentType"]} if channel.get("ContentType") else {}),
                }
        except NoObjectsFound as error:
            log.write(f"ClientError: {error}")
            self._finish("Failed", "Failed", FailureReason=f"ClientError: {error}"[:1024])
            return
        except AccessDenied as error:
            log.write(f"ClientError: Data download failed:{error}")
            self._finish("Failed", "Failed", FailureReason=_fit(f"ClientError: Data download failed:{error}"))
            return
        if self._stop.is_set():
            self._finish("Stopped", "Stopped")
            return

        user_hps = {key: value for key, value in decoded.items() if not key.startswith("sagemaker_")}
        resources = record.get("ResourceConfig") or {}
        instance_type = resources.get("InstanceType", "local")
        resource_config = {
            "current_host": HOST,
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": [HOST],
            "instance_groups": [
                {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": [HOST]}
            ],
            "network_interface_name": "eth0",
        }
        (config_dir / "hyperparameters.json").write_text(json.dumps(raw_hps), encoding="utf-8")
        (config_dir / "inputdataconfig.json").write_text(json.dumps(input_config), encoding="utf-8")
        (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config), encoding="utf-8")

        env = self._environment(record, paths, decoded, user_hps, channels, input_config, resource_config, region)
        args = [paths.map_text(arg) for arg in to_cmd_args(user_hps)]
        if str(program).endswith(".py"):
            argv = [paths.interpreter, str(program), *args]
        elif str(program).endswith(".sh"):
            argv = ["/bin/sh", str(program), *args]
        else:
            argv = [str(code_dir / str(program)), *args]
        if not (code_dir / str(program)).exists():
            self._finish(
                "Failed",
                "Failed",
                FailureReason=(
                    f"AlgorithmError: ExecuteUserScriptError: the entry point {program} is not in the code "
                    f"from {submit_dir}"
                ),
            )
            return

        self._set_secondary("Training")
        log.write("Invoking script with the following command:")
        log.write(" ".join(argv))
        max_runtime = float((record.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
        self._process = JobProcess(argv, code_dir, env, log, max_runtime, on_line=self._scan_metrics(record))
        if self._stop.is_set():
            self._process.stop()
        outcome = self._process.run()
        self._store_metrics()
        self._conclude(record, outcome, paths, s3, log, str(program))

    def _environment(
        self,
        record: Record,
        paths: ContainerPaths,
        decoded: dict[str, Any],
        user_hps: dict[str, Any],
        channels: dict[str, str],
        input_config: dict[str, Any],
        resource_config: dict[str, Any],
        region: str,
    ) -> dict[str, str]:
        aws = self._context.clients.process_environment(region)  # type: ignore[attr-defined]
        env = base_environment(paths.interpreter, aws)
        program = str(decoded["sagemaker_program"])
        module_name = program[:-3] if program.endswith(".py") else program
        code_dir = str(paths.host("/opt/ml/code"))
        training_env: dict[str, Any] = {
            "job_name": self.name,
            "current_host": HOST,
            "hosts": [HOST],
            "hyperparameters": user_hps,
            "input_data_config": input_config,
            "channel_input_dirs": channels,
            "model_dir": str(paths.host("/opt/ml/model")),
            "output_data_dir": str(paths.host("/opt/ml/output/data")),
            "output_dir": str(paths.host("/opt/ml/output")),
            "input_dir": str(paths.host("/opt/ml/input")),
            "input_config_dir": str(paths.host("/opt/ml/input/config")),
            "module_name": module_name,
            "module_dir": str(decoded.get("sagemaker_submit_directory")),
            "user_entry_point": program,
            "num_cpus": os.cpu_count() or 1,
            "num_gpus": 0,
            "resource_config": resource_config,
            "network_interface_name": "eth0",
            "framework_module": None,
            "log_level": 20,
            "additional_framework_parameters": {},
        }
        compact = {"sort_keys": True, "separators": (",", ":")}
        env.update(
            {
                "SM_HOSTS": json.dumps([HOST]),
                "SM_CURRENT_HOST": HOST,
                "SM_NETWORK_INTERFACE_NAME": "eth0",
                "SM_HPS": json.dumps(user_hps, **compact),  # type: ignore[arg-type]
                "SM_USER_ENTRY_POINT": program,
                "SM_FRAMEWORK_PARAMS": "{}",
                "SM_RESOURCE_CONFIG": json.dumps(resource_config, **compact),  # type: ignore[arg-type]
                "SM_INPUT_DATA_CONFIG": json.dumps(input_config, **compact),  # type: ignore[arg-type]
                "SM_OUTPUT_DATA_DIR": training_env["output_data_dir"],
                "SM_CHANNELS": json.dumps(sorted(channels)),
                "SM_MODULE_NAME": module_name,
                "SM_LOG_LEVEL": "20",
                "SM_FRAMEWORK_MODULE": "",
                "SM_INPUT_DIR": training_env["input_dir"],
                "SM_INPUT_CONFIG_DIR": training_env["input_config_dir"],
                "SM_OUTPUT_DIR": training_env["output_dir"],
                "SM_NUM_CPUS": str(training_env["num_cpus"]),
                "SM_NUM_GPUS": "0",
                "SM_MODEL_DIR": training_env["model_dir"],
                "SM_MODULE_DIR": training_env["module_dir"],
                "SM_TRAINING_ENV": json.dumps(training_env, **compact),  # type: ignore[arg-type]
                "SM_USER_ARGS": json.dumps(to_cmd_args(user_hps)),
                "SM_OUTPUT_INTERMEDIATE_DIR": str(paths.host("/opt/ml/output/intermediate")),
                "TRAINING_JOB_NAME": self.name,
                "TRAINING_JOB_ARN": record["TrainingJobArn"],
                "SAGEMAKER_REGION": region,
            }
        )
        for name, directory in channels.items():
            env[f"SM_CHANNEL_{name.upper()}"] = directory
        for key, value in user_hps.items():
            env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        for key, value in (record.get("Environment") or {}).items():
            env[key] = paths.map_text(value)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code_dir, env.get("PYTHONPATH")]))
        return env

    def _scan_metrics(self, record: Record) -> Any:
        definitions = [
            (item["Name"], re.compile(item["Regex"]))
            for item in (record.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
        ]

        def scan(line: str) -> None:
            for name, pattern in definitions:
                match = pattern.search(line)
                if match:
                    with contextlib.suppress(IndexError, ValueError):
                        self._metrics[name] = (float(match.group(1)), time.time())

        return scan

    def _store_metrics(self) -> None:
        if self._metrics:
            final = [
                {"MetricName": name, "Value": value, "Timestamp": at}
                for name, (value, at) in sorted(self._metrics.items())
            ]
            self._store.set_fields(KIND, self.name, FinalMetricDataList=final)

    def _conclude(
        self, record: Record, outcome: JobOutcome, paths: ContainerPaths, s3: S3Staging, log: LogStream, program: str
    ) -> None:
        output_path = record["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        model_uri = f"{output_path}/{self.name}/output/model.tar.gz"
        model_dir = paths.host("/opt/ml/model")
        succeeded = outcome.exit_code == 0 and not outcome.stopped and not outcome.timed_out
        # SageMaker saves what the model directory holds even when a job is stopped.
        if succeeded or ((outcome.stopped or outcome.timed_out) and any(model_dir.iterdir())):
            self._set_secondary("Uploading")
            try:
                s3.upload_tarball(model_dir, model_uri)
                data_dir = paths.host("/opt/ml/output/data")
                if any(data_dir.iterdir()):
                    s3.upload_tarball(data_dir, f"{output_path}/{self.name}/output/output.tar.gz")
            except AccessDenied as error:
                log.write(f"ClientError: Data upload failed:{error}")
                self._finish("Failed", "Failed", FailureReason=_fit(f"ClientError: Data upload failed:{error}"))
                return
            log.write(f"Uploaded the model to {model_uri}")
        if outcome.timed_out:
            self._finish("Stopped", "MaxRuntimeExceeded")
        elif outcome.stopped:
            self._finish("Stopped", "Stopped")
        elif succeeded:
            self._finish("Completed", "Completed")
        else:
            failure_file = paths.host("/opt/ml/output/failure")
            if failure_file.exists() and failure_file.read_text(errors="replace").strip():
                reason = "AlgorithmError: " + failure_file.read_text(errors="replace").strip()
            else:
                reason = (
                    f"AlgorithmError: ExecuteUserScriptError:\nExitCode {outcome.exit_code}\n"
                    f'ErrorMessage "{outcome.error_text}"\nCommand "{outcome.command}", '
                    f"exit code: {outcome.exit_code}"
                )
            self._finish("Failed", "Failed", FailureReason=_fit(reason))


def _fit(reason: str, limit: int = 1024) -> str:
    """FailureReason holds 1024 characters: keep the head and the error message."""
    if len(reason) <= limit:
        return reason
    return reason[: limit - 3] + "..."
