"""baseline.py: a model's data-quality baseline in Model Monitor's statistics.json / constraints.json
formats (SageMaker developer guide, "Schema for Statistics" and "Schema for Constraints")."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from baseline import data_quality_baseline, write_baseline


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": [10.0, 20.0, None, 30.0],
            "account_age_days": pd.array([1, 2, 3, 4], dtype="int64"),
            "device_type": ["ios", "web", "ios", None],
            "country_mismatch": [True, False, False, True],
            "delta": [-1.0, 0.0, 1.0, 2.0],
        }
    )


def test_numbers_have_their_moments_buckets_and_sign(frame: pd.DataFrame) -> None:
    statistics, constraints = data_quality_baseline(frame, ["amount", "account_age_days", "delta"])
    assert statistics["version"] == 0.0 and statistics["dataset"] == {"item_count": 4}
    amount, age, delta = statistics["features"]
    assert (amount["name"], amount["inferred_type"], age["inferred_type"]) == ("amount", "Fractional", "Integral")
    numbers = amount["numerical_statistics"]
    assert numbers["common"] == {"num_present": 3, "num_missing": 1}
    assert (numbers["mean"], numbers["sum"], numbers["min"], numbers["max"]) == (20.0, 60.0, 10.0, 30.0)
    assert numbers["std_dev"] == pytest.approx(8.1649658)
    buckets = numbers["distribution"]["kll"]["buckets"]
    assert sum(bucket["count"] for bucket in buckets) == 3
    assert buckets[0]["lower_bound"] == 10.0 and buckets[-1]["upper_bound"] == 30.0
    amount_limits, _, delta_limits = constraints["features"]
    assert amount_limits["completeness"] == 0.75 and amount_limits["num_constraints"] == {"is_non_negative": True}
    assert delta_limits["num_constraints"] == {"is_non_negative": False}
    assert delta["numerical_statistics"]["min"] == -1.0


def test_strings_and_flags_have_their_distribution_and_domain(frame: pd.DataFrame) -> None:
    statistics, constraints = data_quality_baseline(frame, ["device_type", "country_mismatch"])
    device, flag = statistics["features"]
    strings = device["string_statistics"]
    assert device["inferred_type"] == "String" and strings["distinct_count"] == 2.0
    assert strings["common"] == {"num_present": 3, "num_missing": 1}
    assert {b["value"]: b["count"] for b in strings["distribution"]["categorical"]["buckets"]} == {"ios": 2, "web": 1}
    # A CSV request carries a flag as text (`true`/`false`, as the demo stream and JSON spell it): typed String,
    # with its two values as the domain.
    assert flag["inferred_type"] == "String"
    device_limits, flag_limits = constraints["features"]
    assert device_limits["string_constraints"] == {"domains": ["ios", "web"]}
    assert flag_limits["string_constraints"] == {"domains": ["false", "true"]}
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"


def test_a_constant_column_and_too_many_values_stay_valid(tmp_path: Path) -> None:
    frame = pd.DataFrame({"constant": [5.0] * 4, "ids": [f"t{n}" for n in range(4)]})
    frame = pd.concat([frame] * 50, ignore_index=True).assign(ids=[f"t{n}" for n in range(200)])
    files = write_baseline(frame, ["constant", "ids"], tmp_path / "baseline")
    statistics = json.loads((tmp_path / "baseline" / files["statistics"]).read_text())
    constraints = json.loads((tmp_path / "baseline" / files["constraints"]).read_text())
    [bucket] = statistics["features"][0]["numerical_statistics"]["distribution"]["kll"]["buckets"]
    assert bucket == {"lower_bound": 5.0, "upper_bound": 5.0, "count": 200}
    # An identifier-like column (200 distinct values) gets no domain to violate.
    assert "string_constraints" not in constraints["features"][1]
