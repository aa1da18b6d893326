"""StartRetrain: the one way the schedule and new data start the state machine (never two at once)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.triggers import RetrainRequest

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="RetrainPipeline")
stepfunctions = boto3.client("stepfunctions")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state_machine = os.environ["STATE_MACHINE_ARN"]
    request = RetrainRequest.from_event(event, datetime.now(UTC))
    listing = stepfunctions.list_executions(stateMachineArn=state_machine, statusFilter="RUNNING", maxResults=10)
    decision = request.decide([execution["name"] for execution in listing["executions"]])
    if decision.start:
        try:
            stepfunctions.start_execution(
                stateMachineArn=state_machine,
                name=decision.execution_name,
                input=json.dumps(request.input_document()),
            )
        except stepfunctions.exceptions.ExecutionAlreadyExists:
            decision = request.already_started()
    logger.info("retrain trigger handled", extra=decision.as_dict())
    metrics.add_metric(name="RetrainsStarted" if decision.start else "TriggersSkipped", unit=MetricUnit.Count, value=1)
    return decision.as_dict()
