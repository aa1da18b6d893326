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
