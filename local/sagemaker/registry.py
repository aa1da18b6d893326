"""The model registry: model package groups and their versioned model packages.

A package created in a group is the group's next version, `arn:...:model-package/<group>/<n>`,
`PendingManualApproval` unless the request says otherwise; `UpdateModelPackage` moves its approval
status and records who did it and why (`ApprovalDescription`), and a change of the approval status
is sent to EventBridge as SageMaker sends it (`package_events`).
"""

from __future__ import annotations

import time
from typing import Any

from local.sagemaker.arns import sagemaker_arn
from local.sagemaker.errors import SageMakerError
from local.sagemaker.listing import ListRequest
from local.sagemaker.package_events import ModelPackageEvents
from local.sagemaker.store import Record, StateStore

GROUP, PACKAGE = "ModelPackageGroup", "ModelPackage"
_UPDATABLE = (
    "ModelApprovalStatus",
    "ApprovalDescription",
    "CustomerMetadataProperties",
    "InferenceSpecification",
    "SourceUri",
    "ModelCard",
    "ModelLifeCycle",
)


def _caller(account: str) -> dict[str, Any]:
    return {"UserProfileArn": f"arn:aws:iam::{account}:root", "UserProfileName": "local"}


class ModelRegistry:
    def __init__(self, store: StateStore, events: ModelPackageEvents | None = None) -> None:
        self._store = store
        self._events = events or ModelPackageEvents()

    # --- groups -----------------------------------------------------------------------------

    def create_group(self, request: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        name = request["ModelPackageGroupName"]
        arn = sagemaker_arn("model-package-group", name, region, account)
        now = time.time()
        record = {
            **request,
            "ModelPackageGroupArn": arn,
            "CreationTime": now,
            "CreatedBy": _caller(account),
            "ModelPackageGroupStatus": "Completed",
            "_Region": region,
            "_Account": account,
        }
        if not self._store.put_new(GROUP, name, record):
            raise SageMakerError.validation(f"Model Package Group already exists: {arn}")
        return {"ModelPackageGroupArn": arn}

    def group(self, name_or_arn: str, region: str, account: str) -> Record:
        name = name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
        record = self._store.get(GROUP, name)
        if record is None:
            for candidate in self._store.all(GROUP):
                by_arn = candidate["ModelPackageGroupArn"] == name_or_arn
                if by_arn or candidate["ModelPackageGroupName"].lower() == name.lower():
                    return candidate
            raise SageMakerError.validation(
                f"ModelPackageGroup {sagemaker_arn('model-package-group', name, region, account)} does not exist."
            )
        return record

    def list_groups(self, request: dict[str, Any]) -> tuple[list[Record], str | None]:
        listing = ListRequest(request, "ModelPackageGroupName")
        return listing.page(listing.select(self._store.all(GROUP)))

    # --- packages ---------------------------------------------------------------------------

    def create_package(self, request: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        now = time.time()
        group_name = request.get("ModelPackageGroupName")
        if group_name and request.get("ModelPackageName"):
            raise SageMakerError.validation(
                "Specify either ModelPackageGroupName (a versioned package) or "
                "ModelPackageName (an unversioned one), not both."
            )
        record: dict[str, Any] = {key: value for key, value in request.items() if key not in ("ClientToken",)}
        if group_name:
            group = self.group(group_name, region, account)
            name = group["ModelPackageGroupName"]
            version = 1 + max(
                (
                    p.get("ModelPackageVersion", 0)
                    for p in self._store.all(PACKAGE)
                    if p.get("ModelPackageGroupName") == name
                ),
                default=0,
            )
            arn = f"{group['ModelPackageGroupArn'].replace(':model-package-group/', ':model-package/')}/{version}"
            record.update(
                {
                    "ModelPackageGroupName": name,
                    "ModelPackageName": name,
                    "ModelPackageVersion": version,
                    "ModelApprovalStatus": request.get("ModelApprovalStatus") or "PendingManualApproval",
                }
            )
        elif request.get("ModelPackageName"):
            name = request["ModelPackageName"]
            arn = sagemaker_arn("model-package", name, region, account)
            if self._store.exists(PACKAGE, arn):
                raise SageMakerError.validation(f'Cannot create already existing model package "{arn}".')
        else:
            raise SageMakerError.validation(
                "CreateModelPackage needs ModelPackageGroupName (a versioned package) "
                "or ModelPackageName (an unversioned one)."
            )
        record.update(
            {
                "ModelPackageArn": arn,
                "CreationTime": now,
                "LastModifiedTime": now,
                "CreatedBy": _caller(account),
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "_Region": region,
                "_Account": account,
            }
        )
        self._store.put(PACKAGE, arn, record)
        return {"ModelPackageArn": arn}

    def package(self, name_or_arn: str, region: str, account: str) -> Record:
        record = self._store.get(PACKAGE, name_or_arn)
        if record is None and not name_or_arn.startswith("arn:"):
            record = self._store.get(PACKAGE, sagemaker_arn("model-package", name_or_arn, region, account))
        if record is None:
            shown = (
                name_or_arn
                if name_or_arn.startswith("arn:")
                else sagemaker_arn("model-package", name_or_arn, region, account)
            )
            raise SageMakerError.validation(f"ModelPackage {shown} does not exist.")
        return record

    def update_package(self, request: dict[str, Any], region: str, account: str) -> dict[str, Any]:
        arn = request["ModelPackageArn"]
        current = self.package(arn, region, account)
        if "ModelPackageGroupName" not in current and "ModelApprovalStatus" in request:
            raise SageMakerError.validation("ModelApprovalStatus applies to versioned model packages only.")

        def change(record: Record) -> None:
            for key in _UPDATABLE:
                if key in request:
                    record[key] = request[key]
            for key in request.get("CustomerMetadataPropertiesToRemove") or []:
                (record.get("CustomerMetadataProperties") or {}).pop(key, None)
            if request.get("AdditionalInferenceSpecificationsToAdd"):
                record.setdefault("AdditionalInferenceSpecifications", []).extend(
                    request["AdditionalInferenceSpecificationsToAdd"]
                )
            record["LastModifiedTime"] = time.time()
            record["LastModifiedBy"] = _caller(account)

        updated = self._store.update(PACKAGE, current["ModelPackageArn"], change)
        self._events.approval_changed(current.get("ModelApprovalStatus"), updated)
        return {"ModelPackageArn": current["ModelPackageArn"]}

    def list_packages(self, request: dict[str, Any], region: str, account: str) -> tuple[list[Record], str | None]:
        group_filter = request.get("ModelPackageGroupName")
        group_name = self.group(group_filter, region, account)["ModelPackageGroupName"] if group_filter else None
        package_type = request.get("ModelPackageType") or ("Versioned" if group_name else "Both")

        def wanted(record: Record) -> bool:
            versioned = "ModelPackageGroupName" in record
            if group_name is not None and record.get("ModelPackageGroupName") != group_name:
                return False
            if package_type == "Versioned" and not versioned:
                return False
            if package_type == "Unversioned" and versioned:
                return False
            status = request.get("ModelApprovalStatus")
            return not (status and record.get("ModelApprovalStatus") != status)

        listing = ListRequest(request, "ModelPackageName")
        return listing.page(listing.select(self._store.all(PACKAGE), wanted))
