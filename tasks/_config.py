"""The project configuration as the Lambdas see it: `retrain.toml` bundled at the asset root."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from retrain.config import DEFAULT_CONFIG_FILE, RetrainConfig, load_config

# The asset root is the folder holding tasks/, retrain/ and retrain.toml.
ASSET_ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def task_config() -> RetrainConfig:
    """Loaded once per Lambda container; `RETRAIN_CONFIG` points elsewhere (tests, custom builds)."""
    return load_config(os.environ.get("RETRAIN_CONFIG") or ASSET_ROOT / DEFAULT_CONFIG_FILE)
