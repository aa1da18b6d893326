"""The `retrain` command: one subcommand module per concern, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as EndpointUnreachable

from retrain.errors import RetrainError

# Each module defines `register(subparsers)`; a subcommand's handler returns the exit code.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "cli.commands.config_cmd",
    "cli.commands.demo_data",
    "cli.commands.deploy",
    "cli.commands.invoke_cmd",
    "cli.commands.land",
    "cli.commands.local",
    "cli.commands.monitor_cmd",
    "cli.commands.query_cmd",
    "cli.commands.redrive_cmd",
    "cli.commands.run",
    "cli.commands.runs_cmd",
    "cli.commands.stream",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retrain", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:  # not written yet; its subcommands are simply absent
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except RetrainError as error:
        print(f"retrain: {error}", file=sys.stderr)
        return 2
    except (EndpointUnreachable, HTTPClientError) as error:
        # The local AWS stopped or died under the command (or AWS is unreachable): no traceback.
        print(
            f"retrain: lost the connection to AWS ({error}); for the local AWS see `retrain local status`, start it "
            f"with `retrain local up` and run the command again",
            file=sys.stderr,
        )
        return 2
    except (BotoCoreError, ClientError) as error:
        # A call the command's own checks did not foresee: AWS's message, in one line.
        print(f"retrain: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("retrain: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (`retrain runs | head`): stop quietly, as a shell tool does. Python's
        # own flush at exit would fail again on the closed pipe, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
