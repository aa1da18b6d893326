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
