"""Drift starts a retrain, end to end on a local AWS of its own: the champion serves, its traffic is captured,
the endpoint's data-quality schedule compares it with the champion's baseline, a drifted feature's alarm
fires, the composite drift alarm's event reaches the starter, and a `drift` run trains on the new days.

Where the demo stream drifts for Model Monitor: its fraud patterns take turns (jobs/demo_data.py), but fraud
is 2% of the rows, so the inputs' distributions barely move with them (drift distances of 0.02 at most);
what does move is `account_age_days`, as the card holders' accounts age with the stream: its distance from
a baseline of the first weeks passes the 0.1 threshold after about 180 days and is 0.2 after 300
(measured with jobs/baseline.py and jobs/drift.py on the generator's days). So the drift test lands 270
days after the champion's (the first 240 thin, `retrain demo-data --rows-per-day`, to keep the run's
90-day training window about as large as the first run's), replays the newest two, and expects the
violation on `account_age_days`. The twin replays two days of the champion's training period: no
violation, every drift alarm OK, no run started.

Live quality, in the same module and on the same served champion: the monitoring job joins the captured
predictions with the labels landed for them. The twin's training days carry their true labels, which the model
gets right: the live average precision is far above the threshold, the quality alarm is OK. Then the newest two
landed days (like the serving champion's training data: no drift) get labels that say the model is wrong (their
`is_fraud` shuffled, as if the labels that arrived later contradicted it), are replayed, and the schedule's run
publishes a live average precision near the fraud rate: the quality alarm fires and the starter starts a
`quality` run whose reason names the metric, its value, the threshold, the window and the number of labelled
predictions. The run is stopped there: what follows is any run's, which the drift test already follows.

The schedule is run through the local SageMaker's test hook (`tests/support/monitoring.py`), so the tests
wait for one execution, not for the scaled hour; the hourly schedule also runs by itself every minute at
the local clock scale, over the same traffic, which changes nothing either test asserts.
"""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cli.executions import read_timeline
from cli.landing import landing_keys
from local.clock import ClockScale, configured_clock_scale
from retrain.monitoring import monitoring_schedule_name
from retrain.quality_alarm import quality_alarm_name
from tests.support.capture_format import capture_records
from tests.support.monitoring import trigger_monitoring_schedule
from tests.support.pipeline import RUN_TIMEOUT, LocalPipeline
from tests.support.polling import wait_until

pytestmark = [pytest.mark.local, pytest.mark.slow]

EXECUTION_TIMEOUT = 300.0
TERMINAL = ("Completed", "CompletedWithViolations", "Failed", "Stopped")
DRIFTED_FEATURE = "account_age_days"  # see the module's docstring
TRAINING_DAYS = "2025-01-03..2025-01-04"  # of the first run's 30 days from 2025-01-01, in its training split


def schedule_of(local: LocalPipeline) -> str:
    return monitoring_schedule_name(local.pipeline.endpoint_name)


def capture_objects(local: LocalPipeline) -> list[dict[str, Any]]:
    """The endpoint's capture files, as S3 lists them."""
    pipeline, s3 = local.pipeline, local.client("s3")
    prefix = f"{pipeline.config.data.capture_prefix}{pipeline.endpoint_name}/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=pipeline.bucket, Prefix=prefix)
    return [item for page in pages for item in page.get("Contents", [])]


def newest_capture(local: LocalPipeline) -> float:
    """When the endpoint's newest capture file was written (0 before any)."""
    return max((item["LastModified"].timestamp() for item in capture_objects(local)), default=0.0)


