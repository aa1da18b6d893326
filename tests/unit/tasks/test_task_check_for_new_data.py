from __future__ import annotations

import gzip
from typing import Any

import pytest

from retrain.contracts import NO_CHAMPION, DataCheck
from retrain.errors import InvalidTaskInput
from retrain.watermark import MAX_SETTLE_CHECKS


@pytest.fixture
def check(load_handler: Any, context: Any, plan: Any) -> Any:
    handler = load_handler("check_for_new_data").handler

    def run_check(checks_done: int = 0, settle_checks_done: int = 0, **given: Any) -> DataCheck:
        given.setdefault("settle_seconds", 0)  # the tests land their files moments before they check
        event = {"run": plan(**given), "checks_done": checks_done, "settle_checks_done": settle_checks_done}
        return DataCheck.model_validate(handler(event, context))

    return run_check


def land(stack: Any, key: str, body: bytes = b"a,b\n1,2\n") -> None:
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body)


def set_watermark(stack: Any, key: str) -> None:
    stack.dynamodb.put_item(
        TableName=stack.table, Item={"pk": {"S": stack.pipeline}, "sk": {"S": "WATERMARK"}, "key": {"S": key}}
    )


def test_first_run_counts_every_data_object(stack: Any, check: Any) -> None:
    land(stack, "landing/date=2024-05-30/part-0.csv", b"x" * 100)
    land(stack, "landing/date=2024-05-31/part-0.csv", b"x" * 50)
    land(stack, "landing/date=2024-05-31/_SUCCESS", b"")
    land(stack, "landing/date=2024-05-31/empty.csv", b"")
    land(stack, "landing/date=2024-05-31/", b"")
    land(stack, "landing/README.txt", b"not a partition")
    land(stack, "elsewhere/date=2024-06-01/part-0.csv")

    result = check()

    assert result.enough and not result.keep_waiting
    assert (result.new_objects, result.new_bytes, result.checks_done) == (2, 150, 1)
    assert (result.window_start, result.window_end) == ("2024-05-30", "2024-05-31")
    assert result.previous_watermark == ""
    assert result.new_watermark == "landing/date=2024-05-31/part-0.csv"
    assert result.champion_model_uri == NO_CHAMPION


def test_data_that_landed_moments_ago_settles_before_the_run_takes_it(stack: Any, check: Any) -> None:
    land(stack, "landing/date=2024-05-30/part-0.csv")

    settling = check(settle_seconds=600)
    given_up = check(settle_seconds=600, settle_checks_done=MAX_SETTLE_CHECKS)

    assert settling.enough and settling.settling and settling.settle_checks_done == 1
    assert settling.checks_done == 0 and settling.last_landed_at.endswith("Z")
    assert given_up.enough and not given_up.settling and given_up.checks_done == 1


def test_only_objects_after_the_watermark_are_new(stack: Any, check: Any) -> None:
    for day in ("2024-05-29", "2024-05-30", "2024-05-31"):
        land(stack, f"landing/date={day}/part-0.csv")
    set_watermark(stack, "landing/date=2024-05-30/part-0.csv")

    result = check()

    assert result.new_objects == 1
    assert (result.window_start, result.window_end) == ("2024-05-31", "2024-05-31")
    assert result.previous_watermark == "landing/date=2024-05-30/part-0.csv"
    assert result.new_watermark == "landing/date=2024-05-31/part-0.csv"


def test_listing_follows_every_page_after_the_watermark(stack: Any) -> None:
    from tasks._aws.s3_objects import S3ObjectStore

    for index in range(7):
        land(stack, f"landing/date=2024-06-01/part-{index}.csv", b"x" * (index + 1))
    store = S3ObjectStore(stack.s3, page_size=2)
    calls: list[dict[str, Any]] = []
    stack.s3.meta.events.register("before-call.s3.ListObjectsV2", lambda params, **_: calls.append(params))

    listed = list(store.list_after(stack.bucket, "landing/", "landing/date=2024-06-01/part-1.csv"))

    assert len(calls) == 3  # five keys, two a page
    assert [item.key[-10:] for item in listed] == [f"part-{index}.csv" for index in range(2, 7)]
    assert [item.size for item in listed] == [3, 4, 5, 6, 7]


def test_not_enough_data_waits_until_the_last_check(stack: Any, check: Any) -> None:
    land(stack, "landing/date=2024-06-01/part-0.csv")

    waiting = check(checks_done=0, min_new_objects=2, max_data_checks=3)
    last = check(checks_done=2, min_new_objects=2, max_data_checks=3)

    assert (waiting.enough, waiting.keep_waiting, waiting.checks_done) == (False, True, 1)
    assert (last.enough, last.keep_waiting, last.checks_done) == (False, False, 3)
    assert last.new_watermark == "landing/date=2024-06-01/part-0.csv"


