"""A `retrain` command starts without the data libraries it does not use: the whole-cycle tests start hundreds of
commands, and importing pandas at the start was over a second of each one's CPU (1.3 s of 2.3 s; `python -X
importtime -m cli --help`). The commands that read data files import it where they read them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "pyarrow", "pyspark", "sklearn", "sagemaker")


def test_the_command_line_and_every_command_module_import_without_the_data_libraries() -> None:
    probe = (
        "import importlib, pkgutil, sys, cli.main, cli.commands\n"
        "for module in pkgutil.iter_modules(cli.commands.__path__):\n"
        "    importlib.import_module(f'cli.commands.{module.name}')\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert loaded.stdout.strip() == "[]", loaded.stdout
