"""What running SageMaker's scripts in the image's isolated environment costs against the project's venv.

The two SageMaker job states of a cycle (TrainCandidate: `jobs/train.py`, EvaluateCandidate:
`jobs/evaluate.py`) and a model server's start (its scikit-learn, pandas and numpy imports), each run as
the local SageMaker starts it: on the project's venv (before; the committed results ran it under an import
guard of the image's profile, since removed), and on the interpreter of the image profile's isolated
environment, already built (after). The variants alternate round by
round, so both see the same load of a shared machine.

    python benchmarks/bench_isolated_runtimes.py [--rounds 3] [--days 12]   # after `retrain local runtimes`
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.sagemaker.images import ContainerRuntimes  # noqa: E402
from tests.support.jobs import (  # noqa: E402
    HYPERPARAMETERS,
    JOBS_DIR,
    demo_data,
    pack_model,
    training_env,
    write_processed,
)
from tests.support.sagemaker import IMAGE  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "isolated_runtimes.json"
SERVING_IMPORTS = "import sklearn, pandas, numpy, joblib"


def variants() -> dict[str, tuple[str, dict[str, str]]]:
    """Variant name -> (interpreter, what it adds to the environment)."""
    return {
        "project_venv": (sys.executable, {}),
        "isolated_environment": (ContainerRuntimes().interpreter(IMAGE), {}),
    }


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=JOBS_DIR, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:2])} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def one_round(name: str, python: str, extra: dict[str, str], processed: Path, folder: Path) -> dict[str, float]:
    shutil.rmtree(folder, ignore_errors=True)
    base = {key: os.environ[key] for key in ("HOME", "LANG", "PATH", "TMPDIR") if key in os.environ}
    env = {**base, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", **extra}
    sm = training_env(folder / "opt" / "ml", processed)
    train = timed([python, str(JOBS_DIR / "train.py"), *HYPERPARAMETERS], {**env, **sm})
    model_in = folder / "processing" / "model"
    model_in.mkdir(parents=True)
    pack_model(Path(sm["SM_MODEL_DIR"]), model_in / "model.tar.gz")
    evaluate = timed(
        [
            python, str(JOBS_DIR / "evaluate.py"), "--model-dir", str(model_in), "--test-dir",
            str(processed / "test"), "--output-dir", str(folder / "processing" / "output"),
            "--champion-model-uri", "none",
        ],
        env,
    )  # fmt: skip
    serving = timed([python, "-c", SERVING_IMPORTS], env)
    print(f"{name}: train {train:.2f} s, evaluate {evaluate:.2f} s, serving imports {serving:.2f} s", flush=True)
    return {"train_py": train, "evaluate_py": evaluate, "serving_imports": serving}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--days", type=int, default=12)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-isolated-") as scratch_name:
        scratch = Path(scratch_name)
        processed = write_processed(scratch / "processed", demo_data.DEFAULT_START, days=args.days, rows_per_day=600)
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for name, (python, extra) in variants().items():
                runs.setdefault(name, []).append(one_round(name, python, extra, processed, scratch / name))
    medians = {
        name: {step: round(statistics.median(r[step] for r in rounds), 2) for step in rounds[0]}
        for name, rounds in runs.items()
    }
    before, after = (sum(medians[name].values()) for name in runs)
    document = {
        "benchmark": "SageMaker scripts: the project's venv vs the image's isolated environment",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "load_average_before_and_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "rounds": args.rounds,
        "demo_days": args.days,
        "median_seconds": medians,
        "sum_of_medians_seconds": {"before": round(before, 2), "after": round(after, 2)},
        "after_vs_before": round(after / before - 1, 3),
        "runs_seconds": {
            name: [{k: round(v, 2) for k, v in r.items()} for r in rounds] for name, rounds in runs.items()
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
