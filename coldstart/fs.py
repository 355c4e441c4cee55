"""Files through Spark's Hadoop FileSystem API, so that paths may be local, hdfs:// or s3a://.

Python's `os` would only see the driver's disk; on a cluster the input and output
directories live wherever Hadoop says.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class HadoopFs:
    """A thin handle on `org.apache.hadoop.fs.FileSystem` for one SparkSession."""

    spark: SparkSession

    @property
    def _jvm(self) -> Any:
        return self.spark.sparkContext._jvm

    def _path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def _fs(self, path: str) -> Any:
        conf = self.spark.sparkContext._jsc.hadoopConfiguration()
        return self._path(path).getFileSystem(conf)

    def qualify(self, path: str) -> str:
        """`out` -> `file:/abs/out` (a stable name for siblings and messages)."""
        p = self._path(path)
        return str(self._fs(path).makeQualified(p).toString())

    def exists(self, path: str) -> bool:
        return bool(self._fs(path).exists(self._path(path)))

    def is_dir(self, path: str) -> bool:
        return bool(self._fs(path).isDirectory(self._path(path)))

    def list(self, path: str) -> list[str]:
        """The entries of a directory, as qualified path strings (`file:/abs/dir/name`)."""
        return [str(s.getPath().toString()) for s in self._fs(path).listStatus(self._path(path))]

    def delete(self, path: str) -> None:
        if self.exists(path):
            self._fs(path).delete(self._path(path), True)

    def mkdirs(self, path: str) -> None:
        self._fs(path).mkdirs(self._path(path))

    def rename(self, src: str, dst: str) -> None:
        if not self._fs(src).rename(self._path(src), self._path(dst)):
            raise OSError(f"could not rename {src} to {dst}")

    def first_line(self, path: str) -> str:
        """The first line of a file, or of the first non-empty file of a directory ('' if none)."""
        files = [path]
        if self.is_dir(path):
            files = sorted(p for p in self.list(path) if not p.rsplit("/", 1)[-1].startswith(("_", ".")))
        for file in files:
            stream = self._fs(file).open(self._path(file))
            try:
                reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
                line = reader.readLine()
            finally:
                stream.close()
            if line is not None:
                return str(line)
        return ""

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def write_bytes(self, path: str, data: bytes) -> None:
        stream = self._fs(path).create(self._path(path), True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()
