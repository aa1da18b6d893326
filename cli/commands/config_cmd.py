"""`retrain check-config`: validates retrain.toml and prints the resolved settings."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.config_file import load_checked_config
from retrain.config import DEFAULT_CONFIG_FILE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("check-config", help="validate retrain.toml (exit 2 on the first problem)")
    parser.add_argument("--config", default=DEFAULT_CONFIG_FILE, help="path of the config file")
    parser.add_argument("--show", action="store_true", help="print the resolved config, defaults included")
    parser.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    config = load_checked_config(args.config)  # a ConfigError becomes one line and exit code 2 in main()
    if args.show:
        print(json.dumps(config.model_dump(mode="json", by_alias=True), indent=2))
    else:
        monitoring = config.monitoring.schedule_expression or "off"
        print(
            f"{args.config}: OK (pipeline {config.pipeline.name}, endpoint {config.deployment.endpoint_name}, "
            f"monitoring {monitoring})"
        )
    return 0
