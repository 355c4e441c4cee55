"""The config: every default of the spec in conf/coldstart.toml, typed overrides, clear errors."""
from __future__ import annotations

import pytest

from coldstart.config import Config, ConfigError, load_config, parse_set


def test_toml_holds_the_spec_defaults():
    cfg = load_config()
    defaults = Config()
    # the file and the dataclass agree, so neither can drift from SPEC.md alone
    for section in ("smoothing", "scoring", "freshness", "mmr", "flags", "quality"):
        assert getattr(cfg, section) == getattr(defaults, section), section
    assert (cfg.smoothing.alpha0, cfg.smoothing.beta0, cfg.smoothing.prior) == (2.0, 2.0, "beta")
    assert (cfg.scoring.alpha, cfg.scoring.beta, cfg.scoring.gamma, cfg.scoring.delta) == (0.5, 0.4, 0.1, 0.0)
    assert (cfg.freshness.lambda_, cfg.freshness.unplayed_days) == (0.01, 365.0)
    assert (cfg.mmr.pool_size, cfg.mmr.k, cfg.mmr.lambda_) == (20, 5, 0.5)
    assert (cfg.flags.min_sessions, cfg.flags.max_abandonment) == (50, 0.6)
    assert (cfg.flags.min_feedback, cfg.flags.max_dislike) == (20, 0.6)
    assert cfg.quality.max_reject_fraction == 0.01
    assert cfg.as_of == ""


def test_set_overrides_win_over_the_file():
    cfg = load_config(overrides=parse_set(["mmr.k=10", "as_of=2025-06-01T00:00:00", "mmr.lambda=0.7"]))
    assert cfg.mmr.k == 10 and cfg.as_of == "2025-06-01T00:00:00" and cfg.mmr.lambda_ == 0.7


@pytest.mark.parametrize(
    "item, message",
    [
        ("mmr.kk=3", "unknown config key 'mmr.kk'"),
        ("mmr.k=three", "cannot use 'three' as int"),
        ("smoothing.prior=flat", "smoothing.prior must be one of"),
        ("mmr.lambda=2", "mmr.lambda must be in [0, 1]"),
    ],
)
def test_bad_overrides_are_named(item, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(overrides=parse_set([item]))


def test_set_needs_key_equals_value():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set(["mmr.k"])


def test_tune_grid_is_read_and_checked(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[tune]\n"mmr.lambda" = [0.5, 1.0]\n')
    assert load_config(path).tune == (("mmr.lambda", (0.5, 1.0)),)
    path.write_text('[tune]\n"mmr.nope" = [1]\n')
    with pytest.raises(ConfigError, match="unknown config key"):
        load_config(path)


def test_default_config_and_schema_load_from_the_shipped_zip(tmp_path):
    """In cluster deploy mode coldstart is imported from the zip spark-submit.sh builds."""
    import subprocess
    import sys
    import zipfile

    from tests.helpers import REPO

    archive = tmp_path / "coldstart.zip"
    with zipfile.ZipFile(archive, "w") as z:  # the layout spark-submit.sh writes
        for path in sorted((REPO / "coldstart").rglob("*.py")):
            z.write(path, path.relative_to(REPO))
        for name in ("conf/coldstart.toml", "conf/sql/schema.sql"):
            z.write(REPO / name, f"coldstart/_conf/{name}")
    code = ("from coldstart.config import load_config; from coldstart.jdbc import schema_statements; "
            f"import coldstart; assert coldstart.__file__.startswith({str(archive)!r}); "
            "print(load_config().mmr.k, len(schema_statements()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(archive)},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "5" and int(out[1]) >= 5
