"""The Glue job's storage: the Hadoop FileSystem of its Spark session, s3:// on Glue and file:// elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class StoredObject:
    name: str
    uri: str
    is_folder: bool
    size: int


class HadoopStorage:
    """Listing, peeking and small writes through the Hadoop FileSystem of the Spark session.

    The same calls reach S3 on Glue (EMRFS) and the local file system elsewhere.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._jvm: Any = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def children(self, uri: str) -> list[StoredObject]:
        path = self._path(uri)
        system = path.getFileSystem(self._conf)
        if not system.exists(path):
            return []
        found = []
        for status in system.listStatus(path):
            child = status.getPath()
            found.append(StoredObject(child.getName(), child.toString(), status.isDirectory(), status.getLen()))
        return sorted(found, key=lambda item: item.name)

    def first_line(self, uri: str) -> str | None:
        """The first line of a (possibly compressed) text file, or None when it is empty."""
        path = self._path(uri)
        stream = path.getFileSystem(self._conf).open(path)
        codec = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(self._conf).getCodec(path)
        if codec is not None:
            stream = codec.createInputStream(stream)
        reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
        try:
            line = reader.readLine()
        finally:
            reader.close()
        return None if line is None else str(line)

    def write_text(self, uri: str, text: str) -> None:
        path = self._path(uri)
        stream = path.getFileSystem(self._conf).create(path, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
