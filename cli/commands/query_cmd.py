"""`retrain query "SQL"`: an Athena query of the pipeline's catalog (docs/your-data.md, "Querying the processed
data"). The database and workgroup are the stack's outputs; the table is `[catalog].table`, partitioned by
`run` and `split`. Rows print as an aligned table, or as JSON with --json; a failed query is one line with
Athena's reason."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from botocore.exceptions import ClientError

from cli.athena import DEFAULT_TIMEOUT_SECONDS, QueryFailed, QueryTarget, run_query
from cli.pipeline import DeployedPipeline
from retrain.config import DEFAULT_CONFIG_FILE
from retrain.errors import RetrainError
from retrain.s3_uri import split_s3_uri

MAX_TIMEOUT_SECONDS = 3600


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "query", help="run an Athena SQL query on the catalog of the processed data", description=__doc__
    )
    parser.add_argument("sql", help='the query, e.g. "SELECT run, split, count(*) FROM processed GROUP BY 1, 2"')
    parser.add_argument("--json", action="store_true", help="print the rows as JSON objects")
    parser.add_argument(
        "--output-location", default=None, help="s3://bucket/prefix/ for the results (default: the workgroup's)"
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds to wait before cancelling the query"
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file")
    parser.set_defaults(handler=query)


def query(args: argparse.Namespace) -> int:
    if not args.sql.strip():
        raise RetrainError('the query is empty; pass the SQL as one argument: retrain query "SELECT ..."')
    if not 1 <= args.timeout <= MAX_TIMEOUT_SECONDS:
        raise RetrainError(f"--timeout must be 1-{MAX_TIMEOUT_SECONDS} seconds, got {args.timeout:g}")
    output_location = args.output_location
    if output_location is not None:
        try:
            split_s3_uri(output_location)
        except ValueError as error:
            raise RetrainError(f"--output-location: {error}") from None
        output_location = output_location if output_location.endswith("/") else output_location + "/"
    pipeline = DeployedPipeline.connect(args.config)
    outputs = pipeline.outputs
    if "AthenaWorkGroupName" not in outputs:
        raise RetrainError(
            f"the stack {pipeline.config.pipeline.name!r} has no catalog yet; update it with `retrain deploy`"
        )
    target = QueryTarget(outputs["CatalogDatabaseName"], outputs["AthenaWorkGroupName"], output_location)
    athena = pipeline.client("athena")
    try:
        result = run_query(athena, args.sql, target, timeout_seconds=args.timeout)
    except ClientError as error:  # refused at submission (syntax, an unknown workgroup, ...)
        message = " ".join(str(error.response.get("Error", {}).get("Message") or error).split())
        raise QueryFailed(f"Athena refused the query: {message}") from None
    if args.json:
        print(result.as_json())
    else:
        print("\n".join(result.table_lines()))
        rows = len(result.rows)
        print(
            f"({rows} row{'s' if rows != 1 else ''}, {result.scanned_bytes:,} bytes scanned, {result.seconds:.1f} s, "
            f"query {result.query_id})",
            file=sys.stderr,
        )
    return 0
