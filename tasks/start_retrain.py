"""StartRetrain: the one way the schedule, new data, the drift alarm and the end of a run start the state machine.

Never two at once; a trigger that comes while a retrain runs is queued for a follow-up run
(`retrain/triggers.py`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.triggers import handle_trigger
from tasks._aws.cloudwatch_alarms import CloudWatchAlarmStates
from tasks._aws.dynamodb_state import DynamoPipelineStateTable
from tasks._aws.step_functions import StepFunctionsExecutions

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="RetrainPipeline")
stepfunctions = boto3.client("stepfunctions")
dynamodb = boto3.client("dynamodb")
cloudwatch = boto3.client("cloudwatch")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    executions = StepFunctionsExecutions(stepfunctions, os.environ["STATE_MACHINE_ARN"])
    queue = DynamoPipelineStateTable(dynamodb, os.environ["STATE_TABLE_NAME"], os.environ["PIPELINE_NAME"])
    alarms = CloudWatchAlarmStates(cloudwatch)
    decision = handle_trigger(event, datetime.now(UTC), executions, queue, alarms)
    logger.info("retrain trigger handled", extra=decision.as_dict())
    outcome = "RetrainsStarted" if decision.start else "TriggersQueued" if decision.queued else "TriggersSkipped"
    metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
    return decision.as_dict()
