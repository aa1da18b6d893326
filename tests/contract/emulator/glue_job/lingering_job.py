"""A Glue Python shell job that writes its pid to --pid-file, then runs for two minutes without the emulator:
what a Spark job on local data does, so only the local AWS ending it ends it early."""

from __future__ import annotations

import os
import sys
import time

arguments = sys.argv[1:]
pid_file = arguments[arguments.index("--pid-file") + 1]
with open(pid_file + ".tmp", "w", encoding="utf-8") as out:
    out.write(str(os.getpid()))
os.replace(pid_file + ".tmp", pid_file)
time.sleep(120)
