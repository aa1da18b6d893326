"""PromoteChampion: record the deployed candidate as champion and approve its model package."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.champion import promote_champion
from retrain.contracts import PromoteChampionEvent
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tasks._aws.model_registry import SageMakerModelPackageRegistry
from tasks._events import parse_event

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # the only library these calls go through
metrics = Metrics(namespace="RetrainPipeline")
dynamodb = boto3.client("dynamodb")
sagemaker = boto3.client("sagemaker")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, PromoteChampionEvent)
    store = DynamoPipelineStateTable(dynamodb, request.run.state_table, request.run.pipeline)
    registry = SageMakerModelPackageRegistry(sagemaker)
    champion = promote_champion(request, store, registry, partial(datetime.now, UTC))
    logger.info("champion recorded", extra=champion.model_dump())
    metrics.add_metric(name="ChampionsPromoted", unit=MetricUnit.Count, value=1)
    return champion.model_dump(mode="json")
