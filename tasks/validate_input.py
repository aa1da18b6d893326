"""ValidateInput: check the execution input and resolve the run plan.

Returns the whole state document the definition carries from here on.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import ValidateInputEvent
from retrain.planning import plan_run
from tasks._config import run_defaults, task_config
from tasks._events import parse_event

logger = Logger()
tracer = Tracer(auto_patch=False)  # no AWS calls here, nothing to patch
metrics = Metrics(namespace="RetrainPipeline")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, ValidateInputEvent, user_fields=("input",))
    run = plan_run(request, task_config(), os.environ.get("AWS_REGION"), run_defaults())
    logger.info("run planned", extra={"execution": run.execution_name, "names": run.names.base})
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    return {
        "input": request.input,
        "run": run.model_dump(mode="json"),
        "data": {"checks_done": 0, "settle_checks_done": 0},
    }
