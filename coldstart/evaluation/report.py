"""Writers: evaluation.csv, evaluation.md, evaluation.png, per_user.parquet and tuned.toml.

The tables are a row per method (tiny, on the driver); the per-user lists stay a Spark
frame and are written by Spark, so that anyone can recompute the metrics elsewhere.
"""
from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd

from coldstart.config import Config
from coldstart.evaluation.bootstrap import LEVEL, RESAMPLES
from coldstart.evaluation.run import Evaluation
from coldstart.evaluation.tuning import Tuning
from coldstart.fs import HadoopFs

SHOWN_GRID_POINTS = 10
FLOAT_DIGITS = 4


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def config_toml(cfg: Config, header: str) -> str:
    """The whole effective config as TOML (loadable with --config): top-level keys, then sections."""
    lines = [f"# {line}" for line in header.splitlines()]
    sections = cfg.to_dict()
    tables = {name: value for name, value in sections.items() if isinstance(value, dict)}
    lines += [f"{name} = {toml_value(value)}" for name, value in sections.items() if name not in tables]
    for name, table in tables.items():
        lines += _toml_table(name, table)
    return "\n".join(lines) + "\n"


def _toml_table(name: str, table: dict[str, Any]) -> list[str]:
    """`[name]` and its keys (dotted keys quoted), then its nested tables as `[name.sub]`."""
    lines = ["", f"[{name}]"] + [f"{json.dumps(key)} = {toml_value(value)}" if "." in key
                                 else f"{key} = {toml_value(value)}"
                                 for key, value in table.items() if not isinstance(value, dict)]
    for sub, nested in table.items():
        if isinstance(nested, dict):
            lines += _toml_table(f"{name}.{sub}", nested)
    return lines


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{FLOAT_DIGITS}f}"
    return str(value)


def markdown_table(df: pd.DataFrame) -> str:
    rows = [list(df.columns), ["---"] * len(df.columns)]
    rows += [[_fmt(v) for v in record] for record in df.itertuples(index=False)]
    return "\n".join("| " + " | ".join(map(str, r)) + " |" for r in rows)


def tuning_markdown(family: str, tuning: Tuning, k: int) -> list[str]:
    ranked = sorted(tuning.results, key=lambda r: -r[1]["ndcg"])[:SHOWN_GRID_POINTS]
    grid = pd.DataFrame([{"candidate": c.label, "overrides": json.dumps(c.overrides), "validation ndcg": m["ndcg"]}
                         for c, m in ranked])
    return [f"Tuned {family} methods: {tuning.best.label} {json.dumps(tuning.best.overrides)}, validation "
            f"nDCG@{k} {tuning.ndcg:.{FLOAT_DIGITS}f} ({len(tuning.results)} candidates tried; the best "
            f"{min(SHOWN_GRID_POINTS, len(tuning.results))}):", "", markdown_table(grid), ""]


def intervals_markdown(intervals: pd.DataFrame, k: int) -> list[str]:
    rows = intervals.assign(interval=[f"[{lo:+.{FLOAT_DIGITS}f}, {hi:+.{FLOAT_DIGITS}f}]"
                                      for lo, hi in zip(intervals["low"], intervals["high"], strict=True)],
                            difference=[f"{d:+.{FLOAT_DIGITS}f}" for d in intervals["difference"]])
    return [f"## Paired differences of nDCG@{k} (test users, bootstrap over users, {RESAMPLES} resamples, "
            f"{LEVEL:.0%} interval)", "",
            "An interval that excludes 0 says the difference is not an accident of which users were drawn.", "",
            markdown_table(rows[["method", "baseline", "users", "difference", "interval"]]), ""]


def evaluation_markdown(ev: Evaluation) -> str:
    info = ev.info
    test, val = info["test"], info["validation"]
    return "\n".join([
        "# Offline evaluation", "",
        f"Test cutoff T = {info['test_cutoff']}: {test['users']} new users (first session at or after T), "
        f"{test['without_relevant']} of them with no completed workout within {info['horizon_days']:g} days "
        f"(left out of the accuracy averages; `users` is the number averaged). Metrics at k = {info['k']}; "
        f"catalog of {info['catalog']} workouts.", "",
        markdown_table(ev.table), "",
        *intervals_markdown(ev.intervals, info["k"]),
        f"## Validation (tuning): T0 = {info['validation_cutoff']}", "",
        f"{val['users']} validation users (first session in [T0, T)), {val['without_relevant']} without a "
        "completed workout before T within the horizon. Accuracy on them:", "",
        markdown_table(ev.validation), "",
        *(line for family, tuning in ev.tunings.items() for line in tuning_markdown(family, tuning, info["k"])),
    ])


def evaluation_png(table: pd.DataFrame) -> bytes:
    """nDCG and intra-list diversity per method, side by side."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a batch node
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for ax, column, title in ((axes[0], "ndcg", f"nDCG@{table['k'].iloc[0]}"),
                              (axes[1], "intra_list_diversity", "intra-list diversity")):
        ax.barh(table["method"], table[column].astype(float).fillna(0.0), color="#4C72B0")
        ax.invert_yaxis()
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def write_evaluation(ev: Evaluation, tuned_cfg: Config, output: str) -> None:
    """The outputs; `tuned_cfg` goes to tuned.toml (`run.tuned_config`: the best of each family)."""
    fs = HadoopFs(ev.per_user.sparkSession)
    base = output.rstrip("/")
    fs.mkdirs(base)
    fs.write_text(f"{base}/evaluation.csv", ev.table.to_csv(index=False, lineterminator="\n"))
    fs.write_text(f"{base}/evaluation.md", evaluation_markdown(ev))
    fs.write_bytes(f"{base}/evaluation.png", evaluation_png(ev.table))
    segment, profile = ev.tunings["segment"].best, ev.tunings["profile"].best
    header = (f"Tuned on the validation cut at {ev.info['validation_cutoff']} by jobs/evaluate.py.\n"
              f"Profile methods: {json.dumps(profile.overrides)}; segment methods: {json.dumps(segment.overrides)}.\n"
              "Where both tune a key (freshness.lambda, mmr.lambda), the profile methods' value is kept:\n"
              "the lookup answers from the profile lists first. Use with --config.")
    fs.write_text(f"{base}/tuned.toml", config_toml(tuned_cfg, header))
    ev.per_user.coalesce(1).write.mode("overwrite").parquet(f"{base}/per_user.parquet")
