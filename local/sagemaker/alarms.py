"""CloudWatch alarms, evaluated the way CloudWatch evaluates them, for automatic rollback.

The emulator's CloudWatch stores metric alarms and datapoints, but judges an alarm on every metric
of that name whatever its dimensions, without evaluation periods or datapoints-to-alarm, and not at
all when the alarm is a metric math expression. A deployment watched through it could roll back on
another endpoint's errors, or never, so the deployment controller evaluates each alarm of its
`AutoRollbackConfiguration` itself, from the alarm's own definition: its metric (dimensions,
statistic, period) or its metric math (`Metrics`: MetricStat queries and the expression over them,
`local.sagemaker.metric_math`), threshold, comparison, evaluation periods, datapoints to alarm and
missing-data treatment, against the datapoints CloudWatch returns for each query.

At the local AWS's clock scale (`local.clock`) an alarm of period P is judged over P * scale second
periods and evaluated once every such period, as CloudWatch evaluates an alarm once per period
("Evaluating an alarm", CloudWatch user guide); nothing else about it changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.clock import ClockScale
from local.sagemaker.metric_math import Expression, MetricMathError, Series

logger = logging.getLogger("local.sagemaker")

ALARM, OK, INSUFFICIENT_DATA = "ALARM", "OK", "INSUFFICIENT_DATA"
_COMPARISONS = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"[pP](\d{1,2}(\.\d{1,2})?|100)")
_QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*")
SINGLE_METRIC_ID = "m1"


class UnsupportedAlarm(ValueError):
    """An alarm the local evaluator cannot judge; the message names the alarm and the reason."""


@dataclass(frozen=True)
class MetricQuery:
    """One metric and statistic, per period: an alarm's own metric or a MetricStat query of it."""

    id: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str  # Sum, Average, ... or a percentile such as p99
    period: int
    unit: str | None = None

    @classmethod
    def build(
        cls,
        alarm: str,
        query_id: str,
        namespace: Any,
        metric: Any,
        dimensions: Any,
        statistic: Any,
        period: Any,
        unit: Any = None,
    ) -> MetricQuery:
        if not (namespace and metric and statistic and period):
            raise UnsupportedAlarm(f"alarm {alarm}: query {query_id} names no metric, statistic or period")
        statistic = str(statistic)
        if _PERCENTILE.fullmatch(statistic):
            statistic = "p" + statistic[1:]  # GetMetricStatistics spells percentiles in lower case
        elif statistic not in _STATISTICS:
            raise UnsupportedAlarm(
                f"alarm {alarm}: the statistic {statistic} of query {query_id} is not evaluated locally (supported: "
                f"{', '.join(_STATISTICS)} and percentiles such as p99)"
            )
        return cls(
            query_id,
            str(namespace),
            str(metric),
            tuple(sorted((d["Name"], d["Value"]) for d in dimensions or [])),
            statistic,
            int(period),
            str(unit) if unit else None,
        )

    @property
    def is_percentile(self) -> bool:
        return self.statistic.startswith("p")

    def request(self, start: float, end: float, period: int | None = None) -> dict[str, Any]:
        """GetMetricStatistics for the periods in [start, end), of `period` seconds (default: the query's)."""
        request: dict[str, Any] = {
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "StartTime": dt.datetime.fromtimestamp(start, dt.UTC),
            "EndTime": dt.datetime.fromtimestamp(end, dt.UTC),
            "Period": period or self.period,
        }
        if self.is_percentile:
            request["ExtendedStatistics"] = [self.statistic]
        else:
            request["Statistics"] = [self.statistic]
        if self.unit:
            request["Unit"] = self.unit
        return request

    def series(self, datapoints: Sequence[Mapping[str, Any]]) -> Series:
        """The statistic of each period that has data, by the period's start."""
        found: Series = {}
        for point in datapoints:
            stamp = point["Timestamp"]
            seconds = stamp.timestamp() if isinstance(stamp, dt.datetime) else float(stamp)
            if self.is_percentile:
                value = (point.get("ExtendedStatistics") or {}).get(self.statistic)
            else:
                value = point.get(self.statistic)
            if value is not None:
                found[int(seconds)] = float(value)
        return found

    def describe(self) -> str:
        return f"{self.statistic} of {self.metric_name}"


