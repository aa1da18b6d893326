"""AWS's clock at the local clock scale, on which the local SageMaker runs monitoring schedules.

When a schedule runs and which window each run analyses is `retrain.cadence` (SageMaker's rules, shared
with the config check); `ScaledClock` maps its times onto this machine's at the local clock scale
(`local.clock`), so at 1/60 an hourly schedule runs every minute over the minute before.
"""

from __future__ import annotations

from dataclasses import dataclass

from local.clock import ClockScale


@dataclass(frozen=True)
class ScaledClock:
    """AWS's clock at the local clock scale: it runs 1/scale times faster than this machine's from `anchor`."""

    scale: ClockScale
    anchor: float

    def aws_time(self, local: float) -> float:
        return self.anchor + (local - self.anchor) / float(self.scale.factor)

    def local_time(self, aws: float) -> float:
        return self.anchor + (aws - self.anchor) * float(self.scale.factor)
