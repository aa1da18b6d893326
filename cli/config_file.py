"""The config as every subcommand loads it: `retrain.toml` checked on its own, then against what the
jobs of this checkout accept and produce (`retrain.job_interface`)."""

from __future__ import annotations

from pathlib import Path

from retrain.config import RetrainConfig, load_config
from retrain.errors import ConfigError
from retrain.job_interface import SCORING_FILE, TRAINING_FILE, JobInterface

JOBS_DIR = Path(__file__).resolve().parents[1] / "jobs"


def load_checked_config(path: str | Path, jobs_dir: Path = JOBS_DIR) -> RetrainConfig:
    config = load_config(path)
    job_interface(jobs_dir).check(config, str(path))
    return config


def job_interface(jobs_dir: Path = JOBS_DIR) -> JobInterface:
    sources = []
    for name in (SCORING_FILE, TRAINING_FILE):
        try:
            sources.append((jobs_dir / name).read_text(encoding="utf-8"))
        except OSError:
            raise ConfigError(f"{jobs_dir / name} not found: run `retrain` from a checkout of the project") from None
    return JobInterface.from_sources(*sources)
