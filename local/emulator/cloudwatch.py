"""CloudWatch: metric math alarms keep their `Metrics`, from a template and from PutMetricAlarm alike.

An automatic-rollback alarm is often metric math (the stack's error-rate alarm divides the
`Invocation5XXErrors` sum by the `Invocations` sum). The emulator lost such alarms twice over:

- `MetricMathAlarmTemplates`: its CloudFormation refused an `AWS::CloudWatch::Alarm` with `Metrics`
  (and gave a percentile alarm a `Statistic` beside its `ExtendedStatistic`). Pinned by
  `tests/contract/emulator/test_cloudformation.py` (`test_a_metric_math_alarm_keeps_its_queries`,
  `test_a_metric_math_alarm_without_one_returned_series_fails_the_deploy`).
- `MetricMathAlarms`: its `PutMetricAlarm` dropped the request's `Metrics` and described the alarm
  with made-up single-metric defaults (`Statistic` Average, `Period` 60, no metric). Pinned by
  `tests/contract/local_sagemaker/test_endpoints.py` (`test_cloudwatch_keeps_the_queries_of_a_metric_math_alarm`)
  and `tests/unit/emulator/test_cloudwatch.py`.

- `CompositeAlarmTemplates`: its CloudFormation refused `AWS::CloudWatch::CompositeAlarm` (the drift alarm).
  Pinned by `tests/contract/emulator/test_cloudformation.py` (`test_a_composite_alarm_deploys_over_its_children`).

- `AlarmStateEvents`: no alarm state change reached EventBridge. Pinned by
  `tests/contract/emulator/test_alarm_events.py`.

The first two store the alarm as `DescribeAlarms` shows it on AWS (the queries kept, no single-metric members),
so the local SageMaker's rollback controller (`local.sagemaker.alarms`) can evaluate it; both refuse
what AWS refuses through one check (`metrics_problem`), each in its own surface's words.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.emulator.seam import ExtensionPoints, cloudformation_provisioners, replace, require, service

# The members of a single-metric alarm: AWS refuses them beside Metrics and never describes them with it.
SINGLE_METRIC_MEMBERS = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit")
_FLAT_KEY = re.compile(r"Metrics\.member\.\d+(\.|$)")

logger = logging.getLogger("retrain.local")

Handler = Callable[..., tuple[int, dict[str, str], bytes]]


@dataclass(frozen=True)
class MetricsProblem:
    """Why AWS refuses an alarm's `Metrics`: `kind` is one of `combined` (single-metric `names` beside
    them), `not-a-list`, `no-id` and `stat-or-expression` (of the query at 1-based `index`, with
    `query_id`), and `returned` (`names` are the queries with ReturnData true; exactly one must be)."""

    kind: str
    names: tuple[str, ...] = ()
    index: int = 0
    query_id: str = ""


def _returns_data(query: Mapping[str, Any]) -> bool:
    # A template spells booleans as strings ("false"); the API as booleans.
    return str(query.get("ReturnData", True)).lower() == "true"


def metrics_problem(metrics: Any, request: Mapping[str, Any]) -> MetricsProblem | None:
    """The one check of a metric math alarm's `Metrics` (with the rest of its `request`); None when valid."""
    alongside = tuple(name for name in SINGLE_METRIC_MEMBERS if request.get(name))
    if alongside:
        return MetricsProblem("combined", alongside)
    if not isinstance(metrics, list) or not all(isinstance(query, dict) for query in metrics):
        return MetricsProblem("not-a-list")
    for index, query in enumerate(metrics, start=1):
        if not query.get("Id"):
            return MetricsProblem("no-id", index=index)
        if bool(query.get("MetricStat")) == bool(query.get("Expression")):
            return MetricsProblem("stat-or-expression", index=index, query_id=str(query["Id"]))
    returned = tuple(str(query["Id"]) for query in metrics if _returns_data(query))
    if len(returned) != 1:
        return MetricsProblem("returned", returned)
    return None


# --- PutMetricAlarm -----------------------------------------------------------------------------


