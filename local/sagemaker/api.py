"""The SageMaker control plane over the AWS JSON 1.1 protocol (`X-Amz-Target: SageMaker.<Op>`).

Each request is checked against the operation's input shape in the botocore service model, handled,
and answered with the stored record projected onto the operation's output shape, so a response
holds exactly what SageMaker's would. Names are unique per kind, with SageMaker's own error codes
and messages when they are not; long work (jobs, fleets, deployments) runs on threads and shows in
the statuses that the Describe operations return.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from local.clock import ClockScale
from local.sagemaker.arns import sagemaker_arn
from local.sagemaker.deployment import EndpointManager
from local.sagemaker.errors import SageMakerError
from local.sagemaker.execution_role import check_image_pull, check_passed_role
from local.sagemaker.job_runner import JobRunners
from local.sagemaker.jobs import JobContext
from local.sagemaker.listing import ListRequest
from local.sagemaker.model_containers import ModelContainers
from local.sagemaker.monitoring import MonitoringSchedules
from local.sagemaker.processing import ProcessingJobRunner
from local.sagemaker.registry import ModelRegistry
from local.sagemaker.shapes import ShapeChecker, project, service_model, validation_message
from local.sagemaker.store import Record, StateStore
from local.sagemaker.traffic import TrafficPlanError, check_routing, check_timeout
from local.sagemaker.training import TrainingJobRunner, transition

logger = logging.getLogger("local.sagemaker")

Result = dict[str, Any]
_MOVING_ENDPOINT = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


class ControlPlane:
    def __init__(
        self,
        store: StateStore,
        endpoints: EndpointManager,
        registry: ModelRegistry,
        job_context: JobContext,
        containers: ModelContainers | None = None,
        clock: ClockScale | None = None,
    ) -> None:
        self._store = store
        self._endpoints = endpoints
        self._registry = registry
        self._containers = containers or ModelContainers(registry)
        self._job_context = job_context
        self._model = service_model("sagemaker")
        self._checker = ShapeChecker(self._model)
        self.runners = JobRunners()
        self.monitoring = MonitoringSchedules(store, job_context, self.runners, clock)
        self._operations: dict[str, Callable[[dict[str, Any], str, str], Result]] = {
            "CreateTrainingJob": self.create_training_job,
            "DescribeTrainingJob": self.describe_training_job,
            "StopTrainingJob": self.stop_training_job,
            "ListTrainingJobs": self.list_training_jobs,
            "CreateProcessingJob": self.create_processing_job,
            "DescribeProcessingJob": self.describe_processing_job,
            "StopProcessingJob": self.stop_processing_job,
            "ListProcessingJobs": self.list_processing_jobs,
            "CreateModel": self.create_model,
            "DescribeModel": self.describe_model,
            "DeleteModel": self.delete_model,
            "ListModels": self.list_models,
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": self.describe_endpoint_config,
            "DeleteEndpointConfig": self.delete_endpoint_config,
            "ListEndpointConfigs": self.list_endpoint_configs,
            "CreateEndpoint": self.create_endpoint,
            "UpdateEndpoint": self.update_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "ListEndpoints": self.list_endpoints,
            "CreateModelPackageGroup": self.create_model_package_group,
            "DescribeModelPackageGroup": self.describe_model_package_group,
            "ListModelPackageGroups": self.list_model_package_groups,
            "CreateModelPackage": self.create_model_package,
            "DescribeModelPackage": self.describe_model_package,
            "UpdateModelPackage": self.update_model_package,
            "ListModelPackages": self.list_model_packages,
            "CreateMonitoringSchedule": self.monitoring.create,
            "DescribeMonitoringSchedule": self.monitoring.describe,
            "UpdateMonitoringSchedule": self.monitoring.update,
            "DeleteMonitoringSchedule": self.monitoring.delete,
            "ListMonitoringSchedules": self.list_monitoring_schedules,
            "ListMonitoringExecutions": self.list_monitoring_executions,
        }

    @property
    def operations(self) -> list[str]:
        return sorted(self._operations)

    # --- the protocol ----------------------------------------------------------------------

    def handle(self, target: str, body: bytes, region: str, account: str) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        operation = target.split(".", 1)[1] if "." in target else target
        try:
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                raise SageMakerError("SerializationException", "The request body is not valid JSON.") from None
            result = self.call(operation, request, region, account)
        except SageMakerError as error:
            payload = {"__type": error.code, "message": error.message}
            return error.status, headers, json.dumps(payload).encode()
        return 200, headers, json.dumps(result).encode()

    def call(self, operation: str, request: dict[str, Any], region: str, account: str) -> Result:
        """Validate, run and shape one operation: the wire, Step Functions and tests all come here."""
        handler = self._operations.get(operation)
        if handler is None:
            known = operation in self._model.operation_names
            raise SageMakerError(
                "UnknownOperationException" if not known else "NotImplementedException",
                f"The local SageMaker does not implement {operation}."
                if known
                else f"{operation} is not a SageMaker operation.",
            )
        model = self._model.operation_model(operation)
        if not isinstance(request, dict):
            raise SageMakerError.validation("The request must be a JSON object.")
        problems = self._checker.problems(request, model.input_shape)
        if problems:
            raise SageMakerError.validation(validation_message(problems))
        check_passed_role(self._job_context.roles, operation, request, region)
        check_image_pull(self._job_context.roles, operation, request, region)
        result = handler(request, region, account)
        return project(result, model.output_shape)

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _new(request: dict[str, Any], region: str, account: str, **fields: Any) -> Record:
        now = time.time()
        return {
            **request,
            "CreationTime": now,
            "LastModifiedTime": now,
            "_Region": region,
            "_Account": account,
            **fields,
        }

    def _get(self, kind: str, name: str, message: str) -> Record:
        record = self._store.get(kind, name)
        if record is None:
            raise SageMakerError.validation(message)
        return record

    @staticmethod
    def _summaries(records: list[Record], key: str, next_token: str | None) -> Result:
        # The output shape's member is the summary shape: projecting the result trims each record.
        result: Result = {key: records}
        if next_token:
            result["NextToken"] = next_token
        return result

    # --- training jobs ---------------------------------------------------------------------

    def create_training_job(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["TrainingJobName"]
        arn = sagemaker_arn("training-job", name, region, account)
        output = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        record = self._new(
            request,
            region,
            account,
            TrainingJobArn=arn,
            TrainingJobStatus="InProgress",
            ModelArtifacts={"S3ModelArtifacts": f"{output}/{name}/output/model.tar.gz"},
        )
        record.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
        record.setdefault("EnableNetworkIsolation", False)
        record.setdefault("EnableInterContainerTrafficEncryption", False)
        record.setdefault("EnableManagedSpotTraining", False)
        transition(record, "Starting", record["CreationTime"])
        if not self._store.put_new("TrainingJob", name, record):
            raise SageMakerError.in_use(
                "Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({arn})"
            )
        runner = TrainingJobRunner(name, self._store, self._job_context)
        self.runners[("TrainingJob", name)] = runner
        runner.start()
        return {"TrainingJobArn": arn}

    def describe_training_job(self, request: dict[str, Any], region: str, account: str) -> Result:
        return self._get("TrainingJob", request["TrainingJobName"], "Requested resource not found.")

    def stop_training_job(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["TrainingJobName"]
        record = self._get("TrainingJob", name, "Requested resource not found.")
        if record["TrainingJobStatus"] != "InProgress":
            raise SageMakerError.validation(
                f"The request was rejected because the training job is in status {record['TrainingJobStatus']}."
            )
        runner = self.runners.get(("TrainingJob", name))
        if isinstance(runner, TrainingJobRunner):
            runner.stop()
        return {}

    def list_training_jobs(self, request: dict[str, Any], region: str, account: str) -> Result:
        listing = ListRequest(
            request,
            "TrainingJobName",
            "TrainingJobStatus",
            {"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"},
        )
        page, token = listing.page(listing.select(self._store.all("TrainingJob")))
        return self._summaries(page, "TrainingJobSummaries", token)

    # --- processing jobs -------------------------------------------------------------------

    def create_processing_job(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["ProcessingJobName"]
        arn = sagemaker_arn("processing-job", name, region, account)
        local_paths = [
            item["S3Input"]["LocalPath"] for item in request.get("ProcessingInputs") or [] if "S3Input" in item
        ]
        local_paths += [
            item["S3Output"]["LocalPath"]
            for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
            if "S3Output" in item
        ]
        for path in local_paths:
            if not path.startswith("/opt/ml/processing/"):
                raise SageMakerError.validation(
                    f"LocalPath {path!r} must be a path under /opt/ml/processing/ (the processing container's "
                    "data directory)."
                )
        record = self._new(request, region, account, ProcessingJobArn=arn, ProcessingJobStatus="InProgress")
        if not self._store.put_new("ProcessingJob", name, record):
            raise SageMakerError.in_use(
                "Processing job names must be unique within an AWS account and region, and a processing job "
                f"with this name already exists ({arn})"
            )
        runner = ProcessingJobRunner(name, self._store, self._job_context)
        self.runners[("ProcessingJob", name)] = runner
        runner.start()
        return {"ProcessingJobArn": arn}

    def describe_processing_job(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["ProcessingJobName"]
        return self._get("ProcessingJob", name, f"Could not find requested job with name {name}")

    def stop_processing_job(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["ProcessingJobName"]
        record = self._get("ProcessingJob", name, f"Could not find requested job with name {name}")
        if record["ProcessingJobStatus"] != "InProgress":
            raise SageMakerError.validation(
                f"The request was rejected because the processing job is in status {record['ProcessingJobStatus']}."
            )
        runner = self.runners.get(("ProcessingJob", name))
        if isinstance(runner, ProcessingJobRunner):
            runner.stop()
        return {}

    def list_processing_jobs(self, request: dict[str, Any], region: str, account: str) -> Result:
        listing = ListRequest(
            request,
            "ProcessingJobName",
            "ProcessingJobStatus",
            {"Name": "ProcessingJobName", "CreationTime": "CreationTime", "Status": "ProcessingJobStatus"},
        )
        page, token = listing.page(listing.select(self._store.all("ProcessingJob")))
        return self._summaries(page, "ProcessingJobSummaries", token)

    # --- models ----------------------------------------------------------------------------

    def create_model(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["ModelName"]
        arn = sagemaker_arn("model", name, region, account)
        if not request.get("PrimaryContainer") and not request.get("Containers"):
            raise SageMakerError.validation(
                "CreateModel needs PrimaryContainer or Containers: the image, "
                "ModelDataUrl and Environment of the model's container, or the "
                "ModelPackageName of a model package version."
            )
        self._containers.check(request, region, account)
        record = self._new(request, region, account, ModelArn=arn)
        record.setdefault("EnableNetworkIsolation", False)
        record.pop("Tags", None)
        if not self._store.put_new("Model", name, record):
            raise SageMakerError.validation(f'Cannot create already existing model "{arn}".')
        return {"ModelArn": arn}

    def describe_model(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["ModelName"]
        return self._get("Model", name, f'Could not find model "{sagemaker_arn("model", name, region, account)}".')

    def delete_model(self, request: dict[str, Any], region: str, account: str) -> Result:
        self.describe_model(request, region, account)
        self._store.delete("Model", request["ModelName"])
        return {}

    def list_models(self, request: dict[str, Any], region: str, account: str) -> Result:
        listing = ListRequest(request, "ModelName")
        page, token = listing.page(listing.select(self._store.all("Model")))
        return self._summaries(page, "Models", token)

    # --- endpoint configs --------------------------------------------------------------------

    def create_endpoint_config(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["EndpointConfigName"]
        arn = sagemaker_arn("endpoint-config", name, region, account)
        seen: set[str] = set()
        for variant in request["ProductionVariants"]:
            if variant["VariantName"] in seen:
                raise SageMakerError.validation(f"Variant name {variant['VariantName']} is used more than once.")
            seen.add(variant["VariantName"])
            if variant.get("ServerlessConfig"):
                raise SageMakerError.validation(
                    "Serverless variants are not supported by the local SageMaker; "
                    "give InstanceType and InitialInstanceCount."
                )
            model_name = variant.get("ModelName")
            if not model_name or not self._store.exists("Model", model_name):
                raise SageMakerError.validation(
                    f'Could not find model "{sagemaker_arn("model", model_name or "", region, account)}".'
                )
        record = self._new(request, region, account, EndpointConfigArn=arn)
        record.pop("Tags", None)
        for variant in record["ProductionVariants"]:
            variant.setdefault("InitialVariantWeight", 1.0)
            model = self._store.get("Model", variant["ModelName"]) or {}
            try:
                image = self._containers.primary(model).get("Image") if model else None
            except SageMakerError:
                image = None  # the fleet reports a package that no longer resolves
            variant["_Image"] = image or "local-sklearn"
        if not self._store.put_new("EndpointConfig", name, record):
            raise SageMakerError.validation(f'Cannot create already existing endpoint configuration "{arn}".')
        return {"EndpointConfigArn": arn}

    def _endpoint_config(self, name: str, region: str, account: str) -> Record:
        return self._get(
            "EndpointConfig",
            name,
            f'Could not find endpoint configuration "{sagemaker_arn("endpoint-config", name, region, account)}".',
        )

    def describe_endpoint_config(self, request: dict[str, Any], region: str, account: str) -> Result:
        return self._endpoint_config(request["EndpointConfigName"], region, account)

    def delete_endpoint_config(self, request: dict[str, Any], region: str, account: str) -> Result:
        self._endpoint_config(request["EndpointConfigName"], region, account)
        self._store.delete("EndpointConfig", request["EndpointConfigName"])
        return {}

    def list_endpoint_configs(self, request: dict[str, Any], region: str, account: str) -> Result:
        listing = ListRequest(request, "EndpointConfigName")
        page, token = listing.page(listing.select(self._store.all("EndpointConfig")))
        return self._summaries(page, "EndpointConfigs", token)

    # --- endpoints ---------------------------------------------------------------------------

    def _endpoint(self, name: str, region: str, account: str) -> Record:
        arn = sagemaker_arn("endpoint", name, region, account)
        return self._get("Endpoint", name, f'Could not find endpoint "{arn}".')

    def create_endpoint(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["EndpointName"]
        arn = sagemaker_arn("endpoint", name, region, account)
        self._endpoint_config(request["EndpointConfigName"], region, account)
        record = self._new(
            {key: value for key, value in request.items() if key not in ("Tags", "DeploymentConfig")},
            region,
            account,
            EndpointArn=arn,
            EndpointStatus="Creating",
        )
        if self._endpoints.busy(name) or not self._store.put_new("Endpoint", name, record):
            raise SageMakerError.validation(f'Cannot create already existing endpoint "{arn}".')
        self._endpoints.create(name)
        return {"EndpointArn": arn}

    def update_endpoint(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["EndpointName"]
        record = self._endpoint(name, region, account)
        arn = record["EndpointArn"]
        status = record["EndpointStatus"]
        if status in _MOVING_ENDPOINT:
            raise SageMakerError.validation(f'Cannot update in-progress endpoint "{arn}".')
        if status != "InService":
            raise SageMakerError.validation(f'Cannot update endpoint "{arn}" in status {status}.')
        config = self._endpoint_config(request["EndpointConfigName"], region, account)
        deployment = request.get("DeploymentConfig")
        if deployment is None and request.get("RetainDeploymentConfig"):
            deployment = record.get("LastDeploymentConfig")
        deployment = deployment or {}
        if deployment.get("RollingUpdatePolicy"):
            raise SageMakerError.validation(
                "RollingUpdatePolicy is not supported by the local SageMaker; use BlueGreenUpdatePolicy."
            )
        self._check_blue_green(record, config, deployment.get("BlueGreenUpdatePolicy") or {})
        if self._endpoints.busy(name):
            raise SageMakerError.validation(f'Cannot update in-progress endpoint "{arn}".')
        self._store.set_fields("Endpoint", name, EndpointStatus="Updating", LastModifiedTime=time.time())
        self._endpoints.update(name, request["EndpointConfigName"], deployment)
        return {"EndpointArn": arn}

    @staticmethod
    def _check_blue_green(endpoint: Record, config: Record, policy: dict[str, Any]) -> None:
        """The documented cross-field rules of a blue/green update, refused before anything starts."""
        old_names = sorted(variant["VariantName"] for variant in endpoint.get("ProductionVariants", []))
        new_names = sorted(variant["VariantName"] for variant in config["ProductionVariants"])
        # deployment-guardrails-exclusions: "your new endpoint configuration must have the same
        # variant name as the old endpoint configuration".
        if old_names and old_names != new_names:
            raise SageMakerError.validation(
                f"The variant names of endpoint configuration {config['EndpointConfigName']} ({', '.join(new_names)}) "
                f"must be the same as those of the endpoint's current configuration ({', '.join(old_names)})."
            )
        routing = policy.get("TrafficRoutingConfiguration")
        try:
            for variant in config["ProductionVariants"]:
                check_routing(routing, int(variant.get("InitialInstanceCount", 1)))
            check_timeout(policy)
        except TrafficPlanError as error:
            raise SageMakerError.validation(str(error)) from None

    def describe_endpoint(self, request: dict[str, Any], region: str, account: str) -> Result:
        record = dict(self._endpoint(request["EndpointName"], region, account))
        config = self._store.get("EndpointConfig", record.get("EndpointConfigName", "")) or {}
        capture = config.get("DataCaptureConfig")
        if capture:
            # botocore `DataCaptureConfigSummary`: every member required (KmsKeyId empty when none is set).
            enabled = capture.get("EnableCapture", True) is not False
            record["DataCaptureConfig"] = {
                "EnableCapture": enabled,
                "CaptureStatus": "Started" if enabled else "Stopped",
                "CurrentSamplingPercentage": capture["InitialSamplingPercentage"],
                "DestinationS3Uri": capture["DestinationS3Uri"],
                "KmsKeyId": capture.get("KmsKeyId", ""),
            }
        return record

    def delete_endpoint(self, request: dict[str, Any], region: str, account: str) -> Result:
        name = request["EndpointName"]
        record = self._endpoint(name, region, account)
        if record["EndpointStatus"] == "Deleting":
            return {}
        self._store.set_fields("Endpoint", name, EndpointStatus="Deleting", LastModifiedTime=time.time())
        self._endpoints.delete(name)
        return {}

    def list_endpoints(self, request: dict[str, Any], region: str, account: str) -> Result:
        listing = ListRequest(
            request,
            "EndpointName",
            "EndpointStatus",
            {"Name": "EndpointName", "CreationTime": "CreationTime", "Status": "EndpointStatus"},
        )
        page, token = listing.page(listing.select(self._store.all("Endpoint")))
        return self._summaries(page, "Endpoints", token)

    # --- model registry ----------------------------------------------------------------------

    def create_model_package_group(self, request: dict[str, Any], region: str, account: str) -> Result:
        return self._registry.create_group({k: v for k, v in request.items() if k != "Tags"}, region, account)

    def describe_model_package_group(self, request: dict[str, Any], region: str, account: str) -> Result:
        return self._registry.group(request["ModelPackageGroupName"], region, account)

    def list_model_package_groups(self, request: dict[str, Any], region: str, account: str) -> Result:
        page, token = self._registry.list_groups(request)
        return self._summaries(page, "ModelPackageGroupSummaryList", token)

    def create_model_package(self, request: dict[str, Any], region: str, account: str) -> Result:
        return self._registry.create_package({k: v for k, v in request.items() if k != "Tags"}, region, account)

    def describe_model_package(self, request: dict[str, Any], region: str, account: str) -> Result:
        return self._registry.package(request["ModelPackageName"], region, account)

    def update_model_package(self, request: dict[str, Any], region: str, account: str) -> Result:
        return self._registry.update_package(request, region, account)

    def list_model_packages(self, request: dict[str, Any], region: str, account: str) -> Result:
        page, token = self._registry.list_packages(request, region, account)
        return self._summaries(page, "ModelPackageSummaryList", token)

    # --- monitoring schedules (local/sagemaker/monitoring.py) ---------------------------------

    def list_monitoring_schedules(self, request: dict[str, Any], region: str, account: str) -> Result:
        page, token = self.monitoring.list_schedules(request, region, account)
        return self._summaries(page, "MonitoringScheduleSummaries", token)

    def list_monitoring_executions(self, request: dict[str, Any], region: str, account: str) -> Result:
        page, token = self.monitoring.list_executions(request, region, account)
        return self._summaries(page, "MonitoringExecutionSummaries", token)
