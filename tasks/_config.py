"""The project configuration as the Lambdas see it: `retrain.toml` bundled at the asset root."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from retrain.config import DEFAULT_CONFIG_FILE, RetrainConfig, load_config
from retrain.errors import ConfigError

# The asset root is the folder holding tasks/, retrain/ and retrain.toml.
ASSET_ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def task_config() -> RetrainConfig:
    """Loaded once per Lambda container; `RETRAIN_CONFIG` points elsewhere (tests, custom builds)."""
    return load_config(os.environ.get("RETRAIN_CONFIG") or ASSET_ROOT / DEFAULT_CONFIG_FILE)


RUN_DEFAULTS_ENV = "RETRAIN_RUN_DEFAULTS"


@lru_cache(maxsize=1)
def run_defaults() -> dict[str, Any]:
    """Execution-input defaults of this deployment (JSON object in `RETRAIN_RUN_DEFAULTS`, set by the stack)."""
    text = os.environ.get(RUN_DEFAULTS_ENV) or "{}"
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigError(f"{RUN_DEFAULTS_ENV}: expected a JSON object, got {text!r:.80}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{RUN_DEFAULTS_ENV}: expected a JSON object, got {text!r:.80}")
    return value
