"""SageMaker ARNs. SageMaker lower-cases the resource name inside an ARN."""

from __future__ import annotations


def sagemaker_arn(resource_type: str, name: str, region: str, account: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:{resource_type}/{name.lower()}"


def name_from_arn_or_name(value: str) -> str:
    """`ModelPackageGroupName` and friends accept a name or an ARN: return the name part."""
    if value.startswith("arn:"):
        return value.rsplit("/", 1)[-1]
    return value
