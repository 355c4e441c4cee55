"""coldstart: cold-start workout recommendations per segment, on Spark."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coldstart.lookup import recommend_for

__all__ = ["recommend_for"]


def __getattr__(name: str) -> Any:
    # lazily: importing any coldstart module must not import pyspark and pandas with it
    # (the jobs set up the import path first, see coldstart/pythonpath.py)
    if name == "recommend_for":
        from coldstart.lookup import recommend_for
        return recommend_for
    raise AttributeError(f"module 'coldstart' has no attribute {name!r}")
