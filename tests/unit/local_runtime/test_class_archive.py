"""The local Spark driver's class archive (`local.runtime.class_archive`): one per JVM build, in place whole or
not at all, since a JVM that maps a truncated archive crashes (SIGBUS, measured with OpenJDK 17)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from local.runtime import class_archive


def fake_java(home: Path, version: str) -> dict[str, str]:
    """A JAVA_HOME whose `java -version` prints `version` (as `java` does, on stderr)."""
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version}' >&2\n", encoding="utf-8")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "JAVA_HOME": str(home)}


def test_each_jvm_build_has_an_archive_of_its_own(tmp_path: Path) -> None:
    seventeen = fake_java(tmp_path / "jdk-17", 'openjdk version "17.0.15" 2025-04-15')
    patched = fake_java(tmp_path / "jdk-17-patched", 'openjdk version "17.0.16" 2025-07-15')
    same_again = {**seventeen}

    paths = [class_archive.archive_path(tmp_path / "env", environ) for environ in (seventeen, patched, same_again)]

    assert paths[0] is not None and paths[0].parent == tmp_path / "env" / class_archive.FOLDER
    assert paths[0] != paths[1]
    assert paths[0] == paths[2]


def test_without_a_java_there_is_no_archive_and_no_option(tmp_path: Path) -> None:
    environ = {"JAVA_HOME": str(tmp_path / "no-jdk"), "PATH": ""}
    assert class_archive.archive_path(tmp_path, environ) is None
    assert class_archive.java_options(tmp_path, environ) == ()
    said: list[str] = []
    assert (
        class_archive.dump_archive(tmp_path, environ, lambda option: pytest.fail("no JVM to run"), said.append) is None
    )
    assert "no usable `java`" in said[0]


def test_an_archive_is_renamed_into_place_only_whole(tmp_path: Path) -> None:
    environ = fake_java(tmp_path / "jdk", 'openjdk version "17.0.15"')
    entry = tmp_path / "env"
    said: list[str] = []

    def dies_mid_dump(option: str) -> int:
        Path(option.removeprefix("-XX:ArchiveClassesAtExit=")).write_bytes(b"half an archive")
        return 134  # e.g. killed while it wrote

    assert class_archive.dump_archive(entry, environ, dies_mid_dump, said.append) is None
    assert "exited 134" in said[0]
    assert list((entry / class_archive.FOLDER).iterdir()) == []  # not the final name, nor the partial file
    assert class_archive.java_options(entry, environ) == ()

    options: list[str] = []

    def dumps(option: str) -> int:
        options.append(option)
        Path(option.removeprefix("-XX:ArchiveClassesAtExit=")).write_bytes(b"the classes")
        return 0

    built = class_archive.dump_archive(entry, environ, dumps, said.append)
    assert built == class_archive.archive_path(entry, environ) and built is not None
    assert built.read_bytes() == b"the classes"
    assert options[0] != f"-XX:ArchiveClassesAtExit={built}"  # dumped elsewhere, then renamed
    assert class_archive.java_options(entry, environ) == (f"-XX:SharedArchiveFile={built}",)
    # Built: not again.
    assert class_archive.dump_archive(entry, environ, lambda option: pytest.fail("built twice"), said.append) == built


def test_spark_installed_again_at_the_same_path_needs_an_archive_of_its_own(tmp_path: Path) -> None:
    """The failure this pins (a CI run): the environment's `pyspark` is linked from the one that built it, that
    one was recreated at the same path, and the archive of the old jars was mapped; HotSpot refused it ("A jar
    file is not the one used while building the shared archive file"), fatally under `-Xshare:on`."""
    environ = fake_java(tmp_path / "jdk", 'openjdk version "17.0.15"')
    installed = tmp_path / "host-env" / "pyspark"
    entry = tmp_path / "env"
    (entry / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    (entry / "lib" / "python3.11" / "site-packages" / "pyspark").symlink_to(installed)

    def install_spark(mtime: int) -> None:
        jars = installed / "jars"
        jars.mkdir(parents=True, exist_ok=True)
        for name in ("spark-core_2.12-3.5.9.jar", "curator-client-2.13.0.jar"):
            (jars / name).write_bytes(b"classes")
            os.utime(jars / name, (mtime, mtime))

    def dumps(option: str) -> int:
        Path(option.removeprefix("-XX:ArchiveClassesAtExit=")).write_bytes(b"the classes")
        return 0

    install_spark(mtime=1_700_000_000)
    first = class_archive.dump_archive(entry, environ, dumps, print)
    assert first is not None
    assert class_archive.java_options(entry, environ) == (f"-XX:SharedArchiveFile={first}",)

    install_spark(mtime=1_700_000_100)  # the same files, installed again

    assert class_archive.java_options(entry, environ) == ()  # the old archive is not mapped
    second = class_archive.dump_archive(entry, environ, dumps, print)
    assert second is not None and second != first
    assert class_archive.java_options(entry, environ) == (f"-XX:SharedArchiveFile={second}",)
    assert not first.exists()  # replaced, not left to pile up
