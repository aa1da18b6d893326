"""Notify: one message per outcome; for a failure, the named error and cause for the Fail state."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import NotifyEvent
from retrain.notifications import notify
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tasks._aws.sns_notifier import SnsNotifier
from tasks._events import parse_event

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # the only library these calls go through
metrics = Metrics(namespace="RetrainPipeline")
sns = boto3.client("sns")
dynamodb = boto3.client("dynamodb")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, NotifyEvent)
    run = request.run
    store = DynamoPipelineStateTable(dynamodb, run.state_table, run.pipeline) if run else None
    result = notify(request, SnsNotifier(sns, os.environ.get("TOPIC_ARN")), store, partial(datetime.now, UTC))
    logger.info("notified", extra={"kind": request.kind, **result})
    metrics.add_metric(name=f"Outcome{request.kind.title()}", unit=MetricUnit.Count, value=1)
    return result
