"""The failures the Glue job (`prepare_data.py`) ends with, as failure lines (`failure_line.py`).

Each class name is a pipeline error (`retrain.errors`), so the pipeline maps the line to it.
"""

from __future__ import annotations

from failure_line import JobFailure


class SchemaMismatch(JobFailure):
    """Landing data lacks a configured column or holds it with another type."""


class DataQualityError(JobFailure):
    """Too little usable data for a model to be trained and evaluated on."""


class InvalidJobArguments(JobFailure):
    """The job was started with arguments it cannot use (a definition/job mismatch)."""
