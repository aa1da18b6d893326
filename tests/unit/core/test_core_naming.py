from __future__ import annotations

import re

import pytest

from retrain.naming import BASE_MAX_LENGTH, SAGEMAKER_NAME_MAX_LENGTH, name_base, run_names

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def test_a_plain_execution_name_is_kept() -> None:
    assert name_base("fraud-retrain-2024-06-01") == "fraud-retrain-2024-06-01"


def test_names_are_deterministic() -> None:
    assert run_names("manual-x_y.z") == run_names("manual-x_y.z")


@pytest.mark.parametrize(
    "execution_name",
    [
        "fraud-retrain-schedule-2024-06-01T03-00-00Z-0123456789abcdef-0123456789abcdef-01234",  # 80 chars
        "run_with_underscores",
        "run.with.dots",
        "-leading-and-trailing-",
        "données-été",
        "___",
        "ünïcödé",
        "a",
        "x" * 40,
        "x" * 41,
    ],
)
def test_every_name_fits_sagemaker(execution_name: str) -> None:
    names = run_names(execution_name)

    assert len(names.base) <= BASE_MAX_LENGTH
    assert re.fullmatch(r"[a-zA-Z0-9-]+", names.base)
    for name in names.model_dump().values():
        assert SAGEMAKER_NAME.match(name), name
        # The definition appends "-<attempt>" (the redrive count) to the training job prefix.
        assert len(name) + len("-999") <= SAGEMAKER_NAME_MAX_LENGTH


def test_sanitized_or_truncated_names_carry_a_hash_so_they_never_collide() -> None:
    assert name_base("run_1") != name_base("run-1")
    assert name_base("run_1").startswith("run-1-")
    long_a, long_b = "x" * 60 + "a", "x" * 60 + "b"
    assert name_base(long_a) != name_base(long_b)
    assert len(name_base(long_a)) == BASE_MAX_LENGTH
    assert re.fullmatch(r"run-[0-9a-f]{8}", name_base("___"))


def test_suffixes() -> None:
    names = run_names("r1")

    assert (names.training_job_prefix, names.processing_job_prefix) == ("r1-train", "r1-eval")
    assert (names.model, names.endpoint_config) == ("r1-model", "r1-config")


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        name_base("")
