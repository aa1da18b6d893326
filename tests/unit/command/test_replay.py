"""`retrain invoke --replay DAYS`: the landed rows of the newest or the named days sent to the endpoint, one
CSV request each with the row's id as InferenceId (or `--batch-size` rows a request), bounded, in the order
they landed, without the rows the model would refuse."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.landing import request_columns
from cli.replay import DaySelection, ReplayError, replay
from retrain.config import RetrainConfig, load_config
from retrain.errors import RetrainError
from tests.support.datasets import config_file, orders
from tests.support.fake_stack import FakeStack

DAYS = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]


class ModelError(ClientError):
    pass


class ValidationError(ClientError):
    pass


class RecordingRuntime:
    """sagemaker-runtime that answers every request, or refuses the ones whose id is in `refuse`."""

    class exceptions:
        pass

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.exceptions.ModelError = ModelError  # type: ignore[attr-defined]
        self.exceptions.ValidationError = ValidationError  # type: ignore[attr-defined]
        self.calls: list[dict[str, Any]] = []
        self.refuse = refuse

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if request.get("InferenceId") in self.refuse:
            raise ModelError({"Error": {"Code": "ModelError"}, "OriginalMessage": "bad row"}, "InvokeEndpoint")
        return {"Body": b"{}"}


@pytest.fixture
def landed(stack: FakeStack, tmp_path: Path) -> RetrainConfig:
    config = load_config(config_file(tmp_path))
    s3 = stack.client("s3")
    for day in DAYS:
        frame = orders([day], per_day=3)
        key = f"{config.data.landing_prefix}date={day.isoformat()}/orders.csv"
        s3.put_object(Bucket=stack.bucket, Key=key, Body=frame.to_csv(index=False).encode())
    return config


def test_the_newest_days_rows_are_sent_with_their_ids(stack: FakeStack, landed: RetrainConfig) -> None:
    runtime = RecordingRuntime(refuse=("o-20260303-1",))
    result = replay(landed, stack.client("s3"), runtime, stack.bucket, "ep", days=2, max_requests=100)
    assert result.days == ["2026-03-02", "2026-03-03"]
    assert [call["InferenceId"] for call in runtime.calls] == [f"o-2026030{d}-{n}" for d in (2, 3) for n in range(3)]
    assert {call["ContentType"] for call in runtime.calls} == {"text/csv"}
    assert {call["EndpointName"] for call in runtime.calls} == {"ep"}
    first = runtime.calls[0]["Body"].split(",")
    expected = orders([DAYS[1]], per_day=3).iloc[0]
    assert first == [str(expected[column]) for column in request_columns(landed)]
    assert (result.sent, result.answered, result.refused) == (6, 5, ["bad row"])
    assert "replayed 6 landed rows of 2 day(s) (2026-03-02 to 2026-03-03)" in result.summary("ep")


def test_the_replay_is_bounded(stack: FakeStack, landed: RetrainConfig) -> None:
    runtime = RecordingRuntime()
    result = replay(landed, stack.client("s3"), runtime, stack.bucket, "ep", days=3, max_requests=4)
    assert result.sent == len(runtime.calls) == 4
    for days, limit, message in ((0, 10, "--replay takes 1 to 90"), (1, 0, "--max-requests takes 1 to 10000")):
        with pytest.raises(RetrainError, match=message):
            replay(landed, stack.client("s3"), runtime, stack.bucket, "ep", days=days, max_requests=limit)


def test_nothing_landed_is_a_clear_error(stack: FakeStack, tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path))
    with pytest.raises(RetrainError, match=r"nothing landed under .* land data first"):
        replay(config, stack.client("s3"), RecordingRuntime(), stack.bucket, "ep", days=1, max_requests=1)


def test_named_days_and_ranges_are_replayed_in_batches(stack: FakeStack, landed: RetrainConfig) -> None:
    runtime = RecordingRuntime()
    selection = DaySelection.parse("2026-03-03, 2026-03-01..2026-03-01")
    result = replay(landed, stack.client("s3"), runtime, stack.bucket, "ep", selection, 100, batch_rows=2)
    assert result.days == ["2026-03-01", "2026-03-03"]
    # 3 rows a day, 2 a request: the last request of the replay holds what is left
    bodies = [call["Body"].splitlines() for call in runtime.calls]
    assert [len(body) for body in bodies] == [2, 2, 2]
    assert [body[0].split(",")[0] for body in bodies] == ["o-20260301-0", "o-20260301-2", "o-20260303-1"]
    assert all("InferenceId" not in call for call in runtime.calls)  # a batch has no one row's id
    assert (result.sent, result.requests, result.answered, result.per_day) == (
        6,
        3,
        6,
        {"2026-03-01": 3, "2026-03-03": 3},
    )
    summary = result.summary("ep")
    assert "replayed 6 landed rows of 2 day(s) (2026-03-01 to 2026-03-03) in 3 request(s) of up to 2 rows" in summary
    assert result.details() == ["  2026-03-01: 3 rows", "  2026-03-03: 3 rows"]


def test_rows_the_model_would_refuse_are_not_sent(stack: FakeStack, landed: RetrainConfig) -> None:
    frame = orders([date(2026, 3, 4)], per_day=3)
    frame.loc[0, "amount"] = "twelve"  # not a double: the model refuses a request holding it
    frame.loc[1, "items"] = ""  # missing
    key = f"{landed.data.landing_prefix}date=2026-03-04/orders.csv"
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=frame.to_csv(index=False).encode())
    runtime = RecordingRuntime()
    result = replay(landed, stack.client("s3"), runtime, stack.bucket, "ep", DaySelection.parse("2026-03-04"), 10)
    assert [call["InferenceId"] for call in runtime.calls] == ["o-20260304-2"]
    assert result.skipped == 2
    assert "not sent: 2 rows with a missing value or one the model cannot parse" in result.details()[-1]


def test_a_day_without_data_is_a_clear_error(stack: FakeStack, landed: RetrainConfig) -> None:
    selection = DaySelection.parse("2026-02-28..2026-03-01")
    with pytest.raises(ReplayError, match=r"^no landed data for 2026-02-28 under s3://.*landed days run from "):
        replay(landed, stack.client("s3"), RecordingRuntime(), stack.bucket, "ep", selection, 10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "--replay takes 1 to 90 days"),
        ("yesterday", "'yesterday' is no day"),
        ("2026-03-05..2026-03-01", "ends before it starts"),
        ("2026-01-01..2026-12-31", "more than 90 days"),
    ],
)
def test_a_bad_day_selection_is_refused(text: str, message: str) -> None:
    with pytest.raises(ReplayError, match=message):
        DaySelection.parse(text)


def test_the_batch_size_is_bounded(stack: FakeStack, landed: RetrainConfig) -> None:
    with pytest.raises(ReplayError, match="--batch-size takes 1 to 1000 rows, got 0"):
        replay(landed, stack.client("s3"), RecordingRuntime(), stack.bucket, "ep", 1, 10, batch_rows=0)
