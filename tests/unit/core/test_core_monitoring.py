"""retrain.monitoring: the monitoring job's container as a schedule names it."""

from __future__ import annotations

import pytest

from retrain.monitoring import monitoring_app_specification

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def test_the_entry_point_fits_botocores_limit_of_256_characters_a_member() -> None:
    spec = monitoring_app_specification(IMAGE, "s3://bucket/code/sourcedir.tar.gz")
    assert spec["ContainerEntrypoint"][:2] == ["python3", "-c"]  # type: ignore[index]
    assert all(len(member) <= 256 for member in spec["ContainerEntrypoint"])  # type: ignore[attr-defined]
    assert spec["ContainerArguments"] == ["s3://bucket/code/sourcedir.tar.gz", "monitor.py"]


def test_a_sourcedir_that_is_not_an_s3_uri_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"'code/sourcedir\.tar\.gz' is not an s3://bucket/key URI"):
        monitoring_app_specification(IMAGE, "code/sourcedir.tar.gz")
