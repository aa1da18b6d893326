"""`retrain invoke`: a prediction from the live endpoint; by default for a sample row (the demo's, or for
another dataset a complete row of the newest landed file)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.landing import sample_request
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("invoke", help="a sample prediction from the live endpoint")
    parser.add_argument("--body", default=None, help="CSV row(s) of raw columns in schema order, without the target")
    parser.add_argument("--content-type", default="text/csv", choices=("text/csv", "application/json"))
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE)
    parser.set_defaults(handler=invoke)


def invoke(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    body = args.body if args.body is not None else sample_request(pipeline.config, pipeline)
    runtime = pipeline.client("sagemaker-runtime")
    try:
        response = runtime.invoke_endpoint(
            EndpointName=pipeline.endpoint_name, ContentType=args.content_type, Accept="application/json", Body=body
        )
    except runtime.exceptions.ModelError as error:
        raise RetrainError(f"the model refused the request: {error.response.get('OriginalMessage', error)}") from None
    except runtime.exceptions.ValidationError as error:
        raise RetrainError(f"{error}; is a model deployed? run `retrain run`") from None
    answer = json.loads(response["Body"].read())
    print(f"request ({args.content_type}): {body}")
    print(f"variant {response.get('InvokedProductionVariant', '?')}: {json.dumps(answer)}")
    return 0
