"""What a local AWS's state directory keeps across restarts: not the work folders of its old Lambda workers."""

from __future__ import annotations

from pathlib import Path

from local.home import StateDirectory


def test_a_start_removes_the_lambda_workers_folders_a_previous_emulator_left(tmp_path: Path) -> None:
    home = StateDirectory(tmp_path / "home").ensure()
    left = [home.tmp / "ministack-lambda-fraud-retrain-notify-b4t94aja", home.tmp / "ministack-lambda-extract-4566"]
    for folder in left:
        (folder / "code").mkdir(parents=True)
        (folder / "code" / "handler.py").write_text("x = 1\n")
    kept = [home.tmp / "runtimes", home.glue_scratch]  # the Lambda runtimes' links, Glue's scratch
    for folder in kept:
        folder.mkdir(parents=True)

    assert home.clear_previous_workers() == 2
    assert not any(folder.exists() for folder in left)
    assert all(folder.is_dir() for folder in kept)
