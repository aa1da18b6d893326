"""`retrain invoke`: a prediction from the live endpoint; by default for a sample row (the demo's, or for
another dataset a complete row of the newest landed file). `--replay DAYS` sends the landed rows of the
newest DAYS days, or of the days named, instead (`cli/replay.py`), `--batch-size` rows a request, bounded by
`--max-requests`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.landing import sample_request
from cli.pipeline import DeployedPipeline
from cli.replay import MAX_BATCH_ROWS, MAX_DAYS, MAX_REQUESTS, DaySelection, replay
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("invoke", help="a sample prediction from the live endpoint")
    parser.add_argument("--body", default=None, help="CSV row(s) of raw columns in schema order, without the target")
    parser.add_argument("--content-type", default="text/csv", choices=("text/csv", "application/json"))
    parser.add_argument(
        "--replay",
        metavar="DAYS",
        default=None,
        help=(
            f"send the landed rows of the newest DAYS days (1-{MAX_DAYS}), or of the days named: YYYY-MM-DD, "
            "YYYY-MM-DD..YYYY-MM-DD, comma-separated"
        ),
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=100,
        # 100: a few days replay in seconds (one row a request took ~0.3 s each on a loaded 2-core machine).
        help=f"rows a replayed request (1-{MAX_BATCH_ROWS}, default 100; a request of one row carries its id as "
        "InferenceId)",
    )
    parser.add_argument(
        "--max-requests", type=int, default=1000, help=f"at most this many replayed requests (1-{MAX_REQUESTS})"
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE)
    parser.set_defaults(handler=invoke)


def invoke(args: argparse.Namespace) -> int:
    pipeline = DeployedPipeline.connect(args.config)
    if args.replay is not None:
        if args.body is not None:
            raise RetrainError("--replay sends landed rows; leave out --body")
        s3, runtime = pipeline.client("s3"), pipeline.client("sagemaker-runtime")
        result = replay(
            pipeline.config,
            s3,
            runtime,
            pipeline.bucket,
            pipeline.endpoint_name,
            DaySelection.parse(args.replay),
            args.max_requests,
            args.batch_size,
        )
        print(result.summary(pipeline.endpoint_name))
        for line in result.details():
            print(line)
        return 0
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
