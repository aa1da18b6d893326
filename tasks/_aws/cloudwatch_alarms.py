"""`AlarmStates` on CloudWatch: the drift alarm's children, read with DescribeAlarms."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from retrain.drift_alarm import Breach, breach_of

logger = logging.getLogger(__name__)

# DescribeAlarms takes at most 100 AlarmNames (botocore: AlarmNames max 100).
MAX_NAMES = 100


class CloudWatchAlarmStates:
    def __init__(self, client: Any) -> None:
        self._cloudwatch = client

    def breaches(self, alarm_names: Sequence[str]) -> list[Breach]:
        """The children in ALARM; none when CloudWatch cannot be read (the run still starts, its reason
        then the event's own: a drift must not be lost to a read of its details)."""
        try:
            return self._read(alarm_names)
        except (ClientError, BotoCoreError) as error:
            logger.warning("the drift alarm's children could not be read: %s", error)
            return []

    def _read(self, alarm_names: Sequence[str]) -> list[Breach]:
        found: list[Breach] = []
        for start in range(0, len(alarm_names), MAX_NAMES):
            names = list(alarm_names[start : start + MAX_NAMES])
            pages = self._cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=names, AlarmTypes=["MetricAlarm"], StateValue="ALARM"
            )
            for page in pages:
                found.extend(breach for alarm in page.get("MetricAlarms", []) if (breach := breach_of(alarm)))
        return sorted(found, key=lambda breach: breach.feature)