def _unflatten(params: dict[str, Any]) -> list[dict[str, Any]]:
    """`Metrics.member.1.MetricStat.Metric.Dimensions.member.1.Name=...` (query protocol) as a list."""
    root: dict[Any, Any] = {}
    for key, raw in params.items():
        if not _FLAT_KEY.match(key):
            continue
        value = raw[0] if isinstance(raw, list) else raw
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            if part != "member":  # "member.<n>" is the n-th element of a list
                node = node.setdefault(int(part) if part.isdigit() else part, {})
        node[parts[-1]] = value

    def shaped(node: Any, name: str = "") -> Any:
        if not isinstance(node, dict):
            if name == "ReturnData":
                return str(node).lower() == "true"
            return int(node) if name == "Period" else node
        if node and all(isinstance(key, int) for key in node):
            return [shaped(node[index]) for index in sorted(node)]
        return {key: shaped(item, key) for key, item in node.items()}

    metrics = shaped(root).get("Metrics", [])
    return metrics if isinstance(metrics, list) else []


def requested_metrics(params: dict[str, Any], body: dict[str, Any], structured: bool) -> list[dict[str, Any]] | None:
    if structured:
        metrics = body.get("Metrics")
        return list(metrics) if metrics else None
    return _unflatten(params) or None


def request_problem(metrics: list[dict[str, Any]], request: dict[str, Any]) -> str | None:
    """Why PutMetricAlarm refuses these Metrics, in AWS's words; None when it does not."""
    problem = metrics_problem(metrics, request)
    if problem is None:
        return None
    if problem.kind == "combined":
        return (
            f"Metrics cannot be combined with {', '.join(problem.names)}: a metric math alarm names its metrics "
            "in its MetricStat queries."
        )
    if problem.kind == "not-a-list":
        return "Metrics must be a list of MetricDataQuery objects."
    if problem.kind == "no-id":
        return f"Metrics.member.{problem.index}.Id is required."
    if problem.kind == "stat-or-expression":
        return (
            f"Metrics.member.{problem.index} ({problem.query_id}) must have exactly one of MetricStat and Expression."
        )
    return (
        f"Exactly one element of the Metrics list must have ReturnData true (the alarm's time series); "
        f"{len(problem.names)} do ({', '.join(problem.names) or 'none'})."
    )


class MetricMathAlarms:
    """Wraps the emulator CloudWatch's PutMetricAlarm handler (once, however often installed)."""

    def install(self) -> None:
        cloudwatch = service("cloudwatch")
        for name in ("_p", "_error", "_alarms"):
            require(cloudwatch, name)
        replace(cloudwatch, "_put_metric_alarm", self._keeping_metrics, "metric-math-alarms")

    @staticmethod
    def _keeping_metrics(original: Handler) -> Handler:
        cloudwatch = service("cloudwatch")

        def put_metric_alarm(
            params: dict[str, Any], body: dict[str, Any], is_cbor: bool, is_json: bool = False
        ) -> tuple[int, dict[str, str], bytes]:
            structured = is_cbor or is_json
            metrics = requested_metrics(params, body, structured)
            if metrics is None:
                return original(params, body, is_cbor, is_json)
            request = body if structured else {name: cloudwatch._p(params, name) for name in SINGLE_METRIC_MEMBERS}
            problem = request_problem(metrics, request)
            if problem is not None:
                return cloudwatch._error("ValidationError", problem, 400, use_json=is_json, use_cbor=is_cbor)
            response = original(params, body, is_cbor, is_json)
            name = body.get("AlarmName") if structured else cloudwatch._p(params, "AlarmName")
            alarm = cloudwatch._alarms.get(name)
            if response[0] < 300 and alarm is not None:
                alarm["Metrics"] = metrics
                for member in SINGLE_METRIC_MEMBERS:
                    alarm.pop(member, None)
            return response

        return put_metric_alarm


# --- AWS::CloudWatch::Alarm ---------------------------------------------------------------------


