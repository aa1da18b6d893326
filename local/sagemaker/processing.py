"""Processing jobs: the container's entry point and arguments, run against a local `/opt/ml`.

`ProcessingInputs` are downloaded to their `LocalPath`, the command runs with `/opt/ml/processing/...`
(in the entry point, the arguments, and inside an `sh -c` command string) mapped to the job's work
directory and the container's Python mapped to the interpreter of its image's isolated environment, then every
`ProcessingOutputConfig` output is uploaded from its `LocalPath` to its `S3Uri`.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from local.runtime.staging import AccessDenied, NoObjectsFound, S3Staging
from local.sagemaker.job_runner import HOST, JobRunner
from local.sagemaker.jobs import ContainerPaths, JobOutcome, JobProcess, base_environment
from local.sagemaker.logstream import LogStream
from local.sagemaker.store import Record

logger = logging.getLogger("local.sagemaker")

KIND = "ProcessingJob"
MESSAGE_FILE = "/opt/ml/output/message"
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"


class ProcessingJobRunner(JobRunner):
    """Runs one processing job on a thread; `stop()` is StopProcessingJob."""

    KIND = KIND
    FOLDER = "processing"
    LOG_GROUP = "/aws/sagemaker/ProcessingJobs"

    def _mark_stopping(self) -> None:
        self._store.set_fields(KIND, self.name, ProcessingJobStatus="Stopping", LastModifiedTime=time.time())

    def _fail_internally(self, reason: str) -> None:
        self._finish("Failed", FailureReason=reason)

    def _finish(self, status: str, **fields: Any) -> None:
        now = time.time()
        self._store.set_fields(
            KIND, self.name, ProcessingJobStatus=status, ProcessingEndTime=now, LastModifiedTime=now, **fields
        )

    def _image(self, record: Record) -> str | None:
        return str(record["AppSpecification"].get("ImageUri") or "") or None

    def _run_in(self, record: Record, paths: ContainerPaths, s3: S3Staging, log: LogStream, region: str) -> None:
        self._store.set_fields(KIND, self.name, ProcessingStartTime=time.time(), LastModifiedTime=time.time())
        try:
            for item in record.get("ProcessingInputs") or []:
                source = item.get("S3Input")
                if source is None:
                    raise NoObjectsFound(f"input {item.get('InputName')!r}: only S3Input is supported locally")
                local = paths.host(source["LocalPath"])
                if source.get("S3CompressionType", "None") == "Gzip":
                    raise NoObjectsFound(
                        f"input {item['InputName']!r}: S3CompressionType Gzip is not supported locally"
                    )
                count = s3.download_prefix(source["S3Uri"], local)
                log.write(f"Downloaded {count} object(s) for input {item['InputName']} to {source['LocalPath']}")
        except (NoObjectsFound, ValueError) as error:
            log.write(f"ClientError: {error}")
            self._finish("Failed", FailureReason=f"ClientError: {error}"[:1024])
            return
        except AccessDenied as error:
            log.write(f"ClientError: Failed to download data. {error}")
            self._finish("Failed", FailureReason=f"ClientError: Failed to download data. {error}"[:1024])
            return
        outputs = (record.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        for output in outputs:
            if "S3Output" in output:
                paths.host(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        self._write_config(record, paths)
        if self._stop.is_set():
            self._finish("Stopped")
            return

        app = record["AppSpecification"]
        command = list(app.get("ContainerEntrypoint") or []) + list(app.get("ContainerArguments") or [])
        if not command:
            self._finish(
                "Failed",
                FailureReason=(
                    "ClientError: AppSpecification has no ContainerEntrypoint: the local SageMaker runs the "
                    "entry point and arguments of the job, not an image's default command"
                ),
            )
            return
        argv = paths.map_command(command)
        aws = self._context.clients.process_environment(region)  # type: ignore[attr-defined]
        env = base_environment(paths.interpreter, aws)
        env.update({key: paths.map_text(value) for key, value in (record.get("Environment") or {}).items()})
        processing_root = paths.host("/opt/ml/processing")
        processing_root.mkdir(parents=True, exist_ok=True)
        paths.host("/opt/ml/output").mkdir(parents=True, exist_ok=True)
        log.write("Running: " + " ".join(argv))
        max_runtime = float((record.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400))
        self._process = JobProcess(argv, processing_root, env, log, max_runtime)
        if self._stop.is_set():
            self._process.stop()
        outcome = self._process.run()
        self._conclude(record, outcome, paths, s3, log)

    def _write_config(self, record: Record, paths: ContainerPaths) -> None:
        config = paths.host("/opt/ml/config")
        config.mkdir(parents=True, exist_ok=True)
        public = {key: value for key, value in record.items() if not key.startswith("_")}
        (config / "processingjobconfig.json").write_text(json.dumps(public, default=str), encoding="utf-8")
        resources = record["ProcessingResources"]["ClusterConfig"]
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": HOST,
                    "hosts": [HOST],
                    "current_instance_type": resources.get("InstanceType"),
                }
            ),
            encoding="utf-8",
        )

    def _conclude(
        self, record: Record, outcome: JobOutcome, paths: ContainerPaths, s3: S3Staging, log: LogStream
    ) -> None:
        # SageMaker keeps no stderr of a processing container: ExitMessage is the first 1 KB of the
        # /opt/ml/output/message it wrote, whatever the terminal status, and text that is not UTF-8 fails
        # the job with a ClientError (https://docs.aws.amazon.com/sagemaker/latest/dg/byoc-metadata.html).
        message: dict[str, str] = {}
        message_file = paths.host(MESSAGE_FILE)
        if message_file.is_file():
            try:
                message["ExitMessage"] = message_file.read_bytes().decode("utf-8")[:1024]
            except UnicodeDecodeError:
                self._finish("Failed", FailureReason=f"ClientError: {MESSAGE_FILE} is not UTF-8 encoded text")
                return
        if outcome.timed_out:
            limit = (record.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400)
            self._finish(
                "Stopped", **{"ExitMessage": f"Processing job exceeded MaxRuntimeInSeconds ({limit})", **message}
            )
            return
        if outcome.stopped:
            self._finish("Stopped", **message)
            return
        if outcome.exit_code != 0:
            # What DescribeProcessingJob says of a container that exited non-zero, its message file or not
            # (aws/sagemaker-spark-container test/integration/sagemaker/test_sagemaker_spark_errors.py).
            self._finish("Failed", FailureReason=ALGORITHM_ERROR, **message)
            return
        for output in (record.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            target = output.get("S3Output")
            if target is None:
                continue
            try:
                count = s3.upload_directory(paths.host(target["LocalPath"]), target["S3Uri"])
            except AccessDenied as error:
                log.write(f"ClientError: Failed to upload data. {error}")
                self._finish("Failed", FailureReason=f"ClientError: Failed to upload data. {error}"[:1024], **message)
                return
            log.write(f"Uploaded {count} file(s) of output {output['OutputName']} to {target['S3Uri']}")
        self._finish("Completed", **message)
