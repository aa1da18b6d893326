"""CloudFormation resources backed by the local SageMaker: `AWS::SageMaker::ModelPackageGroup`.

The emulator's CloudFormation has no SageMaker resource types, so a stack with a model registry
group (the pipeline's) was refused outright. This handler creates the group in the local SageMaker's
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
requests) is refused with a clear error rather than silently dropped; `Tags` are accepted (the local
registry keeps no tags).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger("retrain.local")

RESOURCE_TYPE = "AWS::SageMaker::ModelPackageGroup"
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


class ResourcePoints(Protocol):
    """The part of `local.extensions.ExtensionPoints` this module uses."""

    @property
    def home(self) -> Any: ...

    def add_cloudformation_resource(
        self,
        resource_type: str,
        create: Callable[[str, dict[str, Any], str], tuple[str, dict[str, Any]]],
        update: Callable[..., tuple[str, dict[str, Any]]] | None = None,
        delete: Callable[[str, dict[str, Any]], None] | None = None,
        *,
        create_only_properties: tuple[str, ...] = (),
        name_property: str | None = None,
    ) -> None: ...


class ModelPackageGroupResource:
    """Create, update and delete handlers of `AWS::SageMaker::ModelPackageGroup`."""

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

    def register(self, points: ResourcePoints) -> None:
        points.add_cloudformation_resource(
            RESOURCE_TYPE,
            self.create,
            self.update,
            self.delete,
            create_only_properties=CREATE_ONLY_PROPERTIES,
            name_property=NAME_PROPERTY,
        )

    def create(self, logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
        name = props.get(NAME_PROPERTY)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{logical_id} ({RESOURCE_TYPE}): ModelPackageGroupName is required")
        if props.get("ModelPackageGroupPolicy"):
            raise ValueError(
                f"{logical_id} ({RESOURCE_TYPE}): ModelPackageGroupPolicy is not supported by the local "
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
            raise ValueError(f"{RESOURCE_TYPE} {name}: ModelPackageGroupPolicy is not supported by the local SageMaker")
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
            raise ValueError(f"deleting {RESOURCE_TYPE} {name} failed: {error.code}: {error.message}") from None

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
                f"{logical_id} ({RESOURCE_TYPE}): the local SageMaker is not installed in this local AWS, "
                "so there is no model registry to create the group in"
            )
        region, account = self._scope()
        try:
            return control_plane.call(operation, request, region, account)
        except SageMakerError as error:
            raise ValueError(f"{logical_id} ({RESOURCE_TYPE}): {operation} failed: {error.message}") from None


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


def request_scope() -> tuple[str, str]:
    """The region and account of the CloudFormation request being served."""
    from ministack.core.responses import get_account_id, get_region

    return get_region(), get_account_id()


def register(points: ResourcePoints) -> ModelPackageGroupResource:
    kept = KeptGroups(Path(points.home.root) / "emulator" / "cloudformation" / "kept-model-package-groups.json")
    resource = ModelPackageGroupResource(local_control_plane, request_scope, kept)
    resource.register(points)
    return resource
