"""hadoop_storage.py: listing, first lines and small writes through the Spark session's Hadoop FileSystem."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hadoop_storage import HadoopStorage


class CountingJvm:
    """The session's JVM view, counting the names looked up from its root (`jvm.org`, `jvm.java`)."""

    def __init__(self, jvm: Any) -> None:
        self._jvm = jvm
        self.looked_up: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.looked_up[name] += 1
        return getattr(self._jvm, name)


class Session:
    def __init__(self, spark: Any, jvm: CountingJvm) -> None:
        self.sparkContext = type("Context", (), {"_jvm": jvm, "_jsc": spark.sparkContext._jsc})()


@pytest.mark.spark
def test_the_jvm_classes_are_looked_up_once_not_per_file(spark: Any, tmp_path: Path) -> None:
    # Each `jvm.org.apache.hadoop.fs.Path` is a Py4J round trip per name segment, and each segment that is not
    # a class a lookup through every jar on the driver's class path: once per storage, not per file.
    for day in range(3):
        folder = tmp_path / f"date=2025-01-0{day + 1}"
        folder.mkdir()
        (folder / "part-0.csv").write_text(f"id,day\n1,{day}\n")
    jvm = CountingJvm(spark.sparkContext._jvm)
    storage = HadoopStorage(Session(spark, jvm))
    at_start = sum(jvm.looked_up.values())

    folders = storage.children(tmp_path.as_uri())
    files = [item for folder in folders for item in storage.children(folder.uri)]
    lines = [storage.first_line(item.uri) for item in files]
    storage.write_text((tmp_path / "done.json").as_uri(), "{}\n")

    assert [folder.name for folder in folders] == ["date=2025-01-01", "date=2025-01-02", "date=2025-01-03"]
    assert lines == ["id,day"] * 3
    assert (tmp_path / "done.json").read_text() == "{}\n"
    assert sum(jvm.looked_up.values()) == at_start
