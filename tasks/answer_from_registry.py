"""AnswerFromRegistry: an ML lead's decision in the SageMaker Model Registry answers the waiting run.

EventBridge invokes it on "SageMaker Model Package State Change" of the pipeline's group: Approved
resumes the run that waits on the package, Rejected ends it (`retrain/approval_answers.py`)."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.approval_answers import ModelPackageStateChange, answer_from_registry
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tasks._aws.step_functions import StepFunctionsTasks
from tasks._events import parse_event

logger = Logger()
tracer = Tracer(patch_modules=["boto3"])  # the only library these calls go through
metrics = Metrics(namespace="RetrainPipeline")
dynamodb = boto3.client("dynamodb")
stepfunctions = boto3.client("stepfunctions")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse_event(event, ModelPackageStateChange)
    store = DynamoPipelineStateTable(dynamodb, os.environ["STATE_TABLE_NAME"], os.environ["PIPELINE_NAME"])
    result = answer_from_registry(change, store, StepFunctionsTasks(stepfunctions))
    logger.info("model registry decision handled", extra=result)
    metrics.add_metric(name="RegistryApprovalsAnswered", unit=MetricUnit.Count, value=int(result["answered"]))
    return result
