"""`ModelPackageRegistry` on the SageMaker Model Registry."""

from __future__ import annotations

from typing import Any


class SageMakerModelPackageRegistry:
    def __init__(self, client: Any) -> None:
        self._sagemaker = client

    def approve(self, model_package_arn: str, description: str) -> None:
        # Approving an Approved package again is accepted, which makes a retry harmless.
        self._sagemaker.update_model_package(
            ModelPackageArn=model_package_arn,
            ModelApprovalStatus="Approved",
            ApprovalDescription=description,
        )
