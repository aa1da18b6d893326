"""Fixtures of the local SageMaker contract tests: a bucket with the test code on the session's local
AWS (the root conftest starts it, shared with the other local tests)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.iam import RoleFactory, ecr_pulls
from tests.support.sagemaker import (
    IMAGE_REPOSITORY_ARN,
    INFERENCE_SCRIPT,
    PROCESS_SCRIPT,
    TRAIN_SCRIPT,
    SageMakerWorld,
    targz,
)


@pytest.fixture(scope="module")
def world(local_aws: Any) -> Iterator[SageMakerWorld]:
    bucket = f"sagemaker-contract-{uuid.uuid4().hex[:8]}"
    world = SageMakerWorld(local_aws.endpoint, bucket)
    world.client("s3").create_bucket(Bucket=bucket)
    world.put("code/train.tar.gz", targz({"train.py": TRAIN_SCRIPT}))
    world.put("code/inference.tar.gz", targz({"inference.py": INFERENCE_SCRIPT}))
    world.put("code/process.py", PROCESS_SCRIPT.encode())
    world.put("data/train/part-0.csv", b"1,0\n2,1\n")
    world.put("data/train/part-1.csv", b"3,0\n")
    yield world


@pytest.fixture
def execution_role(roles: RoleFactory) -> Callable[..., str]:
    """A role SageMaker may assume and pull the test image as, with `statements` more; returns its ARN."""
    return functools.partial(roles.create, "sagemaker.amazonaws.com", *ecr_pulls(IMAGE_REPOSITORY_ARN))
