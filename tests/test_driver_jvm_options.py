"""The driver's JVM options in conf/spark-defaults.conf start a JVM at any driver memory.

`spark.driver.extraJavaOptions` goes to every driver started with the conf file, whatever
`--driver-memory` it is given: an option that only works with a large heap (an initial heap
set with -Xms above the maximum) would stop small drivers before they start.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.helpers import REPO

OPTIONS_KEY = "spark.driver.extraJavaOptions"


def driver_java_options() -> list[str]:
    for line in (REPO / "conf" / "spark-defaults.conf").read_text().splitlines():
        if line.startswith(OPTIONS_KEY):
            return line[len(OPTIONS_KEY):].split()
    raise AssertionError(f"no {OPTIONS_KEY} in conf/spark-defaults.conf")


def java(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shutil.which("java") or "java", *options, "-version"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("driver_memory", ["512m", "1g", "6g"])
def test_the_driver_options_start_a_jvm_at_any_driver_memory(driver_memory: str) -> None:
    result = java(*driver_java_options(), f"-Xmx{driver_memory}")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_fixed_initial_heap_would_stop_a_small_driver() -> None:
    # the check above can fail: -Xms2g, the first form of the setting, with a 1g driver
    result = java(*driver_java_options(), "-Xms2g", "-Xmx1g")
    assert result.returncode != 0
    # (the JVM prints this on stdout)
    assert "Initial heap size set to a larger value than the maximum heap size" in result.stdout + result.stderr