def test_no_new_data_keeps_the_watermark(stack: Any, check: Any) -> None:
    land(stack, "landing/date=2024-05-31/part-0.csv")
    set_watermark(stack, "landing/date=2024-05-31/part-0.csv")

    result = check(max_data_checks=1)

    assert (result.enough, result.keep_waiting, result.new_objects) == (False, False, 0)
    assert result.new_watermark == result.previous_watermark == "landing/date=2024-05-31/part-0.csv"
    assert (result.window_start, result.window_end) == ("", "")


def test_the_champion_model_is_found(stack: Any, check: Any) -> None:
    land(stack, "landing/date=2024-06-01/part-0.csv")
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={
            "pk": {"S": stack.pipeline},
            "sk": {"S": "CHAMPION"},
            "model_data_url": {"S": "s3://retrain-data/models/old/training/job/output/model.tar.gz"},
            "model_package_arn": {"S": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1"},
            "model_name": {"S": "old-model"},
            "endpoint_config_name": {"S": "old-config"},
            "execution_name": {"S": "old"},
            "promoted_at": {"S": "2024-05-01T00:00:00.000000Z"},
            "metrics": {"M": {"average_precision": {"N": "0.4"}}},
            "execution_started_at": {"S": "2024-05-01T00:00:00.000000Z"},
        },
    )

    result = check()

    assert result.champion_model_uri == "s3://retrain-data/models/old/training/job/output/model.tar.gz"


def test_a_malformed_event_names_the_field(load_handler: Any, context: Any, plan: Any) -> None:
    handler = load_handler("check_for_new_data").handler

    with pytest.raises(InvalidTaskInput, match=r"^event\.checks_done: expected an integer"):
        handler({"run": plan(), "checks_done": "many"}, context)


ERRORS = "stream-errors/"
LATER = "2100-01-01T00:00:00.000000Z"  # a run started after every object of these tests


@pytest.fixture
def streaming_check(stack: Any, load_handler: Any, context: Any, plan: Any) -> Any:
    handler = load_handler("check_for_new_data").handler

    def run_check(**given: Any) -> DataCheck:
        run = plan(start_time=LATER, **{"settle_seconds": 0, **given})
        run["data"]["delivery_errors_uri"] = f"s3://{stack.bucket}/{ERRORS}"  # as ValidateInput plans [stream]
        return DataCheck.model_validate(handler({"run": run, "checks_done": 0}, context))

    return run_check


def test_a_run_that_trains_counts_the_refused_records_of_its_window(stack: Any, streaming_check: Any) -> None:
    land(stack, "landing/date=2024-06-01/part-0.json")
    refused = [
        f"{ERRORS}processing-failed/2026-11-26/s-1-2026-11-26-10-00-00-a",
        f"{ERRORS}format-conversion-failed/2026-11-26/s-1-2026-11-26-10-00-01-b",
    ]
    land(stack, refused[0], b'{"rawData": "eA=="}\n' * 2)
    land(stack, refused[1], gzip.compress(b"{}\n"))

    errors = streaming_check().delivery_errors

    assert (errors.records, errors.objects, errors.after, errors.until) == (3, 2, "", LATER)
    assert errors.by_type == {"format-conversion-failed": 1, "processing-failed": 2}
    assert sorted(errors.keys) == sorted(refused)


def test_records_before_the_mark_were_counted_by_an_earlier_run(stack: Any, streaming_check: Any) -> None:
    land(stack, "landing/date=2024-06-01/part-0.json")
    land(stack, f"{ERRORS}processing-failed/2026-11-26/s-1-2026-11-26-10-00-00-a", b"{}\n")
    mark = "2099-01-01T00:00:00.000000Z"  # after the object's LastModified (now)
    stack.dynamodb.put_item(
        TableName=stack.table,
        Item={"pk": {"S": stack.pipeline}, "sk": {"S": "WATERMARK"}, "key": {"S": ""}, "errors_until": {"S": mark}},
    )

    errors = streaming_check().delivery_errors

    assert (errors.records, errors.objects, errors.after, errors.until) == (0, 0, mark, LATER)


def test_a_check_that_waits_counts_nothing(stack: Any, streaming_check: Any) -> None:
    land(stack, f"{ERRORS}processing-failed/2026-11-26/s-1-2026-11-26-10-00-00-a", b"{}\n")

    check = streaming_check(max_data_checks=2)

    assert check.keep_waiting and check.delivery_errors.records == 0 and check.delivery_errors.error_prefix_uri == ""
