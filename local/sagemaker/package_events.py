"""The events the model registry sends to EventBridge, as SageMaker sends them.

"Events that Amazon SageMaker sends to Amazon EventBridge", section "SageMaker model package state
change" (SageMaker developer guide, automating-sagemaker-with-eventbridge): source `aws.sagemaker`,
detail-type "SageMaker Model Package State Change", the package's ARN as the one resource, and a
detail that describes the package as DescribeModelPackage does (ModelPackageGroupName,
ModelPackageVersion, ModelPackageArn, ModelApprovalStatus, ApprovalDescription, CreatedBy,
LastModifiedBy, ... with times in epoch milliseconds). The local registry sends one when
UpdateModelPackage changes a package's ModelApprovalStatus: what a rule on a group's approvals sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
_TIMES = ("CreationTime", "LastModifiedTime")

# put(source, detail_type, detail, resources): the emulator's default bus, as a service publishes.
Publisher = Callable[[str, str, dict[str, Any], list[str]], None]


def state_change_detail(package: dict[str, Any]) -> dict[str, Any]:
    """The event's detail for a package record: its description, times in epoch milliseconds."""
    detail = {key: value for key, value in package.items() if value is not None and not key.startswith("_")}
    for key in _TIMES:
        if isinstance(detail.get(key), int | float):
            detail[key] = int(detail[key] * 1000)
    return detail


class ModelPackageEvents:
    """Sends a package's state change once the emulator has connected a publisher (none in unit use)."""

    def __init__(self) -> None:
        self._publish: Publisher | None = None

    def connect(self, publish: Publisher) -> None:
        self._publish = publish

    def approval_changed(self, before: str | None, after: dict[str, Any]) -> None:
        """After an update: `before` was the package's ModelApprovalStatus, `after` is the package."""
        if self._publish is None or before == after.get("ModelApprovalStatus"):
            return
        self._publish(SOURCE, DETAIL_TYPE, state_change_detail(after), [after["ModelPackageArn"]])
