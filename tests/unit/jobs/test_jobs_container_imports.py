"""Every import of the SageMaker entry points, and of the job modules they import, resolves in the
scikit-learn 1.2-1 image's runtime profile (local/sagemaker/profiles/sklearn-1.2-1.toml): the static
twin of the image's isolated environment, covering code paths a test run may not reach."""

from __future__ import annotations

import ast
import importlib.metadata
import sys
from pathlib import Path

from local.runtime.isolation import RuntimeProfile, canonical
from tests.support.jobs import JOBS_DIR

PROFILE = Path(__file__).resolve().parents[3] / "local" / "sagemaker" / "profiles" / "sklearn-1.2-1.toml"
ENTRY_POINTS = ("train.py", "evaluate.py", "inference.py", "monitor.py")
# Imports that never run in the SageMaker image, with the reason.
NOT_IN_SAGEMAKER = {("features.py", "pyspark"): "the Spark half of the feature code runs in Glue only"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - {"__future__"}


def test_the_sagemaker_entry_points_import_only_what_the_image_has() -> None:
    allowed = RuntimeProfile.load(PROFILE).allowed_distributions()
    providers = importlib.metadata.packages_distributions()
    pending, seen, missing = list(ENTRY_POINTS), set(), []
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for module in sorted(imported_modules(JOBS_DIR / name)):
            if (JOBS_DIR / f"{module}.py").is_file():
                pending.append(f"{module}.py")
            elif module in sys.stdlib_module_names or (name, module) in NOT_IN_SAGEMAKER:
                continue
            elif not any(canonical(dist) in allowed for dist in providers.get(module, [])):
                missing.append(f"{name} imports {module} ({', '.join(providers.get(module, ['not installed']))})")
    assert not missing, "not in the SageMaker scikit-learn 1.2-1 image: " + "; ".join(missing)
    assert {"model_bundle.py", "features.py", "scoring.py", "failure_line.py", "report_plots.py"} <= seen