@dataclass(frozen=True)
class AlarmDefinition:
    name: str
    queries: tuple[MetricQuery, ...]
    expressions: tuple[tuple[str, Expression], ...]  # (id, expression) of the metric math queries
    returned: str  # the id whose series the alarm judges (ReturnData)
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str

    @classmethod
    def from_describe(cls, alarm: Mapping[str, Any]) -> AlarmDefinition:
        """From a DescribeAlarms MetricAlarm; UnsupportedAlarm when it cannot be evaluated locally."""
        name = str(alarm.get("AlarmName"))
        comparison = alarm.get("ComparisonOperator", "")
        if comparison not in _COMPARISONS:
            raise UnsupportedAlarm(
                f"alarm {name}: comparison {comparison!r} is not evaluated locally (supported: "
                f"{', '.join(_COMPARISONS)})"
            )
        if alarm.get("Metrics"):
            queries, expressions, returned = cls._metric_math(name, alarm["Metrics"])
        else:
            queries = (
                MetricQuery.build(
                    name,
                    SINGLE_METRIC_ID,
                    alarm.get("Namespace"),
                    alarm.get("MetricName"),
                    alarm.get("Dimensions"),
                    alarm.get("ExtendedStatistic") or alarm.get("Statistic"),
                    alarm.get("Period"),
                    alarm.get("Unit"),
                ),
            )
            expressions, returned = (), SINGLE_METRIC_ID
        periods = sorted({query.period for query in queries})
        if len(periods) != 1:
            raise UnsupportedAlarm(
                f"alarm {name}: its queries use different periods ({periods}); the local evaluator needs one period"
            )
        evaluation_periods = int(alarm.get("EvaluationPeriods") or 1)
        return cls(
            name=name,
            queries=queries,
            expressions=expressions,
            returned=returned,
            period=periods[0],
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or evaluation_periods),
            threshold=float(alarm.get("Threshold", 0.0)),
            comparison=comparison,
            treat_missing_data=alarm.get("TreatMissingData") or "missing",
        )

    @staticmethod
    def _metric_math(
        name: str, metrics: Sequence[Mapping[str, Any]]
    ) -> tuple[tuple[MetricQuery, ...], tuple[tuple[str, Expression], ...], str]:
        queries: list[MetricQuery] = []
        expressions: list[tuple[str, Expression]] = []
        returned = [query.get("Id", "") for query in metrics if query.get("ReturnData", True)]
        if len(returned) != 1:
            raise UnsupportedAlarm(
                f"alarm {name}: exactly one of its Metrics must have ReturnData true, not {len(returned)}"
            )
        ids = [query.get("Id", "") for query in metrics]
        for query_id in ids:
            if not _QUERY_ID.fullmatch(query_id) or ids.count(query_id) > 1:
                raise UnsupportedAlarm(
                    f"alarm {name}: query id {query_id!r} must be unique and start with a "
                    "lower-case letter (then letters, digits, underscores)"
                )
        for query in metrics:
            query_id = query["Id"]
            if query.get("Expression"):
                try:
                    expressions.append((query_id, Expression(query["Expression"])))
                except MetricMathError as error:
                    raise UnsupportedAlarm(f"alarm {name}, query {query_id}: {error}") from None
            elif query.get("MetricStat"):
                stat = query["MetricStat"]
                metric = stat.get("Metric") or {}
                queries.append(
                    MetricQuery.build(
                        name,
                        query_id,
                        metric.get("Namespace"),
                        metric.get("MetricName"),
                        metric.get("Dimensions"),
                        stat.get("Stat"),
                        stat.get("Period"),
                        stat.get("Unit"),
                    )
                )
            else:
                raise UnsupportedAlarm(f"alarm {name}: query {query_id} has neither MetricStat nor Expression")
        known = set(ids)
        for query_id, expression in expressions:
            unknown = expression.ids - known
            if unknown:
                raise UnsupportedAlarm(
                    f"alarm {name}: the expression of {query_id} ({expression.text}) names "
                    f"{', '.join(sorted(unknown))}, which is no query id of the alarm "
                    f"({', '.join(ids)})"
                )
        AlarmDefinition._check_cycles(name, dict(expressions))
        return tuple(queries), tuple(expressions), returned[0]

    @staticmethod
    def _check_cycles(name: str, expressions: Mapping[str, Expression]) -> None:
        def visit(query_id: str, path: tuple[str, ...]) -> None:
            if query_id in path:
                raise UnsupportedAlarm(
                    f"alarm {name}: its expressions refer to each other in a cycle ({' -> '.join((*path, query_id))})"
                )
            for used in sorted(expressions[query_id].ids if query_id in expressions else ()):
                visit(used, (*path, query_id))

        for query_id in expressions:
            visit(query_id, ())

    def describe(self) -> str:
        """What the alarm judges, for the state reason."""
        expressions = dict(self.expressions)
        if self.returned in expressions:
            return f"{expressions[self.returned].text} over {self.period}s periods"
        query = next(query for query in self.queries if query.id == self.returned)
        return f"{query.describe()} over {self.period}s periods"

    def window(self, end: float, period: int | None = None) -> list[int]:
        """The start of each of the `evaluation_periods` periods of `period` seconds (default: the
        alarm's) that end at `end` (oldest first)."""
        period = period or self.period
        first = int(end) - period * self.evaluation_periods
        return [first + index * period for index in range(self.evaluation_periods)]

    def values(self, fetched: Mapping[str, Series], end: float, period: int | None = None) -> list[float | None]:
        """The judged series (the returned query's, expressions evaluated) over the window."""
        resolved: dict[str, Series] = dict(fetched)
        expressions = dict(self.expressions)

        def series(query_id: str) -> Series:
            if query_id not in resolved:
                expression = expressions[query_id]
                for used in expression.ids:
                    series(used)
                try:
                    resolved[query_id] = expression.evaluate(resolved)
                except MetricMathError as error:
                    raise UnsupportedAlarm(f"alarm {self.name}, query {query_id}: {error}") from None
            return resolved[query_id]

        judged = series(self.returned)
        return [judged.get(start) for start in self.window(end, period)]


