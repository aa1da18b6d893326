"""Notify: one SNS message per outcome (success, failure, kept, rejected), linking the execution.

Every result carries the SNS `message_id`. For a failure (and a rejection) it also carries the
FailureSummary fields `error` and `cause`: the caught error classified (`retrain.failures`), so the
definition's Fail state reports the domain error name and a cause that says how to fix it. A
rejected or expired approval is also closed in the state table, so `retrain approve` no longer
offers it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from retrain.contracts import FailureSummary, NotifyEvent
from retrain.errors import ApprovalRejected, InvalidTaskInput
from retrain.execution_arn import ExecutionArn
from retrain.failures import classify
from retrain.messages import candidate_rejected, champion_kept, champion_promoted, pipeline_failed
from retrain.ports import Notifier, PipelineStateTable
from retrain.state_table import EXPIRED, REJECTED
from retrain.timestamps import utc_iso

REJECTED_ERROR = ApprovalRejected.__name__
_TIMEOUTS = ("States.Timeout", "States.HeartbeatTimeout")


def notify(
    event: NotifyEvent, notifier: Notifier, store: PipelineStateTable | None, now: Callable[[], datetime]
) -> dict[str, Any]:
    execution = ExecutionArn.parse(event.execution_arn)
    run = event.run
    pipeline = run.pipeline if run else execution.state_machine
    if event.kind == "failure":
        failure = classify(event.error)
        message_id = notifier.publish(*pipeline_failed(pipeline, run, failure, execution))
        return {**failure.model_dump(), "message_id": message_id}
    if event.kind == "rejected":
        outcome = rejection(event.error)
        if run is not None and store is not None:
            status = EXPIRED if outcome.error in _TIMEOUTS else REJECTED
            store.close_approval(run.execution_name, status, utc_iso(now()), outcome.cause)
        message_id = notifier.publish(*candidate_rejected(pipeline, run, outcome, execution))
        return {**outcome.model_dump(), "message_id": message_id}
    if run is None:
        raise InvalidTaskInput(f"event.run: missing; a {event.kind} notification needs the run plan")
    compose = champion_promoted if event.kind == "success" else champion_kept
    subject, body = compose(run, event.decision, execution)
    return {"kind": event.kind, "subject": subject, "message_id": notifier.publish(subject, body)}


def rejection(error: Mapping[str, Any] | None) -> FailureSummary:
    """Who rejected and why (the `retrain reject` cause is JSON, a hand-sent one may be text)."""
    error = error or {}
    name = str(error.get("Error") or REJECTED_ERROR)
    cause = str(error.get("Cause") or "")
    if name in _TIMEOUTS:
        return FailureSummary(error=name, cause="no ML lead approved or rejected the candidate in time")
    try:
        detail = json.loads(cause)
    except ValueError:
        detail = None
    if isinstance(detail, dict) and detail.get("reason"):
        who = detail.get("rejected_by") or detail.get("approved_by")
        cause = f"rejected by {who}: {detail['reason']}" if who else str(detail["reason"])
    return FailureSummary(error=name, cause=" ".join(cause.split())[:400] or "no reason given")
