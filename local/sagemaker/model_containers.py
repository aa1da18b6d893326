"""The container a model runs: its own definition, or the model package version it names.

A model created with `PrimaryContainer` (or `Containers`) `{"ModelPackageName": <package ARN or
name>}` runs, as on SageMaker, the package's `InferenceSpecification.Containers[0]` (its image,
model data and environment), or that of the `AdditionalInferenceSpecifications` entry that
`InferenceSpecificationName` picks; an `Environment` given beside `ModelPackageName` is added on top
of the package's. `CreateModel` checks that the package exists and names a container, and nothing
about its approval status: the SageMaker API reference sets no condition on it (gating a deployment
on approval is the pipeline's job). The package is read again when an endpoint's fleet stages the
model, so the fleet runs what the registry holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from local.sagemaker.errors import SageMakerError
from local.sagemaker.registry import ModelRegistry
from local.sagemaker.store import Record

# What a package's container contributes to the container that runs (ModelPackageContainerDefinition).
_FROM_PACKAGE = ("ContainerHostname", "Image", "ModelDataUrl", "ModelDataSource", "Environment")


class ModelContainers:
    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry

    @staticmethod
    def _declared(model: Record) -> Iterator[tuple[str, dict[str, Any]]]:
        if model.get("PrimaryContainer"):
            yield "PrimaryContainer", model["PrimaryContainer"]
        for index, container in enumerate(model.get("Containers") or [], start=1):
            yield f"Containers.{index}", container

    def check(self, request: dict[str, Any], region: str, account: str) -> None:
        """At CreateModel: every container that names a model package names one that can serve."""
        for where, container in self._declared(request):
            if container.get("ModelPackageName"):
                self._package_container(container, region, account, where)

    def primary(self, model: Record) -> dict[str, Any]:
        """The model's (first) container as it runs, with a named package resolved; SageMakerError if it
        no longer resolves."""
        where, container = next(self._declared(model), ("PrimaryContainer", {}))
        if not container.get("ModelPackageName"):
            return dict(container)
        spec = self._package_container(container, model["_Region"], model["_Account"], where)
        running = {key: spec[key] for key in _FROM_PACKAGE if key in spec}
        running["Environment"] = {**(spec.get("Environment") or {}), **(container.get("Environment") or {})}
        running["ModelPackageName"] = container["ModelPackageName"]
        return running

    def _package_container(self, container: dict[str, Any], region: str, account: str, where: str) -> dict[str, Any]:
        package = self._registry.package(container["ModelPackageName"], region, account)
        arn = package["ModelPackageArn"]
        wanted = container.get("InferenceSpecificationName")
        if wanted:
            named = [
                spec for spec in package.get("AdditionalInferenceSpecifications") or [] if spec.get("Name") == wanted
            ]
            if not named:
                known = [spec.get("Name") for spec in package.get("AdditionalInferenceSpecifications") or []]
                raise SageMakerError.validation(
                    f"{where}: InferenceSpecificationName {wanted} is not an additional inference specification of "
                    f"model package {arn} (it has: {', '.join(known) or 'none'})."
                )
            spec = named[0]
        else:
            spec = package.get("InferenceSpecification") or {}
        containers = spec.get("Containers") or []
        if not containers:
            raise SageMakerError.validation(
                f"{where}: model package {arn} has no inference specification with a container; a model can only "
                "be created from a package whose InferenceSpecification names its image and model data."
            )
        return dict(containers[0])
