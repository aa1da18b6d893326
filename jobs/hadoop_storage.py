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

    The same calls reach S3 on Glue (EMRFS) and the local file system elsewhere. The JVM classes are looked up
    once: through Py4J, each `jvm.a.b.C` is a round trip to the JVM per name segment, and each segment that is
    not a class (`a`, `a.b`) a class lookup that fails only after searching every jar on the driver's class
    path; a job reading the header of each of its files did that hundreds of times.
    """

    def __init__(self, spark: SparkSession) -> None:
        jvm: Any = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._path_class = jvm.org.apache.hadoop.fs.Path
        self._buffered_reader = jvm.java.io.BufferedReader
        self._input_stream_reader = jvm.java.io.InputStreamReader
        self._codec_factory_class = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory
        self._codecs: Any = None

    def _path(self, uri: str) -> Any:
        return self._path_class(uri)

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
        if self._codecs is None:
            self._codecs = self._codec_factory_class(self._conf)
        codec = self._codecs.getCodec(path)
        if codec is not None:
            stream = codec.createInputStream(stream)
        reader = self._buffered_reader(self._input_stream_reader(stream, "UTF-8"))
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
