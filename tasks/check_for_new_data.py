"""CheckForNewData: count landing objects after the watermark and decide whether to train; a run that
trains also counts the records the delivery stream refused in its window (`retrain.delivery_errors`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import CheckForNewDataEvent
from retrain.watermark import check_for_new_data
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tasks._aws.s3_objects import S3ObjectStore
from tasks._events import parse_event

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # the only library these calls go through
metrics = Metrics(namespace="RetrainPipeline")
s3 = boto3.client("s3")
dynamodb = boto3.client("dynamodb")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, CheckForNewDataEvent)
    store = DynamoPipelineStateTable(dynamodb, request.run.state_table, request.run.pipeline)
    objects = S3ObjectStore(s3)
    check = check_for_new_data(request, store, objects, objects, now=datetime.now(UTC))
    logger.info("landing data checked", extra=check.model_dump())
    metrics.add_metric(name="NewLandingObjects", unit=MetricUnit.Count, value=check.new_objects)
    metrics.add_metric(name="NewLandingBytes", unit=MetricUnit.Bytes, value=check.new_bytes)
    metrics.add_metric(name="RefusedRecords", unit=MetricUnit.Count, value=check.delivery_errors.records)
    return check.model_dump(mode="json")
