from __future__ import annotations

import pytest

from retrain.contracts import FailureSummary
from retrain.errors import InvalidTaskInput
from retrain.execution_arn import ExecutionArn
from retrain.messages import SUBJECT_MAX, pipeline_failed, subject

ARN = "arn:aws:states:us-west-2:123456789012:execution:fraud-retrain:manual-1"


def test_subjects_are_one_short_ascii_line() -> None:
    text = subject("[fraud-retrain] Réentraînement\nfailed: " + "x" * 200)

    assert len(text) == SUBJECT_MAX and text.endswith("...")
    assert text.isascii() and "\n" not in text
    assert text.startswith("[fraud-retrain] R?entra?nement failed: ")


@pytest.mark.parametrize(
    ("arn", "host"),
    [
        (ARN, "https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2"),
        (ARN.replace(":aws:", ":aws-cn:").replace("us-west-2", "cn-north-1"), "https://console.amazonaws.cn/"),
        (ARN.replace(":aws:", ":aws-us-gov:"), "https://console.amazonaws-us-gov.com/"),
    ],
)
def test_console_links_follow_the_arns_partition_and_region(arn: str, host: str) -> None:
    execution = ExecutionArn.parse(arn)

    assert execution.console_url.startswith(host)
    assert execution.console_url.endswith(f"#/v2/executions/details/{arn}")
    assert (execution.state_machine, execution.execution_name) == ("fraud-retrain", "manual-1")


def test_a_malformed_arn_is_refused() -> None:
    with pytest.raises(InvalidTaskInput, match="expected a Step Functions execution ARN"):
        ExecutionArn.parse("arn:aws:lambda:us-west-2:123:function:x")


def test_a_failure_message_without_a_run_still_links_the_execution() -> None:
    failure = FailureSummary(error="InvalidExecutionInput", cause="input.trigger: bad\nFix it.")

    title, body = pipeline_failed("fraud-retrain", None, failure, ExecutionArn.parse(ARN))

    assert title == "[fraud-retrain] Retrain failed: InvalidExecutionInput in manual-1"
    assert "input.trigger: bad\nFix it." in body
    assert ExecutionArn.parse(ARN).console_url in body
