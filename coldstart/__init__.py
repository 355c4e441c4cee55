"""coldstart: cold-start workout recommendations per segment and per profile, on Spark."""
from __future__ import annotations

from coldstart.lookup import recommend_for

__all__ = ["recommend_for"]
