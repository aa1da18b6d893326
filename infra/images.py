"""The SageMaker scikit-learn framework image, for any region, without calling AWS at synth.

The registry accounts come from the table the SageMaker Python SDK ships
(`sagemaker/image_uri_config/sklearn.json`, the data behind `sagemaker.image_uris.retrieve`, which
mirrors AWS's "Docker Registry Paths and Example Code" pages for Scikit-learn). The file is read
directly: importing `sagemaker` would be slow and may look for credentials. The stack stays
region-agnostic: the accounts become a CloudFormation mapping and the region is picked at deploy.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, CfnMapping, Fn
from constructs import Construct

REPOSITORY = "sagemaker-scikit-learn"
# Training, processing and serving all use the CPU image of the same framework version.
IMAGE_SCOPE = "training"
TAG_SUFFIX = "-cpu-py3"


def sdk_image_table() -> Path:
    """The SDK's bundled sklearn.json, located without importing the `sagemaker` package."""
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the sagemaker package is not installed; install the project's build extra "
            "(pip install -e '.[build]') so the stack can look up the scikit-learn image registries"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "image_uri_config" / "sklearn.json"
    if not path.is_file():
        raise RuntimeError(f"{path}: missing from the installed sagemaker package")
    return path


@dataclass(frozen=True)
class SklearnImageRegistry:
    """Region → registry account of one scikit-learn framework version."""

    framework_version: str
    accounts: dict[str, str]

    @classmethod
    def from_sdk(cls, framework_version: str, table: Path | None = None) -> SklearnImageRegistry:
        document = json.loads((table or sdk_image_table()).read_text(encoding="utf-8"))
        versions = document[IMAGE_SCOPE]["versions"]
        if framework_version not in versions:
            known = ", ".join(sorted(versions))
            raise ValueError(
                f"training.framework_version {framework_version!r} is not a SageMaker scikit-learn "
                f"version; use one of {known}"
            )
        return cls(framework_version, dict(sorted(versions[framework_version]["registries"].items())))

    @property
    def tag(self) -> str:
        return self.framework_version + TAG_SUFFIX

    def image_uri(self, region: str) -> str:
        """The literal URI for one region (what `sagemaker.image_uris.retrieve` returns)."""
        domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        return f"{self.accounts[region]}.dkr.ecr.{region}.{domain}/{REPOSITORY}:{self.tag}"


class SklearnImage(Construct):
    """The image URI and the ECR repository ARN for the region the stack is deployed to."""

    def __init__(self, scope: Construct, construct_id: str, registry: SklearnImageRegistry) -> None:
        super().__init__(scope, construct_id)
        self.registry = registry
        mapping = CfnMapping(
            self,
            "Registries",
            mapping={region: {"account": account} for region, account in registry.accounts.items()},
        )
        # A region without this image fails the deploy at this lookup, before anything is created.
        self.account = mapping.find_in_map(Aws.REGION, "account")
        self.image_uri = Fn.join(
            "", [self.account, ".dkr.ecr.", Aws.REGION, ".", Aws.URL_SUFFIX, f"/{REPOSITORY}:{registry.tag}"]
        )
        self.repository_arn = Fn.join(
            "", ["arn:", Aws.PARTITION, ":ecr:", Aws.REGION, ":", self.account, f":repository/{REPOSITORY}"]
        )
