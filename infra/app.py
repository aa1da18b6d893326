"""The CDK app: `python infra/app.py` (what `cdk.json` runs) synthesizes the retrain stack.

cdk-nag's AWS Solutions checks run on every synth; an unacknowledged finding fails it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    # `python infra/app.py` puts infra/ on the path, not the project root that holds the packages.
    sys.path.insert(0, str(PROJECT_ROOT))

from aws_cdk import App, DefaultStackSynthesizer, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.settings import InfraSettings  # noqa: E402
from infra.stack import RetrainStack  # noqa: E402
from retrain.config import load_config  # noqa: E402
from retrain.job_interface import SCORING_FILE, TRAINING_FILE, JobInterface  # noqa: E402

CDK_JSON = PROJECT_ROOT / "cdk.json"


def project_context() -> dict[str, Any]:
    """The `context` of cdk.json (feature flags, defaults), for apps built outside the CDK CLI."""
    document = json.loads(CDK_JSON.read_text(encoding="utf-8"))
    context: dict[str, Any] = document.get("context", {})
    return context


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> tuple[App, RetrainStack]:
    """The app and its stack. `context` is merged under what the CDK CLI passes (which wins)."""
    app = App(context=context, outdir=outdir)
    settings = InfraSettings.from_context(app.node)
    # A relative path is from the project root; an absolute one may be anywhere.
    config_file = PROJECT_ROOT / settings.config_file
    config = load_config(config_file)
    # A metric or hyperparameter the jobs do not know would surface only after Glue and training ran.
    jobs = PROJECT_ROOT / "jobs"
    sources = [(jobs / name).read_text(encoding="utf-8") for name in (SCORING_FILE, TRAINING_FILE)]
    JobInterface.from_sources(*sources).check(config, str(config_file))
    stack = RetrainStack(
        app,
        settings.stack_name or config.pipeline.name,
        config=config,
        settings=settings,
        project_root=PROJECT_ROOT,
        config_file=config_file,
        description=f"Retrain pipeline {config.pipeline.name}: Step Functions, Glue, SageMaker (infra/app.py)",
        synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=settings.generate_bootstrap_version_rule),
        analytics_reporting=False,
    )
    # cdk-nag 3 runs as a policy validation plugin: an unacknowledged finding interrupts synth.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack


def main() -> None:
    # cdk.json's context (feature flags included) also applies when the app runs without the CDK
    # CLI (`CDK_OUTDIR=... python infra/app.py`); under the CLI, the CLI's context takes precedence.
    app, _ = build_app(project_context())
    app.synth()


if __name__ == "__main__":
    main()
