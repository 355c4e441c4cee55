"""One-time start-up costs paid in the background, while the driver reads the inputs' headers.

Two costs that a run pays one after the other, each once per process, can be paid at
the start instead, when one of the two cores is idle (the driver then works alone: it
lists files and reads Parquet footers):
- Spark's ICU case mapping (`lower`, `initcap`) initialises its tables the first time it
  is used (~2 s of one core, measured with JFR; validation normalises categories with it);
- the first pandas UDF starts Spark's Python worker daemon, forks a worker and imports
  pandas, pyarrow, numpy and scipy in it: ~2 s of the MMR stage of a cold run, against
  0.25 s for the MMR itself. A one-row `mapInPandas` that imports `WORKER_MODULES` leaves
  an idle worker with all of that loaded, and the MMR reuses it (workers are reused:
  `spark.python.worker.reuse`, on by default).
Measured in alternating runs (BENCHMARKS.md): about -3 s of a 33-40 s run at 100k users, -2.7 s
on average at 1M (4 pairs); that warm-up also imported scikit-learn on the driver, which the
TF-IDF no longer needs (`coldstart.mmr.tfidf_matrix`).
Nothing here changes a result: a warm-up that fails is logged (debug) and the run goes on.
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

# what the MMR's pandas UDF imports in its worker (`rerank.py` pickles a closure over `coldstart.mmr`)
WORKER_MODULES = ("coldstart.mmr",)


def _import_worker_modules(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    for name in WORKER_MODULES:
        importlib.import_module(name)
    yield from batches


def warm_up(spark: SparkSession) -> None:
    """Initialise the case mapping and one Python worker (one task)."""
    start = time.perf_counter()
    try:
        text = F.col("id").cast("string")  # a column, not a literal: evaluated in the task, not folded away
        (spark.range(1, numPartitions=1).select(F.initcap(text).alias("a"), F.lower(text).alias("b"))
         .mapInPandas(_import_worker_modules, "a string, b string").collect())  # one row, built here
    except Exception:  # never fails a run: the real work reports any problem itself
        # (also what happens when a run stops early, on bad input, with the warm-up still going)
        log.debug("warm-up did not finish", exc_info=True)
        return
    log.info("warm-up done in %.1f s (case mapping, a Python worker)", time.perf_counter() - start)


def start_warmup(spark: SparkSession) -> threading.Thread:
    """`warm_up` in a daemon thread, started now; joining it is optional."""
    thread = threading.Thread(target=warm_up, args=(spark,), name="coldstart-warmup", daemon=True)
    thread.start()
    return thread