def captured_after(local: LocalPipeline, after: float) -> int:
    """How many invocations the capture files written after `after` (a LastModified) hold."""
    s3, bucket = local.client("s3"), local.pipeline.bucket
    keys = [item["Key"] for item in capture_objects(local) if item["LastModified"].timestamp() > after]
    return sum(len(capture_records(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) for key in keys)


def replay(local: LocalPipeline, days: str) -> str:
    """Send the landed rows of `days` to the endpoint, once the traffic captured before has left the window a
    monitoring run judges (the hourly schedule's period: a minute at the local clock scale), so that the test's
    run judges this replay alone. An earlier replay still in the window halved the drifted feature's distance
    (0.100, not above 0.1) once the cycle before it got fast."""
    period = ClockScale.parse(configured_clock_scale(local.env)).seconds(3600)
    settle = period + 2  # the window's end rounds up to a whole second; a capture is written up to 1 s late
    wait_until(lambda: time.time() - newest_capture(local) > settle, settle + 60, "the window to hold no capture")
    before = newest_capture(local)
    command = local.retrain("invoke", "--replay", days, "--batch-size", "100", "--max-requests", "100")
    printed, complaint = command.communicate(timeout=300)
    assert command.returncode == 0, complaint
    assert "refused by the model" in printed and " 0 refused" in printed, printed
    # The endpoint answers before it writes the capture (buffered, flushed each second, as SageMaker's platform
    # batches it): a run triggered right after the replay found no capture in its window and failed with
    # NoCapturedData. Wait until every request of the replay is captured.
    sent = re.search(r" in ([0-9]+) request\(s\)", printed)
    assert sent is not None, printed
    requests = int(sent.group(1))
    wait_until(lambda: captured_after(local, before) >= requests, 30, f"the replay's {requests} requests' captures")
    return printed


def monitoring_run(local: LocalPipeline) -> dict[str, Any]:
    """The schedule's execution now (the test hook), once it ended."""
    schedule = schedule_of(local)
    sagemaker = local.client("sagemaker")
    started = trigger_monitoring_schedule(local.aws.clients().endpoint_url, schedule)
    assert started.get("ProcessingJobArn"), started  # the window held captured traffic

    def ended() -> dict[str, Any] | None:
        executions = sagemaker.list_monitoring_executions(MonitoringScheduleName=schedule, MaxResults=100)
        for execution in executions["MonitoringExecutionSummaries"]:
            if execution.get("ProcessingJobArn") == started["ProcessingJobArn"]:
                return execution if execution["MonitoringExecutionStatus"] in TERMINAL else None
        return None

    return dict(wait_until(ended, EXECUTION_TIMEOUT, f"the execution of {schedule} to end"))


def drift_alarms(local: LocalPipeline) -> dict[str, str]:
    """Each drift alarm's state by name: the composite's and the features'."""
    found = local.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=f"{schedule_of(local)}-drift", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    return {alarm["AlarmName"]: alarm["StateValue"] for alarm in found["MetricAlarms"] + found["CompositeAlarms"]}


def quality_alarm_state(local: LocalPipeline) -> str:
    found = local.client("cloudwatch").describe_alarms(AlarmNames=[quality_alarm_name(schedule_of(local))])
    return str(found["MetricAlarms"][0]["StateValue"])


def alarm_trigger(local: LocalPipeline, alarm: str, *, enabled: bool) -> None:
    """Turn the `drift` or `quality` alarm's rule to the starter on or off, as `new_data_trigger` does the
    landing's."""
    events = local.client("events")
    rule = f"{local.pipeline.config.pipeline.name}-{alarm}"
    (events.enable_rule if enabled else events.disable_rule)(Name=rule)


def execution_names(local: LocalPipeline) -> set[str]:
    sfn = local.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=local.pipeline.state_machine_arn)
    return {execution["name"] for page in pages for execution in page["executions"]}


def monitor(local: LocalPipeline) -> str:
    command = local.retrain("monitor")
    printed, complaint = command.communicate(timeout=60)
    assert command.returncode == 0, complaint
    return printed


