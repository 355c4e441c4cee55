"""`coldstart.pythonpath`: the installed pyspark's own zips go after its site directory, others stay."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coldstart.pythonpath import reordered
from tests.helpers import REPO

PY4J_VERSION = "0.10.9.9"


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    """A pip-style site directory: pyspark and py4j installed, pyspark's zips inside its package."""
    site = tmp_path / "site-packages"
    lib = site / "pyspark" / "python" / "lib"
    lib.mkdir(parents=True)
    (site / "pyspark" / "__init__.py").write_text("")
    (site / "py4j").mkdir()
    (site / "py4j" / "__init__.py").write_text("")
    (site / f"py4j-{PY4J_VERSION}.dist-info").mkdir()
    for name in ("pyspark.zip", f"py4j-{PY4J_VERSION}-src.zip"):
        (lib / name).write_bytes(b"")
    return site


def zips(site: Path) -> tuple[str, str]:
    lib = site / "pyspark" / "python" / "lib"
    return str(lib / "pyspark.zip"), str(lib / f"py4j-{PY4J_VERSION}-src.zip")


def test_the_installed_pysparks_zips_go_last(site: Path) -> None:
    pyspark_zip, py4j_zip = zips(site)
    # as spark-submit starts a driver: --py-files first, then pyspark's zips, then the interpreter's path
    path = ["/job", "/build/coldstart.zip", pyspark_zip, py4j_zip, "/usr/lib/python311.zip", str(site)]
    assert reordered(path) == ["/job", "/build/coldstart.zip", "/usr/lib/python311.zip", str(site),
                               pyspark_zip, py4j_zip]


def test_zips_of_a_spark_home_without_installed_packages_stay(site: Path) -> None:
    # a Spark installation's zips are its only pyspark when its directory is not on the path
    pyspark_zip, py4j_zip = zips(site)
    path = ["/job", pyspark_zip, py4j_zip, "/usr/lib/python3.11"]
    assert reordered(path) == path


def test_a_py4j_zip_of_another_version_stays(site: Path) -> None:
    pyspark_zip, _ = zips(site)
    other = site / "pyspark" / "python" / "lib" / "py4j-0.10.9.7-src.zip"
    other.write_bytes(b"")
    path = [pyspark_zip, str(other), str(site)]
    assert reordered(path) == [str(other), str(site), pyspark_zip]


def test_without_the_package_beside_it_the_zip_stays(site: Path) -> None:
    pyspark_zip, py4j_zip = zips(site)
    (site / "pyspark" / "__init__.py").unlink()
    path = [pyspark_zip, py4j_zip, str(site)]
    assert reordered(path) == [pyspark_zip, str(site), py4j_zip]


def test_importing_coldstart_modules_imports_neither_pyspark_nor_pandas() -> None:
    # the jobs import coldstart.pythonpath before pyspark: the package itself must not import it
    code = ("import sys, coldstart.pythonpath; "
            "print(sorted(m for m in ('pyspark', 'pandas', 'pyarrow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
