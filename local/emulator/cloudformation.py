"""CloudFormation: the resource types and properties the project's stack uses, so `infra/app.py`
deploys unchanged. Each is pinned by `tests/contract/emulator/test_cloudformation.py`:

- `GlueSecurityConfigurations`: `AWS::Glue::SecurityConfiguration` was refused —
  `test_a_glue_security_configuration_deploys_and_its_job_names_it`,
  `test_a_named_security_configuration_cannot_be_replaced_in_place`;
- `TemplateProperties`: properties the provisioners accepted and dropped —
  `test_a_glue_job_keeps_its_execution_property`,
  `test_reserved_concurrency_of_a_function_is_applied_and_removed`,
  `test_topic_schedule_and_state_machine_keep_their_configuration`;
- `ModelPackageGroupResource`: `AWS::SageMaker::ModelPackageGroup`, backed by the local SageMaker —
  `test_a_model_package_group_from_a_template_takes_packages`, `test_renaming_a_model_package_group_replaces_it`,
  `test_a_stack_with_a_model_package_group_can_be_deleted_and_created_again`,
  `test_a_model_package_group_policy_is_refused_with_its_reason`.

Metric math alarms in templates are `local.emulator.cloudwatch`'s (one check with PutMetricAlarm).

Relied on as the emulator ships it (pinned, no fix): a function may name a public layer of another
account that the local AWS does not hold (the pipeline's Powertools layer); the reference resolves,
the stack deploys, and the function runs on an isolated environment that holds the packages the
layer would bring (`local.emulator.awslambda.FunctionEnvironments`, the layer's profile in
`profiles/`). A missing layer of the local account fails the deploy, as on AWS
(`test_a_public_layer_that_is_not_held_locally_deploys_and_the_function_runs_without_it`,
`test_a_missing_layer_of_the_own_account_fails_the_deploy_as_on_aws`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from local.emulator.glue import GlueJobs
from local.emulator.seam import ExtensionPoints, require, service, wrap_resource_handler

logger = logging.getLogger("retrain.local")


class GlueSecurityConfigurations:
    """`AWS::Glue::SecurityConfiguration` in CloudFormation (the emulator's Glue API has security
    configurations; its CloudFormation refused the type). `Ref` is the name; both properties are
    create-only, so a change replaces it (and fails for an unchanged name, as on AWS)."""

    RESOURCE_TYPE = "AWS::Glue::SecurityConfiguration"

    def install(self, points: ExtensionPoints) -> None:
        glue = service("glue")
        for name in ("_create_security_configuration", "_delete_security_configuration", "_security_configs"):
            require(glue, name)
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
        status, _, body = service("glue")._create_security_configuration(
            {"Name": name, "EncryptionConfiguration": self.api_shape(props.get("EncryptionConfiguration") or {})}
        )
        if status >= 400:
            raise ValueError(f"{logical_id} ({self.RESOURCE_TYPE}): {json.loads(body or b'{}').get('message', body)}")
        return name, {}

    def delete(self, physical_id: str, props: dict[str, Any]) -> None:
        service("glue")._delete_security_configuration({"Name": physical_id})

    @staticmethod
    def api_shape(encryption: dict[str, Any]) -> dict[str, Any]:
        """The template's `S3Encryptions` is the API's `S3Encryption` (a list in both)."""
        shaped = {key: value for key, value in encryption.items() if key != "S3Encryptions"}
        if "S3Encryptions" in encryption:
            shaped["S3Encryption"] = encryption["S3Encryptions"]
        return shaped


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
            wrap_resource_handler(resource_type, "create", self._after_create(apply), "template-properties")
            wrap_resource_handler(resource_type, "update", self._after_update(apply), "template-properties")

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
        function = service("lambda_svc")._functions.get(name)
        if function is not None:
            value = props.get("ReservedConcurrentExecutions")
            function["concurrency"] = None if value in (None, "") else int(value)

    @staticmethod
    def topic_encryption(arn: str, props: dict[str, Any]) -> None:
        topic = service("sns")._topics.get(arn)
        if topic is None:
            return
        attributes = topic.setdefault("attributes", {})
        if props.get("KmsMasterKeyId"):
            attributes["KmsMasterKeyId"] = str(props["KmsMasterKeyId"])
        else:
            attributes.pop("KmsMasterKeyId", None)

    @staticmethod
    def glue_execution_property(name: str, props: dict[str, Any]) -> None:
        job = service("glue")._jobs.get(name)
        if job is not None:
            given = props.get("ExecutionProperty") or {}
            limit = given.get("MaxConcurrentRuns", GlueJobs.DEFAULT_EXECUTION_PROPERTY["MaxConcurrentRuns"])
            job["ExecutionProperty"] = {"MaxConcurrentRuns": int(limit)}

    def schedule_fields(self, name: str, props: dict[str, Any]) -> None:
        schedule = service("scheduler")._schedules.get(f"{props.get('GroupName') or 'default'}/{name}")
        if schedule is not None:
            for field, default in self.SCHEDULE_FIELDS.items():
                schedule[field] = props.get(field, default)

    @staticmethod
    def state_machine_configuration(arn: str, props: dict[str, Any]) -> None:
        machine = service("stepfunctions")._state_machines.get(arn)
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


# --- AWS::SageMaker::ModelPackageGroup ----------------------------------------------------------


MODEL_PACKAGE_GROUP_TYPE = "AWS::SageMaker::ModelPackageGroup"
CREATE_ONLY_PROPERTIES = ("ModelPackageGroupName", "ModelPackageGroupDescription")
NAME_PROPERTY = "ModelPackageGroupName"


class ControlPlane(Protocol):
    """The part of `local.sagemaker.api.ControlPlane` this handler uses (its public entry)."""

    def call(self, operation: str, request: dict[str, Any], region: str, account: str) -> dict[str, Any]: ...


class KeptGroups:
    """Names of groups CloudFormation deleted that the local registry could not delete, on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def names(self) -> set[str]:
        try:
            return set(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return set()

    def add(self, name: str) -> None:
        with self._lock:
            self._write(self.names() | {name.lower()})

    def take(self, name: str) -> bool:
        """Whether `name` was kept; it is not any more."""
        with self._lock:
            names = self.names()
            if name.lower() not in names:
                return False
            self._write(names - {name.lower()})
            return True

    def _write(self, names: set[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(sorted(names)), encoding="utf-8")
        scratch.replace(self.path)


class ModelPackageGroupResource:
    """Create, update and delete handlers of `AWS::SageMaker::ModelPackageGroup`.

    The emulator's CloudFormation has no SageMaker resource types, so a stack with a model registry
    group (the pipeline's) was refused outright. The group is created in the local SageMaker's
    registry through its control plane, the very code path of `CreateModelPackageGroup`, so after a
    deploy `CreateModelPackage` with the group's name works exactly as on AWS.

    As on AWS:
    - `Ref` is the group's ARN; `Fn::GetAtt` offers `ModelPackageGroupArn`, `CreationTime` and
      `ModelPackageGroupStatus`.
    - `ModelPackageGroupName` and `ModelPackageGroupDescription` are create-only: changing the name
      replaces the group (new group, then the old one is deleted); changing only the description of a
      named group fails the update ("custom-named resource requires replacing").
    - Deleting the stack deletes the group. While the local SageMaker has no `DeleteModelPackageGroup`,
      the group stays and is remembered as deleted (`KeptGroups`, in the state directory): the next
      stack that creates a group of that name takes it over instead of failing with "already exists",
      so deleting and re-creating a stack (or a failed first deploy that rolled back) works as on AWS.

    Not modelled: `ModelPackageGroupPolicy` (a resource policy: the local AWS does not authorize
    requests) is refused with a clear error rather than silently dropped; `Tags` are accepted (the
    local registry keeps no tags).
    """

    def __init__(
        self,
        control_plane: Callable[[], ControlPlane | None],
        scope: Callable[[], tuple[str, str]],
        kept: KeptGroups,
    ) -> None:
        # Looked up per call: the local SageMaker is installed after this handler is registered,
        # and reinstalled by tests.
        self._control_plane = control_plane
        self._scope = scope
        self._kept = kept

    def register(self, points: ExtensionPoints) -> None:
        points.add_cloudformation_resource(
            MODEL_PACKAGE_GROUP_TYPE,
            self.create,
            self.update,
            self.delete,
            create_only_properties=CREATE_ONLY_PROPERTIES,
            name_property=NAME_PROPERTY,
        )

    def create(self, logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
        name = props.get(NAME_PROPERTY)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{logical_id} ({MODEL_PACKAGE_GROUP_TYPE}): ModelPackageGroupName is required")
        if props.get("ModelPackageGroupPolicy"):
            raise ValueError(
                f"{logical_id} ({MODEL_PACKAGE_GROUP_TYPE}): ModelPackageGroupPolicy is not supported by the local "
                "SageMaker (it does not authorize requests); remove the policy from the local deploy"
            )
        request: dict[str, Any] = {NAME_PROPERTY: name}
        if props.get("ModelPackageGroupDescription"):
            request["ModelPackageGroupDescription"] = str(props["ModelPackageGroupDescription"])
        try:
            created = self._call("CreateModelPackageGroup", request, logical_id)
        except ValueError as error:
            if "already exists" not in str(error) or not self._kept.take(name):
                raise
            # A group a stack deleted before (see the module doc): this stack takes it over.
            logger.info("model package group %s taken over by %s", name, logical_id)
            created = self._call("DescribeModelPackageGroup", {NAME_PROPERTY: name}, logical_id)
        arn = str(created["ModelPackageGroupArn"])
        return arn, self._attributes(name, logical_id)

    def update(
        self, physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], stack_name: str
    ) -> tuple[str, dict[str, Any]]:
        # The engine replaces the group when a create-only property changes; what reaches here is
        # a Tags change, which the local registry does not keep.
        name = str(new_props.get(NAME_PROPERTY) or physical_id.rsplit("/", 1)[-1])
        if new_props.get("ModelPackageGroupPolicy"):
            raise ValueError(
                f"{MODEL_PACKAGE_GROUP_TYPE} {name}: ModelPackageGroupPolicy is not supported by the local SageMaker"
            )
        return physical_id, self._attributes(name, name)

    def delete(self, physical_id: str, props: dict[str, Any]) -> None:
        name = str(props.get(NAME_PROPERTY) or physical_id.rsplit("/", 1)[-1])
        control_plane = self._control_plane()
        if control_plane is None:
            return
        from local.sagemaker.errors import SageMakerError

        region, account = self._scope()
        try:
            control_plane.call("DeleteModelPackageGroup", {NAME_PROPERTY: name}, region, account)
        except SageMakerError as error:
            if error.code in ("NotImplementedException", "UnknownOperationException"):
                # The local registry cannot delete groups yet: the group stays, marked as deleted.
                logger.warning("model package group %s kept (%s); a new stack may take it over", name, error.message)
                self._kept.add(name)
                return
            if "does not exist" in error.message:
                return
            raise ValueError(
                f"deleting {MODEL_PACKAGE_GROUP_TYPE} {name} failed: {error.code}: {error.message}"
            ) from None

    def _attributes(self, name: str, logical_id: str) -> dict[str, Any]:
        described = self._call("DescribeModelPackageGroup", {NAME_PROPERTY: name}, logical_id)
        created = described.get("CreationTime")
        return {
            "ModelPackageGroupArn": described["ModelPackageGroupArn"],
            "ModelPackageGroupStatus": described.get("ModelPackageGroupStatus", "Completed"),
            "CreationTime": _iso(created),
        }

    def _call(self, operation: str, request: dict[str, Any], logical_id: str) -> dict[str, Any]:
        from local.sagemaker.errors import SageMakerError

        control_plane = self._control_plane()
        if control_plane is None:
            raise ValueError(
                f"{logical_id} ({MODEL_PACKAGE_GROUP_TYPE}): the local SageMaker is not installed in this local AWS, "
                "so there is no model registry to create the group in"
            )
        region, account = self._scope()
        try:
            return control_plane.call(operation, request, region, account)
        except SageMakerError as error:
            raise ValueError(
                f"{logical_id} ({MODEL_PACKAGE_GROUP_TYPE}): {operation} failed: {error.message}"
            ) from None


def _iso(value: Any) -> str:
    if isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(value)) + f".{int(value * 1000) % 1000:03d}Z"
    return str(value or "")


def local_control_plane() -> ControlPlane | None:
    """The installed local SageMaker's control plane, or None when the add-on is absent."""
    try:
        import local.sagemaker as sagemaker
    except ModuleNotFoundError:
        return None
    service = sagemaker.installed()
    return service.control_plane if service is not None else None


def register_model_package_groups(points: ExtensionPoints) -> ModelPackageGroupResource:
    kept = KeptGroups(Path(points.home.root) / "emulator" / "cloudformation" / "kept-model-package-groups.json")
    resource = ModelPackageGroupResource(local_control_plane, points.request_scope, kept)
    resource.register(points)
    return resource
