"""`retrain show RUN` says what started the run and why (a drift run: the alarm, features and values)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from tests.support.fake_stack import FakeStack

ROOT = Path(__file__).resolve().parents[3]


def test_show_names_the_trigger_and_its_reason(stack: FakeStack, capsys: pytest.CaptureFixture[str]) -> None:
    sfn = stack.client("stepfunctions")
    role = stack.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'
    machine = sfn.create_state_machine(name="fraud-retrain", definition=definition, roleArn=role)["stateMachineArn"]
    reason = "drift alarm fraud-endpoint-data-quality-drift: amount 0.42 > 0.1"
    sfn.start_execution(
        stateMachineArn=machine, name="auto-20250101T1030Z", input=f'{{"trigger": "drift", "reason": "{reason}"}}'
    )
    assert main(["show", "auto-20250101T1030Z", "--config", str(ROOT / "retrain.toml")]) == 0
    assert f"  trigger drift: {reason}\n" in capsys.readouterr().out
