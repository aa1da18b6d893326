"""The clock scale of the local AWS: SageMaker's rollout clocks, compressed by one factor.

A blue/green rollout on AWS is timed in minutes: each traffic step bakes `WaitIntervalInSeconds`,
the old fleet stays `TerminationWaitInSeconds`, the whole update may take
`MaximumExecutionTimeoutInSeconds` (SageMaker API reference: `TrafficRoutingConfig`,
`BlueGreenUpdatePolicy`), and the rollback alarms judge one-minute periods (CloudWatch user guide,
"Evaluating an alarm"). The stack deploys those values, which AWS accepts; the local SageMaker runs
all of them at `SAGEMAKER_CLOCK_SCALE` (the way the emulator's `SFN_WAIT_SCALE` shortens Step
Functions waits), so a rollout keeps AWS's proportions: at 1/60, a minute is a second, a 300 s bake
takes 5 s and an alarm of 60 s periods is judged over 1 s periods, evaluated every second, with the
same evaluation periods, datapoints to alarm, threshold and missing-data treatment.

The local Firehose buffers at the same scale (`local/emulator/firehose.py`): a 60 s buffer interval is
delivered after 1 s at 1/60.

Unset, the scale is 1 (AWS's clocks as they are); `retrain local up` starts the local AWS at
`DEFAULT_CLOCK_SCALE` unless the variable says otherwise.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

CLOCK_SCALE_ENV = "SAGEMAKER_CLOCK_SCALE"
DEFAULT_CLOCK_SCALE = "1/60"


class ClockScaleError(ValueError):
    """The clock scale is not a positive number; the message names the variable and the fix."""


def configured_clock_scale(environ: Mapping[str, str] | None = None) -> str:
    """The scale a local AWS started from `environ` (default: this process's) runs at, as written."""
    value = (os.environ if environ is None else environ).get(CLOCK_SCALE_ENV, "").strip()
    return value or DEFAULT_CLOCK_SCALE


@dataclass(frozen=True)
class ClockScale:
    factor: Fraction = Fraction(1)

    @classmethod
    def parse(cls, text: str) -> ClockScale:
        try:
            factor = Fraction(text.strip())
        except (ValueError, ZeroDivisionError):
            factor = Fraction(0)
        if factor <= 0:
            raise ClockScaleError(
                f"{CLOCK_SCALE_ENV}={text!r} is not a positive number; set it to a fraction such as "
                f"{DEFAULT_CLOCK_SCALE} (a minute of SageMaker's rollout clocks in a second) or 1 (unscaled)"
            )
        return cls(factor)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ClockScale:
        """The scale `environ` (default: this process's) sets; 1 when it sets none."""
        value = (os.environ if environ is None else environ).get(CLOCK_SCALE_ENV, "").strip()
        return cls.parse(value) if value else cls()

    @property
    def scaled(self) -> bool:
        return self.factor != 1

    def seconds(self, aws_seconds: float) -> float:
        """A duration of AWS's clock in local seconds."""
        return float(Fraction(aws_seconds) * self.factor)

    def period(self, aws_period: int) -> int:
        """An alarm period in local seconds, to the nearest whole second and at least one (the endpoint
        metrics are published per second and GetMetricStatistics takes a whole number of seconds)."""
        return max(1, math.floor(aws_period * self.factor + Fraction(1, 2)))

    def shown(self, aws_seconds: float) -> str:
        """`300s`, or `300s (5s at clock scale 1/60)` when scaled."""
        if not self.scaled:
            return f"{aws_seconds:g}s"
        return f"{aws_seconds:g}s ({self.seconds(aws_seconds):g}s at clock scale {self})"

    def __str__(self) -> str:
        return str(self.factor)
