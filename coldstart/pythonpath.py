"""The driver's import path: pyspark and py4j from their installed packages, not spark-submit's zips.

spark-submit puts `$SPARK_HOME/python/lib/pyspark.zip` and py4j's zip first on a Python job's
path. Python compiles modules imported from a zip at every start (it cannot cache their
bytecode there): ~0.4 s of the driver's start-up before the session exists, measured at 1M users
(cProfile, BENCHMARKS.md). When pyspark is pip-installed, `$SPARK_HOME` is that installed package,
and its zips hold the same code as the package beside them, whose bytecode is cached.

This module imports nothing outside the standard library: the jobs call it before pyspark is imported.
"""
from __future__ import annotations

import os
import sys

__all__ = ["prefer_installed_pyspark", "reordered"]


def _installed_copy(entry: str) -> str | None:
    """The site directory that holds the package a zip of `<site>/pyspark/python/lib/` contains, if installed."""
    lib = os.path.dirname(entry)
    name = os.path.basename(entry)
    if not name.endswith(".zip") or not lib.endswith(os.path.join("pyspark", "python", "lib")):
        return None
    site = os.path.dirname(os.path.dirname(os.path.dirname(lib)))
    if name == "pyspark.zip":
        package = os.path.join(site, "pyspark", "__init__.py")
        return site if os.path.isfile(package) else None
    if name.startswith("py4j-") and name.endswith("-src.zip"):
        # the zip's version must be the installed one: py4j-0.10.9.9-src.zip <-> py4j-0.10.9.9.dist-info
        version = name[len("py4j-"):-len("-src.zip")]
        installed = os.path.isdir(os.path.join(site, f"py4j-{version}.dist-info"))
        return site if installed and os.path.isfile(os.path.join(site, "py4j", "__init__.py")) else None
    return None


def reordered(path: list[str]) -> list[str]:
    """`path` with the installed pyspark's own zips moved to the end, when their site directory is on it."""
    normalized = {os.path.normpath(p) for p in path if p}
    moved = [p for p in path if p and (site := _installed_copy(os.path.normpath(p))) is not None
             and site in normalized]
    return [p for p in path if p not in moved] + moved


def prefer_installed_pyspark() -> None:
    """Reorder `sys.path` (see `reordered`); a no-op once pyspark is imported, or without the zips."""
    if "pyspark" not in sys.modules:
        sys.path[:] = reordered(sys.path)
