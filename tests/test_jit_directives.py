"""conf/jit-directives.json, which spark-submit.sh gives the driver JVM, is a file the JVM accepts.

A malformed directives file stops the JVM before it starts (exit status 1), so every job
would fail; `tests/test_cds.py` checks that spark-submit.sh passes the file.
"""
from __future__ import annotations

import shutil
import subprocess

from tests.helpers import REPO

DIRECTIVES = REPO / "conf" / "jit-directives.json"


def java_with(directives: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("java") or "java", "-XX:+UnlockDiagnosticVMOptions", f"-XX:CompilerDirectivesFile={directives}",
         "-XX:+DisplayVMOutputToStderr", "-version"],
        capture_output=True, text=True, timeout=60)


def test_the_jvm_starts_with_the_directives_and_adds_one_block() -> None:
    result = java_with(str(DIRECTIVES))
    assert result.returncode == 0, result.stderr
    assert "1 compiler directives added" in result.stderr


def test_a_malformed_file_would_stop_the_jvm(tmp_path) -> None:
    # the check above can fail: a typo in the file is refused, not ignored
    bad = tmp_path / "bad.json"
    bad.write_text(DIRECTIVES.read_text().replace('"Exclude": true', '"Exclude": tru'))
    result = java_with(str(bad))
    assert result.returncode != 0
    assert "Syntax error" in result.stderr
