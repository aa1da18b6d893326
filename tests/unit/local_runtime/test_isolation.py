"""A SageMaker image's runtime profile: its own list of distributions, and the image naming its framework version."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.runtime.isolation import RuntimeProfile
from local.sagemaker.images import UnknownImage, framework_version, profile_path

PROFILE = Path(__file__).resolve().parents[3] / "local" / "sagemaker" / "profiles" / "sklearn-1.2-1.toml"


def test_the_profile_is_the_images_own_list() -> None:
    profile = RuntimeProfile.load(PROFILE)
    # docker/1.2-1/base/Dockerfile.cpu and requirements.txt of aws/sagemaker-scikit-learn-container, branch 1.2-1
    assert profile.python == "3.9"
    assert profile.packages["scikit-learn"] == "==1.2.1"
    assert profile.packages["pandas"] == "==1.1.3"
    assert profile.packages["pyarrow"] == "==14.0.1"
    assert "matplotlib" not in profile.packages
    assert profile.source["branch"] == "1.2-1"


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "1.2-1"),
        ("sagemaker-scikit-learn:1.2-1", "1.2-1"),
        ("sklearn", "1.2-1"),  # not the framework's repository: the container the local SageMaker plays
        (None, "1.2-1"),
        ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3", "1.4-2"),
    ],
)
def test_the_image_names_the_framework_version(image: str | None, version: str) -> None:
    assert framework_version(image) == version


def test_a_framework_version_without_a_profile_is_refused() -> None:
    with pytest.raises(UnknownImage, match=r"no runtime profile for scikit-learn 0\.23-1 .*\(1\.2-1\)"):
        profile_path("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.23-1-cpu-py3")
