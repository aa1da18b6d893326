"""A class-data sharing archive for the local Spark driver's JVM: its classes loaded from a mapped file, not parsed.

Each local Glue run starts a JVM that loads some ten thousand Spark, Scala and Hadoop classes: parsing and
verifying them is about half the CPU of a warm driver's start on two cores (benchmarks/results/glue_warm.json,
`class_data_sharing`). HotSpot's dynamic archive (JDK 13+, JEP 350: `-XX:ArchiveClassesAtExit` writes the classes
a run loaded, `-XX:SharedArchiveFile` maps them in the next) removes most of it. It changes how classes are
loaded, never which: the JVM checks the archive against its own build and the class path and, with the default
`-Xshare:auto`, loads from the jars when they differ. Glue's drivers are untouched: this is the local runner's.

The archive is a cache of a built runtime environment, made by `retrain local runtimes` after the environment,
one per JVM build (`java_identity`) and per state of Spark's jars (`class_path_identity`): another Java, or Spark's
jars installed again (an environment's `pyspark` is linked from the one that built it, which can be recreated at the
same path), find none of their own and run without one until it is built again. Mapping an archive of other jars
would be refused by the JVM, and with `-Xshare:on` fail the start.
It is dumped to a temporary file and renamed into place, since a JVM that maps a truncated archive crashes
(SIGBUS); a run never waits on it, nor builds it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess  # the JVM's own version line  # nosec B404
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

FOLDER = "jvm-class-archives"
SPARK_JARS = "pyspark/jars"  # relative to site-packages


def java_binary(environ: Mapping[str, str]) -> str | None:
    """The `java` Spark's launcher runs (`bin/spark-class`: `$JAVA_HOME/bin/java`, else the one on PATH)."""
    home = environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java", path=environ.get("PATH"))


@cache
def _identity_of(java: str) -> str | None:
    try:
        version = subprocess.run(  # a fixed argv, no shell  # nosec B603
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if version.returncode != 0:
        return None
    return hashlib.sha256(f"{os.path.realpath(java)}\n{version.stderr}".encode()).hexdigest()[:16]


def java_identity(environ: Mapping[str, str]) -> str | None:
    """A key of the JVM build (its real path and full version), None without a usable `java`."""
    java = java_binary(environ)
    return _identity_of(java) if java else None


def class_path_identity(entry: Path) -> str:
    """A key of what HotSpot checks an archive's class path against (JDK 17 `SharedClassPathEntry::validate` in
    `cds/filemap.cpp`: each jar's path, modification time and size, "A jar file is not the one used while
    building the shared archive file" otherwise): `entry`'s Spark jars, as the launcher finds them (through the
    linked `pyspark`, resolved as PySpark's `find_spark_home` resolves it)."""
    lines = []
    for jar in sorted(entry.glob(f"lib/python*/site-packages/{SPARK_JARS}/*.jar")):
        stat = jar.stat()
        lines.append(f"{jar.resolve()} {stat.st_size} {stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def archive_path(entry: Path, environ: Mapping[str, str]) -> Path | None:
    """Where the archive of `entry`'s Spark jars for this machine's JVM is (or goes); None without a JVM."""
    identity = java_identity(environ)
    return entry / FOLDER / f"{identity}-{class_path_identity(entry)}.jsa" if identity else None


def java_options(entry: Path, environ: Mapping[str, str]) -> tuple[str, ...]:
    """The driver's JVM options that map the archive, when it is built for this JVM; else none."""
    path = archive_path(entry, environ)
    return (f"-XX:SharedArchiveFile={path}",) if path is not None and path.is_file() else ()


def dump_archive(
    entry: Path, environ: Mapping[str, str], run: Callable[[str], int], report: Callable[[str], None]
) -> Path | None:
    """The archive of `entry`, dumped unless it is: `run(java_option)` runs a representative Spark session whose
    driver JVM gets `java_option` and returns its JVM's exit code. None (reported) when it could not be made:
    runs are slower without it, never wrong."""
    path = archive_path(entry, environ)
    if path is None:
        report("no usable `java` found: the local Spark driver's class archive is not built")
        return None
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}-{os.getpid()}.jsa")
    try:
        code = run(f"-XX:ArchiveClassesAtExit={partial}")
        if code != 0 or not partial.is_file() or partial.stat().st_size == 0:
            report(f"the local Spark driver's class archive was not built (its JVM exited {code}); runs start slower")
            return None
        partial.replace(path)  # a reader maps a whole archive or none
    finally:
        partial.unlink(missing_ok=True)
    _remove_stale(path)
    return path


def _remove_stale(current: Path) -> None:
    """The same JVM's archives of jars that are no longer there (a JVM that maps one keeps its mapping)."""
    java = current.stem.split("-")[0]
    for other in current.parent.glob(f"{java}*.jsa"):
        if other != current:
            other.unlink(missing_ok=True)
