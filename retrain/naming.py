"""Resource names derived from the execution name.

The same execution always gets the same names, so a retried or redriven state finds the job it
started instead of training twice. SageMaker names allow `[a-zA-Z0-9-]`, at most 63 characters;
execution names allow up to 80 characters and more symbols (`_`, `.`, non-ASCII letters), so the
base is sanitized and shortened. Whenever that changes the name, a hash of the original execution
name is appended, so two executions can never end up sharing names.
"""

from __future__ import annotations

import hashlib
import re

from retrain.contracts import RunNames

BASE_MAX_LENGTH = 40
SAGEMAKER_NAME_MAX_LENGTH = 63
HASH_LENGTH = 8
# Suffixes appended to the base; the training job also gets "-<RedriveCount>" in the definition.
SUFFIXES = {
    "training_job_prefix": "-train",
    "processing_job_prefix": "-eval",
    "model": "-model",
    "endpoint_config": "-config",
}
_INVALID = re.compile(r"[^a-zA-Z0-9]+")


def name_base(execution_name: str) -> str:
    """At most 40 characters of `[a-zA-Z0-9-]`, starting and ending with a letter or digit."""
    if not execution_name:
        raise ValueError("execution name is empty")
    sanitized = _INVALID.sub("-", execution_name).strip("-")
    if sanitized == execution_name and len(sanitized) <= BASE_MAX_LENGTH:
        return sanitized
    digest = hashlib.sha256(execution_name.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    head = sanitized[: BASE_MAX_LENGTH - HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{digest}" if head else f"run-{digest}"


def run_names(execution_name: str) -> RunNames:
    base = name_base(execution_name)
    names = {field: base + suffix for field, suffix in SUFFIXES.items()}
    return RunNames(base=base, **names)
