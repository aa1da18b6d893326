"""`retrain land`: files checked against `[dataset.schema]` (file, row and column named; nothing
uploaded when one is refused) and landed in the one layout CheckForNewData counts."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from cli.landing_files import FILE_SUFFIXES, LandError, check_keys, check_schema, find_files, plan_uploads, read_file
from cli.main import main
from retrain.config import load_config
from retrain.state_table import PARTITION_KEY, SORT_KEY, WATERMARK
from retrain.watermark import partition_date
from tests.support.datasets import config_file, orders
from tests.support.fake_stack import FakeStack
from tests.support.jobs import JOBS_DIR  # noqa: F401  (puts jobs/ on sys.path)

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def write(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path


def checked(path: Path, input_format: str = "csv", need_days: bool = True) -> list[date | None]:
    config = load_config(config_file(path.parent, input_format=input_format))
    return check_schema(read_file(path, input_format), config.dataset, need_days=need_days)


def test_land_reads_only_names_the_glue_job_reads() -> None:
    import landing  # jobs/landing.py, flat: tests.support.jobs put jobs/ on sys.path

    for input_format, suffixes in FILE_SUFFIXES.items():
        assert set(suffixes) <= set(landing.FILE_SUFFIXES[input_format])


@pytest.mark.parametrize("suffix, input_format", [(".csv", "csv"), (".jsonl", "json"), (".parquet", "parquet")])
def test_a_well_formed_file_passes_with_the_day_of_each_row(tmp_path: Path, suffix: str, input_format: str) -> None:
    path = write(orders([DAY1, DAY2], per_day=2), tmp_path / f"orders{suffix}")
    assert checked(path, input_format) == [DAY1, DAY1, DAY2, DAY2]


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("amount", "twelve", "row 3, column amount: 'twelve' is not a double"),
        ("items", "1.5", "row 3, column items: '1.5' is not a long"),
        ("gift", "maybe", "row 3, column gift: 'maybe' is not a boolean"),
        ("placed_at", "03/01/2026", "row 3, column placed_at: '03/01/2026' is not a timestamp"),
    ],
)
def test_a_value_of_another_type_names_the_file_row_and_column(
    tmp_path: Path, column: str, value: str, expected: str
) -> None:
    frame = orders([DAY1], per_day=4)
    frame.loc[2, column] = value
    path = write(frame, tmp_path / "bad.csv")
    with pytest.raises(LandError, match=rf"^{path}, {expected}"):
        checked(path)


def test_json_lines_are_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    records = orders([DAY1], per_day=2).to_dict(orient="records")
    records[1]["items"] = {"nested": 1}
    path.write_text(json.dumps(records[0]) + "\n\n" + json.dumps(records[1]) + "\n")
    with pytest.raises(LandError, match=r"line 3, column items: \{'nested': 1\} is not a long"):
        checked(path, "json")


def test_a_missing_column_or_an_empty_timestamp_is_refused(tmp_path: Path) -> None:
    path = write(orders([DAY1]).drop(columns=["gift"]), tmp_path / "no-gift.csv")
    with pytest.raises(LandError, match=r"no column gift of \[dataset.schema\]"):
        checked(path)
    frame = orders([DAY1])
    frame.loc[1, "placed_at"] = ""
    path = write(frame, tmp_path / "no-time.csv")
    with pytest.raises(LandError, match=r"row 2, column placed_at: empty.*--date"):
        checked(path)
    assert checked(path, need_days=False)[1] is None  # with --date the day is given


def test_files_of_another_format_are_refused_and_folders_are_walked(tmp_path: Path) -> None:
    write(orders([DAY1]), tmp_path / "data" / "a.csv")
    write(orders([DAY2]), tmp_path / "data" / "more" / "b.csv")
    (tmp_path / "data" / "_SUCCESS").write_text("")
    assert [p.name for p in find_files([str(tmp_path / "data")], "csv")] == ["a.csv", "b.csv"]
    with pytest.raises(LandError, match=r"a.csv: not a parquet file \(\[data\].input_format is parquet"):
        find_files([str(tmp_path / "data")], "parquet")
    with pytest.raises(LandError, match="nowhere: no such file or folder"):
        find_files([str(tmp_path / "nowhere")], "csv")


def test_a_file_of_several_days_is_split_into_one_object_per_day(tmp_path: Path) -> None:
    path = write(orders([DAY1, DAY2], per_day=2), tmp_path / "orders.csv")
    data = read_file(path, "csv")
    days = checked(path)
    uploads = plan_uploads(data, days, "landing/", "csv", None)
    assert [(u.key, u.rows) for u in uploads] == [
        ("landing/date=2026-03-01/orders.csv", 2),
        ("landing/date=2026-03-02/orders.csv", 2),
    ]
    assert all(partition_date(u.key, "landing/") for u in uploads)
    split = pd.read_csv(io.BytesIO(uploads[1].body), dtype=str)
    assert split["order_id"].tolist() == ["o-20260302-0", "o-20260302-1"]
    [whole] = plan_uploads(data, days, "landing/", "csv", DAY2)
    assert (whole.key, whole.body, whole.rows) == ("landing/date=2026-03-02/orders.csv", path.read_bytes(), 4)


def test_keys_the_pipeline_would_never_count_are_refused() -> None:
    from cli.landing_files import Upload

    def upload(key: str, source: str) -> Upload:
        return Upload(key, b"x", "text/csv", Path(source), 1, DAY1)

    check_keys([upload("landing/date=2026-03-02/a.csv", "a.csv")], "landing/date=2026-03-01/part-00000.csv")
    with pytest.raises(LandError, match="at or before the newest data already trained on"):
        check_keys([upload("landing/date=2026-03-01/a.csv", "a.csv")], "landing/date=2026-03-01/part-00000.csv")
    with pytest.raises(LandError, match=r"x/a\.csv and y/a\.csv would both land as"):
        check_keys(
            [upload("landing/date=2026-03-02/a.csv", "x/a.csv"), upload("landing/date=2026-03-02/a.csv", "y/a.csv")], ""
        )


def test_land_uploads_every_file_or_none(stack: FakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(config_file(tmp_path))
    good = write(orders([DAY1, DAY2]), tmp_path / "in" / "good.csv")
    broken = orders([DAY2])
    broken.loc[0, "amount"] = "n/a"
    bad = write(broken, tmp_path / "in" / "zz-bad.csv")

    assert main(["land", str(good), str(bad), "--config", config]) == 2
    assert f"{bad}, row 1, column amount: 'n/a' is not a double" in capsys.readouterr().err
    assert stack.keys() == []

    assert main(["land", str(good), "--config", config]) == 0
    assert stack.keys() == ["landing/date=2026-03-01/good.csv", "landing/date=2026-03-02/good.csv"]
    assert "landed 1 file (6 rows) as 2 objects" in capsys.readouterr().out

    stack.client("dynamodb").put_item(
        TableName=stack.outputs["StateTableName"],
        Item={
            PARTITION_KEY: {"S": "fraud-retrain"},
            SORT_KEY: {"S": WATERMARK},
            "key": {"S": "landing/date=2026-03-02/good.csv"},
        },
    )
    assert main(["land", str(good), "--config", config, "--date", "2026-03-02"]) == 2
    assert "no run would count it" in capsys.readouterr().err


def test_land_without_a_stack_says_how_to_deploy(
    stack: FakeStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = config_file(tmp_path).read_text().replace('name = "fraud-retrain"', 'name = "not-deployed"')
    (tmp_path / "other.toml").write_text(other)
    good = write(orders([DAY1]), tmp_path / "good.csv")
    assert main(["land", str(good), "--config", str(tmp_path / "other.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "retrain: no stack 'not-deployed' at the AWS account of your credentials: "
        "deploy it with `RETRAIN_TARGET=aws retrain deploy`"
    )