@pytest.mark.usefixtures("champion")
def test_traffic_like_the_training_data_raises_no_violation_and_starts_nothing(local: LocalPipeline) -> None:
    before = execution_names(local)
    printed = replay(local, TRAINING_DAYS)
    assert "2025-01-03:" in printed and "2025-01-04:" in printed

    execution = monitoring_run(local)

    assert execution["MonitoringExecutionStatus"] == "Completed", execution
    states = drift_alarms(local)
    schedule = schedule_of(local)
    assert f"{schedule}-drift" in states and len(states) > 1
    # The run's datapoints are in: every feature's alarm judged them, and none crossed the threshold.
    assert set(states.values()) == {"OK"}, states
    assert execution_names(local) == before
    shown = monitor(local)
    assert f"monitoring schedule {schedule}: Scheduled" in shown
    assert f"drift alarm {schedule}-drift: OK" in shown
    # Their labels landed with them and the model gets them right: the live metric is well above the bar.
    assert quality_alarm_state(local) == "OK"
    live = re.search(r"live quality: average_precision ([0-9.]+) over ([0-9]+) labelled predictions", shown)
    assert live is not None and float(live.group(1)) > 0.2 and int(live.group(2)) >= 100, shown
    assert f"quality alarm {quality_alarm_name(schedule)}: OK (threshold 0.2)" in shown


@pytest.mark.usefixtures("champion")
def test_drifted_traffic_fires_the_drift_alarm_and_a_drift_run_trains_a_better_champion(local: LocalPipeline) -> None:
    local.new_data_trigger(enabled=False)  # the run under test is the drift alarm's, not the landing's
    # ...nor the quality alarm's: the champion of the first weeks may also be wrong on the new days' fraud patterns
    # (their labels), which the quality test below judges on its own.
    alarm_trigger(local, "quality", enabled=False)
    for days in (("--days", "240", "--rows-per-day", "100"), ("--days", "30")):
        landed = local.retrain("demo-data", *days)
        assert landed.wait(timeout=300) == 0, landed.communicate()[1]
    local.settle()
    before = execution_names(local)
    champion_config = local.endpoint()["EndpointConfigName"]

    printed = replay(local, "2")
    assert "2025-10-26:" in printed and "2025-10-27:" in printed  # the newest days: 300 after the first
    execution = monitoring_run(local)

    # On failure, what the run judged: each feature's drift, the replay's rows and the serving config.
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", (
        execution,
        monitor(local),
        printed,
        champion_config,
        local.endpoint()["EndpointConfigName"],
    )
    schedule = schedule_of(local)
    states = drift_alarms(local)
    assert states[f"{schedule}-drift-{DRIFTED_FEATURE}"] == "ALARM"
    assert states[f"{schedule}-drift"] == "ALARM"
    shown = monitor(local)
    assert "CompletedWithViolations" in shown and "constraint_violations.json" in shown
    [row] = [line.split() for line in shown.splitlines() if line.split()[:1] == [DRIFTED_FEATURE]]
    assert float(row[1]) > 0.1 and row[3] == "ALARM", shown
    assert any(check.strip(",") == "baseline_drift_check" for check in row[4:]), shown

    def started() -> str | None:
        return next(iter(sorted(execution_names(local) - before)), None)

    name = str(wait_until(started, 120, "the drift alarm's run to start"))
    arn = local.pipeline.execution_arn(name)
    sent = json.loads(local.client("stepfunctions").describe_execution(executionArn=arn)["input"])
    assert sent["trigger"] == "drift"
    # The reason names the drifted feature and its value, read from the feature's alarm by the starter.
    assert sent["reason"].startswith(f"drift alarm {schedule}-drift: "), sent
    assert re.search(rf"\b{DRIFTED_FEATURE} [0-9.]+ > 0\.1\b", sent["reason"]), sent
    # The run trains on the new days; a better candidate asks for approval, and is approved here.
    wait_until(
        lambda: local.approval_status(name) == "PENDING" or read_timeline(local.pipeline, arn).status != "RUNNING",
        RUN_TIMEOUT,
        "the drift run to ask for approval",
    )
    approve = local.retrain("approve", name, "--reason", "drift retrain", "--as", "test-lead")
    assert approve.wait(timeout=60) == 0, approve.communicate()[1]
    timeline = wait_until(
        lambda: (found := read_timeline(local.pipeline, arn)).status != "RUNNING" and found,
        RUN_TIMEOUT,
        "the drift run to end",
    )
    assert timeline.outcome == "Promoted", timeline.error
    request = timeline.last_visit("RequestApproval")
    assert request is not None
    decision = request.input["decision"]
    metric = local.pipeline.config.promotion.metric
    assert decision["candidate"][metric] > decision["champion"][metric]
    assert local.endpoint()["EndpointConfigName"] != champion_config


