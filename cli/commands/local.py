"""`retrain local up|status|down|runtimes|reset`: the embedded local AWS.

State lives under `RETRAIN_HOME` (default `.retrain/` at the project root); the port is
`RETRAIN_LOCAL_PORT` (default 4566). Nothing is bound but 127.0.0.1. `up` also deploys the stack
(as `retrain deploy` does, skipped when nothing changed), so the AWS CLI sees a ready pipeline.
SageMaker's rollout clocks (canary bakes, termination wait, alarm periods) run at
`SAGEMAKER_CLOCK_SCALE` (default 1/60: a minute in a second), read when the local AWS starts.
`runtimes` builds the isolated Python environments the local SageMaker runs jobs and model servers in,
Lambda functions run in and the local Glue its Spark jobs (docs/runtimes.md), once per user under
`RETRAIN_RUNTIME_CACHE` (default the user's cache folder); deploying the stack (`up`, `retrain run`,
`retrain deploy`) builds them when missing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.deployment import deploy_into
from local.aws import EmulatorProcess, LocalAws, LocalAwsError, environment_line
from local.clock import CLOCK_SCALE_ENV, ClockScale
from retrain.config import DEFAULT_CONFIG_FILE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run the embedded local AWS",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")

    up = commands.add_parser("up", help="start the local AWS (in the foreground unless --detach)")
    up.add_argument("--detach", "-d", action="store_true", help="run in the background; log under RETRAIN_HOME/logs")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for it to answer (default 60)")
    up.add_argument("--no-deploy", action="store_true", help="start an empty local AWS, without the stack")
    up.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="the config to deploy the stack with")
    up.set_defaults(handler=_up)

    status = commands.add_parser("status", help="print the endpoint, or exit non-zero when it is down")
    status.add_argument("--env", action="store_true", help="print the `export` line for the AWS CLI and boto3")
    status.set_defaults(handler=_status)

    down = commands.add_parser("down", help="stop the local AWS, saving its state")
    down.add_argument("--timeout", type=float, default=30.0, help="seconds to wait before killing it (default 30)")
    down.set_defaults(handler=_down)

    runtimes = commands.add_parser(
        "runtimes",
        help="build the isolated environments SageMaker jobs, model servers, Lambda functions and Glue Spark jobs "
        "run in (once; a deploy does it too)",
    )
    runtimes.set_defaults(handler=_runtimes)

    reset = commands.add_parser("reset", help="delete everything the local AWS holds")
    reset.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(handler=_reset)


def _print_ready(aws: LocalAws, endpoint: str, detached: bool) -> None:
    print(f"local AWS is up at {endpoint} (state in {aws.home.root})")
    print("Point the AWS CLI or boto3 at it:")
    print(f"  {environment_line(endpoint)}")
    if detached:
        print(f"Logs: {aws.home.emulator_log}")
        print("Stop it with: retrain local down")
    else:
        print("Press Ctrl-C to stop it (its state is saved).")
    sys.stdout.flush()


def _deploy(aws: LocalAws, args: argparse.Namespace) -> None:
    if not args.no_deploy:
        pipeline = deploy_into(aws, args.config, lambda line: print(line, file=sys.stderr, flush=True))
        print(f"stack {pipeline.config.pipeline.name} deployed: state machine {pipeline.state_machine_arn}")


def _runtimes(args: argparse.Namespace) -> int:
    from local.emulator.awslambda import build_function_environments  # only when it is needed
    from local.glue_runner import build_environments as build_glue
    from local.sagemaker.images import build_environments

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for entry in [*build_environments(say), *build_function_environments(say), *build_glue(say)]:
        print(entry)
    return 0


def _up(args: argparse.Namespace) -> int:
    aws = LocalAws()
    if args.detach:
        process = aws.start(timeout=args.timeout)
        _deploy(aws, args)
        _print_ready(aws, process.endpoint, detached=True)
        return 0
    try:
        process = aws.start(attach=True, timeout=args.timeout)
        try:
            _deploy(aws, args)
        except Exception:
            aws.stop()  # it shares this terminal: do not leave it running behind an error
            raise
        _print_ready(aws, process.endpoint, detached=False)
        return aws.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the emulator too; give it a bounded time to save its state.
        aws.stop(already_signalled=True)
        print(f"\nlocal AWS stopped; state saved in {aws.home.root}")
        return 0


def _status(args: argparse.Namespace) -> int:
    aws = LocalAws()
    process = aws.running()
    if process is None:
        print(f"local AWS is down (state in {aws.home.root}); start it with `retrain local up`")
        return 1
    if not aws.answers(process):
        print(
            f"local AWS (pid {process.pid}) runs at {process.endpoint} but does not answer; see {aws.home.emulator_log}"
        )
        return 1
    if args.env:  # a comment line: `eval` of this output still works
        print(f"{environment_line(process.endpoint)}\n# {_clock_line(process)}")
    else:
        print(f"{process.endpoint}\n{_clock_line(process)}")
    return 0


def _clock_line(process: EmulatorProcess) -> str:
    if process.clock_scale is None:
        return f"SageMaker rollout clock scale: not recorded ({CLOCK_SCALE_ENV}; restart the local AWS to see it)"
    clock = ClockScale.parse(process.clock_scale)
    return (
        f"SageMaker rollout clock scale: {clock} ({CLOCK_SCALE_ENV}): a 300 s canary bake takes "
        f"{clock.seconds(300):g} s, a 60 s alarm period {clock.period(60)} s"
    )


def _down(args: argparse.Namespace) -> int:
    aws = LocalAws()
    if aws.stop(timeout=args.timeout):
        print(f"local AWS stopped; state saved in {aws.home.root}")
    else:
        print(f"local AWS was not running (state in {aws.home.root})")
    return 0


def _reset(args: argparse.Namespace) -> int:
    aws = LocalAws()
    if not args.yes:
        if not sys.stdin.isatty():
            raise LocalAwsError("reset deletes every local resource; pass --yes to confirm when not at a terminal")
        answer = input(
            f"Delete every bucket, table, function, stack and execution of the local AWS in {aws.home.root}? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    was_running = aws.stop()
    aws.reset()
    print(
        f"local AWS reset: {aws.home.root} is empty"
        + ("; it was stopped, start it again with `retrain local up`" if was_running else "")
    )
    return 0
