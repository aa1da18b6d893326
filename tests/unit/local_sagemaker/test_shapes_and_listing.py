"""Request checks against the service model, output projection, and List* pagination."""

from __future__ import annotations

import pytest

from local.sagemaker.errors import SageMakerError
from local.sagemaker.listing import ListRequest
from local.sagemaker.shapes import ShapeChecker, _compiled, project, python_pattern, service_model, validation_message

MODEL = service_model("sagemaker")


def test_requests_are_checked_with_sagemakers_wording() -> None:
    checker = ShapeChecker(MODEL)
    shape = MODEL.operation_model("CreateEndpoint").input_shape
    problems = checker.problems({"EndpointName": "bad_name", "Tags": [{"Key": "k"}], "Extra": 1}, shape)
    assert (
        "Value 'bad_name' at 'endpointName' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}" in problems
    )
    assert "Value null at 'endpointConfigName' failed to satisfy constraint: Member must not be null" in problems
    assert "Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null" in problems
    assert any("Unknown member 'extra'" in problem for problem in problems)
    assert validation_message(problems[:1]).startswith("1 validation error detected: ")


def test_numbers_enums_and_ranges_are_checked() -> None:
    checker = ShapeChecker(MODEL)
    shape = MODEL.shape_for("TrafficRoutingConfig")
    problems = checker.problems({"Type": "SOMETIMES", "WaitIntervalInSeconds": 4000}, shape)
    assert any("enum value set: [ALL_AT_ONCE, CANARY, LINEAR]" in p for p in problems)
    assert any("less than or equal to 3600" in p for p in problems)
    assert checker.problems({"Type": "CANARY", "WaitIntervalInSeconds": True}, shape)


def test_a_record_answers_with_what_the_output_shape_declares() -> None:
    shape = MODEL.operation_model("DescribeModel").output_shape
    record = {
        "ModelName": "m",
        "ModelArn": "arn",
        "CreationTime": 1.0,
        "_Region": "us-east-1",
        "Tags": [],
        "PrimaryContainer": {"Image": "i", "_Private": 1},
    }
    assert project(record, shape) == {
        "ModelName": "m",
        "ModelArn": "arn",
        "CreationTime": 1.0,
        "PrimaryContainer": {"Image": "i"},
    }


def records() -> list[dict[str, object]]:
    return [
        {"Name": f"job-{i}", "CreationTime": float(i), "Status": "Completed" if i % 2 else "Failed"} for i in range(5)
    ]


def test_lists_filter_sort_and_page() -> None:
    listing = ListRequest({"StatusEquals": "Completed", "MaxResults": 1}, "Name", "Status")
    chosen = listing.select(records())
    assert [r["Name"] for r in chosen] == ["job-3", "job-1"]  # newest first by default
    page, token = listing.page(chosen)
    assert [r["Name"] for r in page] == ["job-3"] and token
    second, last_token = ListRequest({"MaxResults": 1, "NextToken": token}, "Name").page(chosen)
    assert [r["Name"] for r in second] == ["job-1"] and last_token is None
    ascending = ListRequest(
        {"SortBy": "Name", "SortOrder": "Ascending", "NameContains": "JOB-", "CreationTimeAfter": 1.5}, "Name"
    ).select(records())
    assert [r["Name"] for r in ascending] == ["job-2", "job-3", "job-4"]


def test_a_bad_sort_or_token_is_refused() -> None:
    with pytest.raises(SageMakerError, match="SortBy must be one of"):
        ListRequest({"SortBy": "Size"}, "Name").select(records())
    with pytest.raises(SageMakerError, match="NextToken"):
        ListRequest({"NextToken": "%%%"}, "Name").page(records())


def test_every_pattern_of_the_sagemaker_model_is_enforced_none_skipped() -> None:
    # AWS checks every pattern (Java regexes, \p{L} classes and surrogate ranges included); a pattern
    # the checker could not compile would be a constraint the local AWS silently does not enforce.
    patterns = {MODEL.shape_for(name).metadata.get("pattern") for name in MODEL.shape_names} - {None}
    assert len(patterns) > 200
    for pattern in patterns:
        _compiled(pattern)


def test_customer_metadata_values_refuse_json_as_sagemaker_does() -> None:
    # botocore sagemaker/2017-07-24/service-2.json, shape CustomerMetadataValue:
    # 1-256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@]* — braces, quotes and commas are refused.
    checker = ShapeChecker(MODEL)
    shape = MODEL.shape_for("CustomerMetadataMap")
    assert checker.problems({"execution": "auto-2026-11-25t1200", "uri": "s3://b/p/x=1", "ap": "0.912"}, shape) == []
    problems = checker.problems({"candidate_metrics": '{"average_precision": 0.91, "roc_auc": 0.95}'}, shape)
    assert len(problems) == 1
    assert "candidate_metrics' failed to satisfy constraint: Member must satisfy regular expression" in problems[0]
    assert checker.problems({"name": "Zürich café 東京"}, shape) == []  # \p{L} is any letter, not ASCII only


def test_java_surrogate_ranges_mean_the_supplementary_planes() -> None:
    assert python_pattern(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*") == (
        r"[\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF\t]*"
    )
    assert _compiled(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*").fullmatch("ok \U0001f600")