def contradict_labels(local: LocalPipeline, days: int) -> list[str]:
    """The newest `days` landed days' labels shuffled in place (their rows and features as they were): labels
    that arrived later and say the model is wrong. Returns the days."""
    pipeline, s3 = local.pipeline, local.client("s3")
    prefix = pipeline.config.data.landing_prefix
    keys = [key for key in landing_keys(s3, pipeline.bucket, prefix) if key.endswith(".csv")]
    newest = sorted({key[len(prefix) :].split("/", 1)[0] for key in keys})[-days:]
    rng = np.random.default_rng(16)
    target = pipeline.config.dataset.target
    for key in (key for key in keys if key[len(prefix) :].split("/", 1)[0] in newest):
        body = s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()
        rows = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
        rows[target] = rng.permutation(rows[target].to_numpy())
        s3.put_object(Bucket=pipeline.bucket, Key=key, Body=rows.to_csv(index=False).encode())
    return [day.removeprefix("date=") for day in newest]


@pytest.mark.usefixtures("champion")
def test_labels_that_show_the_model_wrong_fire_the_quality_alarm_and_start_a_quality_run(local: LocalPipeline) -> None:
    local.new_data_trigger(enabled=False)  # the rewritten labels must not start a new-data run
    local.settle()
    alarm_trigger(local, "quality", enabled=True)
    # The run under test is the quality alarm's: the newest days may drift a little from the baseline of the
    # champion's older training days, which is the drift test's business.
    alarm_trigger(local, "drift", enabled=False)
    schedule = schedule_of(local)
    # The serving champion on the newest landed days (what it was trained on, or the first weeks' last days):
    # right on their true labels, so the quality alarm is OK (whatever an earlier test's traffic left it at).
    replay(local, "2")
    assert monitoring_run(local)["MonitoringExecutionStatus"] in TERMINAL[:2]
    assert quality_alarm_state(local) == "OK"
    days = contradict_labels(local, 2)
    before = execution_names(local)

    printed = replay(local, "2")
    assert all(f"{day}:" in printed for day in days), printed
    execution = monitoring_run(local)

    assert execution["MonitoringExecutionStatus"] in TERMINAL[:2], execution
    assert quality_alarm_state(local) == "ALARM"
    shown = monitor(local)
    live = re.search(r"live quality: average_precision ([0-9.]+) over ([0-9]+) labelled predictions", shown)
    assert live is not None and float(live.group(1)) < 0.2 and int(live.group(2)) >= 100, shown
    assert f"quality alarm {quality_alarm_name(schedule)}: ALARM (threshold 0.2)" in shown

    def started() -> str | None:
        return next(iter(sorted(execution_names(local) - before)), None)

    name = str(wait_until(started, 120, "the quality alarm's run to start"))
    arn = local.pipeline.execution_arn(name)
    sfn = local.client("stepfunctions")
    sent = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    try:
        assert sent["trigger"] == "quality", sent
        reason = re.fullmatch(
            rf"quality alarm {quality_alarm_name(schedule)}: average_precision ([0-9.]+) < 0\.2 over ([0-9]+) "
            r"labelled predictions in the 3600 s window of \S+",
            sent["reason"],
        )
        assert reason is not None, sent
        detail = sent["detail"]
        assert detail["metric"] == "average_precision" and detail["threshold"] == 0.2
        assert detail["value"] < 0.2 and detail["labelled_predictions"] == int(reason.group(2)) >= 100
        shown_run = local.retrain("show", name)
        printed_run, complaint = shown_run.communicate(timeout=60)
        assert shown_run.returncode == 0, complaint
        assert f"trigger quality: {sent['reason']}" in printed_run, printed_run
    finally:
        if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            sfn.stop_execution(executionArn=arn, cause="the test checks the quality run's start only")
        local.settle()
        alarm_trigger(local, "drift", enabled=True)
