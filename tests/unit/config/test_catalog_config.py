"""`[catalog]`: the Glue database and table of the processed data. Glue accepts 1-255 characters (botocore glue
`NameString`) and lower-cases names; Athena's DDL takes lowercase letters, digits and `_` (Athena user guide,
"Name databases, tables, and columns"): the config accepts the names valid in both, unchanged."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from retrain.config import parse_config
from retrain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def document() -> dict[str, Any]:
    document = tomllib.loads((ROOT / "retrain.toml").read_text())
    document.pop("catalog", None)
    return document


def test_the_defaults_derive_from_the_pipeline_name(document: dict[str, Any]) -> None:
    document["pipeline"]["name"] = "loan-default-2"
    catalog = parse_config(document).catalog
    assert (catalog.database, catalog.table) == ("loan_default_2", "processed")


def test_names_given_are_kept(document: dict[str, Any]) -> None:
    document["catalog"] = {"database": "lake", "table": "fraud_runs"}
    catalog = parse_config(document).catalog
    assert (catalog.database, catalog.table) == ("lake", "fraud_runs")


@pytest.mark.parametrize(
    ("key", "value", "suggested"),
    [
        ("database", "Fraud-Lake", "fraud_lake"),
        ("table", "processed data", "processed_data"),
        ("table", "_hidden", "hidden"),
        ("database", "", "processed"),
        ("table", "t" * 256, "t" * 255),
    ],
)
def test_a_name_glue_or_athena_would_change_or_refuse_is_named(
    document: dict[str, Any], key: str, value: str, suggested: str
) -> None:
    document["catalog"] = {key: value}
    with pytest.raises(ConfigError, match=rf"catalog\.{key}: .* is not a Glue/Athena name: .*'{suggested}'"):
        parse_config(document)


def test_an_unknown_key_is_refused(document: dict[str, Any]) -> None:
    document["catalog"] = {"crawler": True}
    with pytest.raises(ConfigError, match=r"catalog\.crawler: unknown key"):
        parse_config(document)
