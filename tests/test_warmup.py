"""The start-up warm-up (coldstart/warmup.py) leaves a Python worker with the MMR's modules loaded.

Run in a fresh process with one core (`local[1]`): there the daemon keeps exactly one
worker, so a probe after the warm-up must land in the worker the warm-up used. The test
session's own workers would not do: other tests leave several, some with these modules.
"""
from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import REPO

RUN_TIMEOUT_S = 300
SCRIPT = """\
import os, sys
import pandas as pd
from pyspark.sql import SparkSession
from coldstart.warmup import WORKER_MODULES, warm_up

spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")

def probe(batches):
    loaded = all(m in sys.modules for m in WORKER_MODULES)  # before this function imports anything
    for b in batches:
        yield pd.DataFrame({"pid": [os.getpid()] * len(b), "loaded": [loaded] * len(b)})

def run_probe():
    row = spark.range(1, numPartitions=1).mapInPandas(probe, "pid long, loaded boolean").collect()[0]
    return row["pid"], row["loaded"]

print("BEFORE", *run_probe(), "sklearn" in sys.modules)
warm_up(spark)
from coldstart.mmr import fit_tag_vectors
fit_tag_vectors([1, 2], [["a"], ["a", "b"]])  # the driver's TF-IDF fit, after the warm-up as in a run
print("AFTER", *run_probe(), "sklearn" in sys.modules)
spark.stop()
"""


def test_warm_up_loads_the_mmr_modules_in_the_reused_worker() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_HOME", "SPARK_CONF_DIR")}
    env.update(PYTHONPATH=str(REPO), PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()
             if line.startswith(("BEFORE", "AFTER"))}
    before_pid, before_loaded, before_sklearn = lines["BEFORE"]
    after_pid, after_loaded, after_sklearn = lines["AFTER"]
    # a fresh worker has not imported the MMR's modules
    assert before_loaded == "False"
    # the same (reused) worker, which the warm-up left with them loaded
    assert after_pid == before_pid
    assert after_loaded == "True"
    # neither the warm-up nor the TF-IDF fit imports scikit-learn (its import alone cost ~1.6 s of
    # CPU): coldstart.mmr computes the TF-IDF itself
    assert (before_sklearn, after_sklearn) == ("False", "False")