@dataclass(frozen=True)
class AlarmVerdict:
    state: str
    reason: str


def evaluate(definition: AlarmDefinition, values: Sequence[float | None]) -> AlarmVerdict:
    """The state from the values of the newest `evaluation_periods` periods (None: no data).

    M of N: ALARM when at least `datapoints_to_alarm` of them breach. Missing data is, as the alarm
    says, `missing` (left out), `ignore` (left out), `breaching` or `notBreaching`; an alarm with no
    datapoint to judge is INSUFFICIENT_DATA.
    """
    compare = _COMPARISONS[definition.comparison]
    window = list(values)[-definition.evaluation_periods :]
    breaching = present = 0
    shown: list[str] = []
    for value in window:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if definition.treat_missing_data == "breaching":
                breaching += 1
                present += 1
            elif definition.treat_missing_data == "notBreaching":
                present += 1
            continue
        present += 1
        shown.append(f"{value:g}")
        if compare(value, definition.threshold):
            breaching += 1
    if breaching >= definition.datapoints_to_alarm:
        return AlarmVerdict(
            ALARM,
            (
                f"Threshold Crossed: {breaching} out of the last {len(window)} datapoints [{', '.join(shown)}] "
                f"were {definition.comparison.replace('Threshold', '')} the threshold ({definition.threshold:g}) "
                f"({definition.describe()})."
            ),
        )
    if present == 0:
        return AlarmVerdict(INSUFFICIENT_DATA, "Insufficient Data: no datapoints to evaluate.")
    return AlarmVerdict(OK, f"{breaching} of the last {len(window)} datapoints breached the threshold.")


class AlarmMonitor:
    """Evaluates named alarms against the emulator's CloudWatch (from a worker thread)."""

    # Datapoints of the last second may still be on their way: judge only settled periods.
    SETTLE_SECONDS = 2.0

    def __init__(self, cloudwatch: Any, clock: ClockScale | None = None) -> None:
        self._cloudwatch = cloudwatch
        self._clock = clock or ClockScale()
        self._reported: set[str] = set()
        self._judged: dict[str, tuple[int, AlarmVerdict]] = {}  # alarm -> (end of its newest period, verdict)

    def definitions(self, names: Sequence[str]) -> list[AlarmDefinition]:
        """The named alarms that exist; UnsupportedAlarm when one of them cannot be evaluated here."""
        if not names:
            return []
        found = self._cloudwatch.describe_alarms(AlarmNames=list(names), AlarmTypes=["MetricAlarm"])
        definitions = [AlarmDefinition.from_describe(alarm) for alarm in found.get("MetricAlarms", [])]
        missing = set(names) - {d.name for d in definitions}
        for name in sorted(missing - self._reported):
            logger.warning("alarm %s does not exist; it cannot stop a deployment", name)
            self._reported.add(name)
        return definitions

    def period(self, definition: AlarmDefinition) -> int:
        """The alarm's period in local seconds."""
        return self._clock.period(definition.period)

    def check(self, definition: AlarmDefinition, now: float) -> AlarmVerdict:
        """The alarm's state over its newest settled periods; judged once per period, as CloudWatch does."""
        period = self.period(definition)
        end = math.floor((now - self.SETTLE_SECONDS) / period) * period
        judged = self._judged.get(definition.name)
        if judged is not None and judged[0] == end:
            return judged[1]
        start = end - period * definition.evaluation_periods
        fetched = {
            query.id: query.series(
                self._cloudwatch.get_metric_statistics(**query.request(start, end, period)).get("Datapoints", [])
            )
            for query in definition.queries
        }
        verdict = evaluate(definition, definition.values(fetched, end, period))
        self._judged[definition.name] = (end, verdict)
        return verdict

    def first_in_alarm(self, names: Sequence[str], now: float) -> tuple[AlarmDefinition, AlarmVerdict] | None:
        for definition in self.definitions(names):
            verdict = self.check(definition, now)
            if verdict.state == ALARM:
                return definition, verdict
        return None

    def publish_state(self, definition: AlarmDefinition, verdict: AlarmVerdict) -> None:
        """Show the alarm's evaluated state in CloudWatch too, as CloudWatch itself would."""
        try:
            self._cloudwatch.set_alarm_state(
                AlarmName=definition.name, StateValue=verdict.state, StateReason=verdict.reason[:1023]
            )
        except Exception as error:
            logger.warning("could not record the state of alarm %s: %s", definition.name, error)