class MetricMathAlarmTemplates:
    """`AWS::CloudWatch::Alarm` with `Metrics` (metric math): the emulator's CloudFormation refused
    it. The alarm is stored as PutMetricAlarm stores one with `Metrics` (the queries kept, no
    single-metric members), so DescribeAlarms returns its `Metrics` and the local SageMaker's
    rollback controller can evaluate it. A percentile alarm (`ExtendedStatistic`) is stored without
    the `Statistic` the emulator added."""

    SINGLE_METRIC = SINGLE_METRIC_MEMBERS

    def install(self) -> None:
        replace(cloudformation_provisioners(), "_cw_metric_alarm_record", self._with_metrics)

    def _with_metrics(self, original: Callable[[str, dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
        def record(name: str, props: dict[str, Any]) -> dict[str, Any]:
            metrics = props.get("Metrics")
            if not metrics:
                alarm = original(name, props)
                if alarm.get("ExtendedStatistic"):
                    # A percentile alarm has no Statistic (the emulator filled in Average).
                    alarm.pop("Statistic", None)
                return alarm
            queries = self.queries(name, metrics, props)
            # The single-metric path checks and shapes everything else (threshold, actions, state).
            placeholder = {k: v for k, v in props.items() if k != "Metrics" and k not in self.SINGLE_METRIC}
            alarm = original(name, {**placeholder, "MetricName": "-", "Namespace": "-"})
            for member in self.SINGLE_METRIC:
                alarm.pop(member, None)
            alarm["Metrics"] = queries
            return alarm

        return record

    def queries(self, name: str, metrics: Any, props: dict[str, Any]) -> list[dict[str, Any]]:
        """The template's MetricDataQuery list in PutMetricAlarm's shape; refuses what AWS refuses."""
        problem = metrics_problem(metrics, props)
        if problem is not None:
            raise ValueError(f"alarm {name}: {self.template_problem(problem)}")
        shaped = []
        for query in metrics:
            item = dict(query)
            # Template values may arrive as strings ("true", "60"); the API shape has bools and ints.
            if "ReturnData" in item:
                item["ReturnData"] = _returns_data(item)
            if "Period" in item:
                item["Period"] = int(item["Period"])
            if isinstance(item.get("MetricStat"), dict):
                stat = dict(item["MetricStat"])
                if "Period" in stat:
                    stat["Period"] = int(stat["Period"])
                item["MetricStat"] = stat
            shaped.append(item)
        return shaped

    @staticmethod
    def template_problem(problem: MetricsProblem) -> str:
        """A problem in the words of a template's properties (`Metrics[1]`, not `Metrics.member.1`)."""
        if problem.kind == "combined":
            return (
                f"Metrics cannot be combined with {', '.join(problem.names)}; a metric math alarm names its "
                "metrics in its MetricStat queries"
            )
        if problem.kind == "not-a-list":
            return "Metrics must be a list of MetricDataQuery objects"
        if problem.kind == "no-id":
            return f"Metrics[{problem.index}].Id is required"
        if problem.kind == "stat-or-expression":
            return f"Metrics[{problem.index}] ({problem.query_id}) needs exactly one of MetricStat and Expression"
        return f"exactly one of Metrics must have ReturnData true (the alarm's series), {len(problem.names)} do"


# --- AWS::CloudWatch::CompositeAlarm -----------------------------------------------------------


class CompositeAlarmTemplates:
    """`AWS::CloudWatch::CompositeAlarm`: the emulator's CloudWatch has PutCompositeAlarm (rules, states,
    children's transitions), its CloudFormation refused the type. Created and updated through that
    handler, so a template refuses what the API refuses (a rule naming a missing alarm); `Ref` is the name,
    `Arn` its ARN; `AlarmName` is create-only (CloudFormation reference, AWS::CloudWatch::CompositeAlarm)."""

    RESOURCE_TYPE = "AWS::CloudWatch::CompositeAlarm"
    # The template's properties that PutCompositeAlarm takes as they are.
    PROPERTIES = (
        "AlarmRule",
        "AlarmDescription",
        "ActionsEnabled",
        "AlarmActions",
        "OKActions",
        "InsufficientDataActions",
    )

    def install(self, points: ExtensionPoints) -> None:
        cloudwatch = service("cloudwatch")
        for name in ("_put_composite_alarm", "_delete_alarms", "_composite_alarms"):
            require(cloudwatch, name)
        points.add_cloudformation_resource(
            self.RESOURCE_TYPE,
            self.create,
            update=self.update,
            delete=self.delete,
            create_only_properties=("AlarmName",),
            name_property="AlarmName",
        )

    def create(self, logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, dict[str, Any]]:
        name = props.get("AlarmName") or f"{stack_name}-{logical_id}"
        return self._put(logical_id, str(name), props)

    def update(
        self, physical_id: str, old_props: dict[str, Any], new_props: dict[str, Any], stack_name: str
    ) -> tuple[str, dict[str, Any]]:
        return self._put(physical_id, physical_id, new_props)

    def delete(self, physical_id: str, props: dict[str, Any]) -> None:
        service("cloudwatch")._delete_alarms({}, {"AlarmNames": [physical_id]}, False, True)

    def _put(self, logical_id: str, name: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        request: dict[str, Any] = {"AlarmName": name}
        request.update({key: props[key] for key in self.PROPERTIES if key in props})
        if isinstance(request.get("ActionsEnabled"), str):  # template values may arrive as strings
            request["ActionsEnabled"] = request["ActionsEnabled"].lower() != "false"
        cloudwatch = service("cloudwatch")
        status, _, body = cloudwatch._put_composite_alarm({}, request, False, True)
        if status >= 400:
            message = json.loads(body or b"{}").get("message", body)
            raise ValueError(f"{logical_id} ({self.RESOURCE_TYPE}): {message}")
        return name, {"Arn": cloudwatch._composite_alarms[name]["AlarmArn"]}


# --- alarm state change events -------------------------------------------------------------------


class AlarmStateEvents:
    """Every alarm state change as a "CloudWatch Alarm State Change" event on the default bus, composite
    alarms' too (CloudWatch user guide, "Alarm events and EventBridge": "CloudWatch sends events to Amazon
    EventBridge whenever a CloudWatch alarm ... changes alarm state"). The emulator changed states (its
    evaluation, SetAlarmState, composite rules) and sent SNS actions, but no event. The detail has the
    documented fields: `alarmName`, `state` (`value`, `reason`, `reasonData` when set, `timestamp`),
    `previousState` and `configuration` (`alarmRule` of a composite, `metrics` of a metric alarm)."""

    def install(self) -> None:
        cloudwatch = service("cloudwatch")
        require(cloudwatch, "_dispatch_alarm_actions")
        require(service("eventbridge"), "_put_events")
        replace(cloudwatch, "_dispatch_alarm_actions", self._emitting, "alarm-state-events")

    @classmethod
    def _emitting(cls, original: Callable[..., Any]) -> Callable[..., Any]:
        def dispatch(alarm: dict[str, Any], old_state: str, new_state: str, reason: str) -> Any:
            if old_state != new_state:
                try:
                    service("eventbridge")._put_events(
                        {"Entries": [cls.entry(alarm, old_state)]}, allow_aws_source=True
                    )
                except Exception:  # an event that cannot be sent must not undo the state change, as on AWS
                    logger.warning("alarm state change event of %s not sent", alarm.get("AlarmName"), exc_info=True)
            return original(alarm, old_state, new_state, reason)

        return dispatch

    @classmethod
    def entry(cls, alarm: Mapping[str, Any], old_state: str) -> dict[str, Any]:
        """The PutEvents entry of `alarm`'s change from `old_state` to its current state."""
        state: dict[str, Any] = {
            "value": alarm.get("StateValue"),
            "reason": alarm.get("StateReason", ""),
            "timestamp": _event_timestamp(alarm.get("StateUpdatedTimestamp")),
        }
        if alarm.get("StateReasonData"):
            state["reasonData"] = alarm["StateReasonData"]
        detail = {
            "alarmName": alarm.get("AlarmName"),
            "state": state,
            "previousState": {"value": old_state},
            "configuration": cls.configuration(alarm),
        }
        return {
            "Source": "aws.cloudwatch",
            "DetailType": "CloudWatch Alarm State Change",
            "Detail": json.dumps(detail),
            "Resources": [alarm.get("AlarmArn", "")],
        }

    @staticmethod
    def configuration(alarm: Mapping[str, Any]) -> dict[str, Any]:
        if "AlarmRule" in alarm:
            return {"alarmRule": alarm["AlarmRule"], "description": alarm.get("AlarmDescription", "")}
        if alarm.get("Metrics"):
            metrics = [{key[0].lower() + key[1:]: value for key, value in query.items()} for query in alarm["Metrics"]]
        else:
            dimensions = {item.get("Name"): item.get("Value") for item in alarm.get("Dimensions") or []}
            metric = {"namespace": alarm.get("Namespace"), "name": alarm.get("MetricName"), "dimensions": dimensions}
            stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic")
            metrics = [
                {
                    "id": "m1",
                    "metricStat": {"metric": metric, "period": alarm.get("Period"), "stat": stat},
                    "returnData": True,
                }
            ]
        return {"description": alarm.get("AlarmDescription", ""), "metrics": metrics}


def _event_timestamp(epoch: Any) -> str:
    """`2022-07-22T15:57:45.394+0000`, the events' timestamp format."""
    moment = datetime.fromtimestamp(float(epoch) if epoch is not None else time.time(), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
