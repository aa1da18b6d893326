"""RequestApproval: store the task token with the run and notify the ML leads once."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.approval import request_approval
from retrain.contracts import RequestApprovalEvent
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tasks._aws.sns_notifier import SnsNotifier
from tasks._events import parse_event

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # the only library these calls go through
metrics = Metrics(namespace="RetrainPipeline")
dynamodb = boto3.client("dynamodb")
sns = boto3.client("sns")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, RequestApprovalEvent)
    store = DynamoPipelineStateTable(dynamodb, request.run.state_table, request.run.pipeline)
    notifier = SnsNotifier(sns, os.environ.get("TOPIC_ARN"))
    result = request_approval(request, store, notifier, partial(datetime.now, UTC))
    logger.info("approval requested", extra={"execution": request.run.execution_name, **result})
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=int(result["notified"]))
    return result
