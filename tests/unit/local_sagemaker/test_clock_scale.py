"""The local AWS's clock scale for SageMaker's rollout clocks (`local.clock`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws import LocalAws, LocalAwsError
from local.clock import CLOCK_SCALE_ENV, DEFAULT_CLOCK_SCALE, ClockScale, ClockScaleError, configured_clock_scale
from local.home import StateDirectory


def test_a_minute_is_a_second_by_default() -> None:
    clock = ClockScale.parse(DEFAULT_CLOCK_SCALE)
    # The stack's canary (300 s bakes, 120 s termination wait, 3600 s timeout) and one-minute alarms.
    assert (clock.seconds(300), clock.seconds(120), clock.seconds(3600)) == (5.0, 2.0, 60.0)
    assert clock.period(60) == 1 and clock.period(300) == 5
    assert str(clock) == "1/60" and clock.shown(300) == "300s (5s at clock scale 1/60)"


def test_periods_are_whole_seconds_and_never_zero() -> None:
    half = ClockScale.parse("0.5")
    assert [half.period(p) for p in (1, 3, 5, 60)] == [1, 2, 3, 30]
    assert ClockScale.parse("1/60").period(10) == 1  # a 10 s high-resolution alarm: one second, not 0.17
    assert ClockScale.parse("1/60").seconds(90) == 1.5  # waits need not be whole seconds


def test_unscaled_is_aws_as_it_is() -> None:
    clock = ClockScale.from_environment({})
    assert not clock.scaled and clock.seconds(300) == 300.0 and clock.period(60) == 60
    assert clock.shown(300) == "300s"
    assert ClockScale.from_environment({CLOCK_SCALE_ENV: " 1/30 "}).period(60) == 2


def test_the_local_aws_starts_at_the_default_unless_told_otherwise() -> None:
    assert configured_clock_scale({}) == DEFAULT_CLOCK_SCALE
    assert configured_clock_scale({CLOCK_SCALE_ENV: ""}) == DEFAULT_CLOCK_SCALE
    assert configured_clock_scale({CLOCK_SCALE_ENV: "1"}) == "1"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1/0", "inf", "nan"])
def test_a_scale_that_is_no_positive_number_is_refused_by_name(value: str) -> None:
    with pytest.raises(ClockScaleError, match=rf"^{CLOCK_SCALE_ENV}=.* is not a positive number; set it to"):
        ClockScale.parse(value)


def test_the_emulator_gets_the_scale_and_a_bad_one_is_refused_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = StateDirectory(tmp_path / "home")
    monkeypatch.delenv(CLOCK_SCALE_ENV, raising=False)
    assert home.emulator_environment(4566)[CLOCK_SCALE_ENV] == DEFAULT_CLOCK_SCALE
    monkeypatch.setenv(CLOCK_SCALE_ENV, "1")
    assert home.emulator_environment(4566)[CLOCK_SCALE_ENV] == "1"

    with pytest.raises(LocalAwsError, match=f"^{CLOCK_SCALE_ENV}='fast' is not a positive number"):
        LocalAws(home, port=0, environment={CLOCK_SCALE_ENV: "fast"}).start()
    assert not home.root.exists()  # refused before anything started
