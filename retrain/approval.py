"""RequestApproval: remember the task token with the run and tell the ML leads, exactly once.

Step Functions retries a failed invocation with a *new* task token, so a retry must replace the
stored token (the one `retrain approve` sends back) but must not notify again. The notification is
claimed with a conditional write before publishing and released if publishing fails, so a retry
after a failed publish does notify. A redrive of a run that stopped while it waited is another drive
(`$$.Execution.RedriveCount`): the leads are asked again, once per drive, since the first message's
run had stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from retrain.contracts import RequestApprovalEvent
from retrain.messages import approval_request
from retrain.ports import ApprovalRequest, Notifier, PipelineStateTable
from retrain.state_table import PENDING
from retrain.timestamps import utc_iso


def request_approval(
    event: RequestApprovalEvent, store: PipelineStateTable, notifier: Notifier, now: Callable[[], datetime]
) -> dict[str, Any]:
    moment = now()
    at = utc_iso(moment)
    run = event.run
    request = ApprovalRequest(
        execution_name=run.execution_name,
        execution_arn=event.execution_arn,
        task_token=event.task_token,
        model_package_arn=event.model_package_arn,
        decision=event.decision,
        requested_at=at,
        expires_at=utc_iso(moment + timedelta(seconds=run.approval_timeout_seconds)),
        redrive_count=event.redrive_count,
    )
    store.save_approval_request(request)
    if not store.claim_notification(run.execution_name, at, event.redrive_count):
        return {"status": PENDING, "notified": False}
    subject, body = approval_request(request, run)
    try:
        notifier.publish(subject, body)
    except Exception:
        store.release_notification(run.execution_name, at)
        raise
    return {"status": PENDING, "notified": True}
