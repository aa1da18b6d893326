"""`AlarmStates` on CloudWatch: the drift alarm's children, read with DescribeAlarms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retrain.drift_alarm import Breach, breach_of

# DescribeAlarms takes at most 100 AlarmNames (botocore: AlarmNames max 100).
MAX_NAMES = 100


class CloudWatchAlarmStates:
    def __init__(self, client: Any) -> None:
        self._cloudwatch = client

    def breaches(self, alarm_names: Sequence[str]) -> list[Breach]:
        found: list[Breach] = []
        for start in range(0, len(alarm_names), MAX_NAMES):
            names = list(alarm_names[start : start + MAX_NAMES])
            pages = self._cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=names, AlarmTypes=["MetricAlarm"], StateValue="ALARM"
            )
            for page in pages:
                found.extend(breach for alarm in page.get("MetricAlarms", []) if (breach := breach_of(alarm)))
        return sorted(found, key=lambda breach: breach.feature)
