"""CompareWithChampion: apply the promotion policy to the evaluation job's metrics."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import CompareWithChampionEvent
from retrain.policy import compare_with_champion
from tasks._aws.s3_objects import S3ObjectStore
from tasks._config import task_config
from tasks._events import parse_event

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # the only library these calls go through
metrics = Metrics(namespace="RetrainPipeline")
s3 = boto3.client("s3")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, CompareWithChampionEvent)
    decision = compare_with_champion(request, task_config().promotion, S3ObjectStore(s3))
    logger.info("candidate compared", extra={"promote": decision.promote, "reasons": decision.reasons})
    metrics.add_metric(name="CandidatesPromotable", unit=MetricUnit.Count, value=int(decision.promote))
    return decision.model_dump(mode="json")
