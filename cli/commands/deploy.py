"""`retrain deploy`: deploy or update the pipeline's stack, without running a cycle.

Locally (the default) it starts the local AWS when none runs and deploys the CDK app of infra/ into
it, only when something changed since the last deploy. With RETRAIN_TARGET=aws it runs
`npx cdk deploy` from the project root against the account of your credentials (docs/deploy.md);
arguments after `--` go to cdk, e.g. `-- --parameters NotificationEmail=ml-leads@example.com`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.clients import target_from_environment
from cli.deployment import cdk_deploy_command, deploy_locally, deploy_to_aws
from retrain.config import DEFAULT_CONFIG_FILE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="deploy or update the stack (local AWS, or the account with RETRAIN_TARGET=aws)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file (inside the project)")
    parser.add_argument("cdk_args", nargs="*", help="with RETRAIN_TARGET=aws: more `cdk deploy` arguments, after --")
    parser.set_defaults(handler=deploy)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def deploy(args: argparse.Namespace) -> int:
    if target_from_environment() == "aws":
        return deploy_to_aws(cdk_deploy_command(args.config, args.cdk_args), _say)
    if args.cdk_args:
        _say("retrain deploy: extra arguments go to `cdk deploy`, which only runs with RETRAIN_TARGET=aws")
        return 2
    pipeline = deploy_locally(args.config, _say)
    endpoint = pipeline.clients.endpoint_url
    print(f"stack {pipeline.config.pipeline.name} is deployed at {endpoint}")
    print(f"  state machine  {pipeline.state_machine_arn}")
    print(
        f"  data bucket    {pipeline.bucket} (land data under s3://{pipeline.bucket}/{pipeline.config.data.landing_prefix})"
    )
    print(f"  state table    {pipeline.state_table}")
    print("Next: `retrain land PATH...` (your files) or `retrain demo-data` (the demo stream), then `retrain run`")
    return 0
