"""`spark-submit.sh` in local mode: the driver's class-data archive (CDS) is written by a job's
first run and mapped by the next, with the settings of `conf/` still applied.

A tiny job stands in for the main one (`COLDSTART_CDS=on` archives any job): the mechanism is the
same, and the two runs cost ~20 s instead of ~80 s.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

RUN_TIMEOUT_S = 300
# what the job prints: two settings that come from conf/spark-defaults.conf (Spark's own defaults
# are 200 shuffle partitions and 16 bits for the fast hash map); no query, to keep the test short
PROBE = """\
from coldstart.runtime import build_session
spark = build_session("cds-probe")
print("PROBE", spark.conf.get("spark.sql.shuffle.partitions"),
      spark.conf.get("spark.sql.codegen.aggregate.fastHashMap.capacityBit"))
"""
EXPECTED = "PROBE 16 18"


def submit(job: Path, cds_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_HOME", "SPARK_CONF_DIR", "HADOOP_CONF_DIR", "YARN_CONF_DIR", "SPARK_SUBMIT_OPTS")}
    env.update(COLDSTART_CDS="on", COLDSTART_CDS_DIR=str(cds_dir), SPARK_LOCAL_IP="127.0.0.1",
               PYTHONPATH=str(REPO), PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
    env.update(extra)
    return subprocess.run([str(REPO / "spark-submit.sh"), str(job)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)


def test_first_run_writes_the_archive_and_the_next_maps_it(tmp_path: Path) -> None:
    job, cds_dir = tmp_path / "probe.py", tmp_path / "cds"
    job.write_text(PROBE)

    first = submit(job, cds_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert EXPECTED in first.stdout
    # conf/log4j2.properties still applies without conf/ on the class path: Spark's default profile
    # would log at INFO, and the native-library warning is silenced there
    assert "INFO" not in first.stderr and "NativeCodeLoader" not in first.stderr, first.stderr[-3000:]
    # the driver JVM read conf/jit-directives.json (printed by the JVM, on stderr)
    assert "1 compiler directives added" in first.stderr and "directives" not in first.stdout
    archives = sorted(p.name for p in cds_dir.iterdir())
    assert len(archives) == 1 and archives[0].startswith("probe-") and archives[0].endswith(".jsa"), archives

    # -Xshare:on makes the JVM refuse to start when it cannot map the archive (another class path,
    # another JVM): a zero exit shows that the second run used it
    second = submit(job, cds_dir, SPARK_SUBMIT_OPTS="-Xshare:on")
    assert second.returncode == 0, second.stderr[-3000:]
    assert EXPECTED in second.stdout
    assert "writing the driver's class-data archive" not in second.stderr
    assert sorted(p.name for p in cds_dir.iterdir()) == archives

