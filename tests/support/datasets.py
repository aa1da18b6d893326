"""A small dataset that is not the demo's (orders and their returns), and configs that describe it:
what the tests of `retrain land` and of the demo-only rules land."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
ORDERS_DATASET = """[dataset]
target = "returned"
timestamp_column = "placed_at"
id_column = "order_id"
validation_fraction = 0.15
test_fraction = 0.15

[dataset.schema]
order_id = "string"
placed_at = "timestamp"
amount = "double"
items = "long"
gift = "boolean"
returned = "long"
"""


def config_file(folder: Path, dataset: str | None = ORDERS_DATASET, input_format: str = "csv") -> Path:
    """retrain.toml with another `[dataset]` (None keeps the demo's) and input format, written into `folder`."""
    text = (ROOT / "retrain.toml").read_text(encoding="utf-8")
    if dataset is not None:
        start, end = text.index("[dataset]\n"), text.index("[promotion]\n")
        text = text[:start] + dataset + "\n" + text[end:]
    text = text.replace('input_format = "csv"', f'input_format = "{input_format}"', 1)
    path = folder / f"{input_format}-retrain.toml"
    path.write_text(text, encoding="utf-8")
    return path


def orders(days: list[date], per_day: int = 3) -> pd.DataFrame:
    """`per_day` orders on each day, every value well-formed; all columns as text, as in a CSV."""
    rows = []
    for day in days:
        for n in range(per_day):
            placed = datetime.combine(day, time(hour=8 + n)) + timedelta(minutes=7 * n)
            rows.append(
                {
                    "order_id": f"o-{day:%Y%m%d}-{n}",
                    "placed_at": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "amount": f"{12.5 + n:.2f}",
                    "items": str(1 + n),
                    "gift": "true" if n % 2 else "false",
                    "returned": str(n % 2),
                }
            )
    return pd.DataFrame(rows)


def transactions(days: list[date], per_day: int = 3) -> pd.DataFrame:
    """Well-formed rows of the demo's schema (the generator's own days carry malformed rows on purpose)."""
    rows = []
    for day in days:
        for n in range(per_day):
            rows.append(
                {
                    "transaction_id": f"t-{day:%Y%m%d}-{n}",
                    "event_time": f"{day.isoformat()}T{10 + n:02d}:00:00Z",
                    "customer_id": f"c-{n}",
                    "merchant_category": "grocery",
                    "amount": f"{20.0 + n:.2f}",
                    "distance_from_home_km": "3.5",
                    "account_age_days": str(100 + n),
                    "device_type": "mobile",
                    "country_mismatch": "false",
                    "is_fraud": str(n % 2),
                }
            )
    return pd.DataFrame(rows)


# Loan applications: a dataset unlike the demo in every name and in its target, text labels mapped by
# positive_label; an applicant key excluded by the config; no column the demo has.
LOANS_DATASET = """[dataset]
target = "outcome"
timestamp_column = "submitted_at"
id_column = "application_id"
exclude_columns = ["applicant_ref"]
log_columns = ["income_k"]
positive_label = "default"
validation_fraction = 0.15
test_fraction = 0.15

[dataset.schema]
application_id = "string"
submitted_at = "timestamp"
applicant_ref = "string"
region = "string"
income_k = "double"
credit_score = "long"
term_months = "long"
has_guarantor = "boolean"
outcome = "string"
"""


def loans_config(folder: Path, pipeline: str = "loan-retrain", endpoint: str = "loan-scorer") -> Path:
    """A config for the loans dataset whose every resource name differs from the demo stack's (the
    pipeline's prefix, the endpoint and its alarms), so both stacks can share one local AWS."""
    path = config_file(folder, LOANS_DATASET)
    text = (
        path.read_text(encoding="utf-8").replace('"fraud-retrain"', f'"{pipeline}"').replace("fraud-detector", endpoint)
    )
    target = folder / f"{pipeline}.toml"
    target.write_text(text, encoding="utf-8")
    path.unlink()
    return target


def loan_applications(start: date, days: int, per_day: int, seed: int = 7) -> pd.DataFrame:
    """`per_day` applications a day with a learnable signal: defaults (about a fifth) come with low
    credit scores, no guarantor, low incomes and long terms. All values as text, as in a CSV."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = days * per_day
    day = np.repeat(np.arange(days), per_day)
    seconds = rng.integers(0, 86_400, rows)
    credit = rng.normal(660, 70, rows).clip(300, 850).round().astype(int)
    income = rng.lognormal(4.0, 0.5, rows).round(1)
    term = rng.choice([12, 24, 36, 60], rows)
    guarantor = rng.random(rows) < 0.4
    region = rng.choice(["north", "south", "east", "west"], rows)
    logit = -0.8 + (620 - credit) / 25 - 1.5 * guarantor - 0.02 * (income - 55) + 0.03 * (term - 36)
    default = rng.random(rows) < 1 / (1 + np.exp(-logit))
    submitted = [
        (datetime.combine(start + timedelta(days=int(d)), time()) + timedelta(seconds=int(s))).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        for d, s in zip(day, seconds, strict=True)
    ]
    return pd.DataFrame(
        {
            "application_id": [f"app-{n:06d}" for n in range(rows)],
            "submitted_at": submitted,
            "applicant_ref": [f"p-{n}" for n in rng.integers(0, rows, rows)],
            "region": region,
            "income_k": [f"{value:.1f}" for value in income],
            "credit_score": credit.astype(str),
            "term_months": term.astype(str),
            "has_guarantor": np.where(guarantor, "yes", "no"),
            "outcome": np.where(default, "default", "repaid"),
        }
    )
