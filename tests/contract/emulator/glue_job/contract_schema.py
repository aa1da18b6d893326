"""Shipped to the job with --extra-py-files, as a zip."""

from __future__ import annotations


class SchemaMismatch(Exception):
    pass


def missing_columns(columns: list[str], required: str) -> list[str]:
    return [column for column in required.split(",") if column not in columns]
