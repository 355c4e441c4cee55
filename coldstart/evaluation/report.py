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
from coldstart.evaluation.run import Evaluation
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
        lines += ["", f"[{name}]"] + [f"{json.dumps(key)} = {toml_value(value)}" if "." in key
                                      else f"{key} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


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


def evaluation_markdown(ev: Evaluation) -> str:
    info, tuning = ev.info, ev.tuning
    test, val = info["test"], info["validation"]
    ranked = sorted(tuning.results, key=lambda r: -r[1]["ndcg"])[:SHOWN_GRID_POINTS]
    grid = pd.DataFrame([{"candidate": c.label, "overrides": json.dumps(c.overrides), "validation ndcg": m["ndcg"]}
                         for c, m in ranked])
    return "\n".join([
        "# Offline evaluation", "",
        f"Test cutoff T = {info['test_cutoff']}: {test['users']} new users (first session at or after T), "
        f"{test['without_relevant']} of them with no completed workout within {info['horizon_days']:g} days "
        f"(left out of the accuracy averages; `users` is the number averaged). Metrics at k = {info['k']}; "
        f"catalog of {info['catalog']} workouts.", "",
        markdown_table(ev.table), "",
        f"## Validation (tuning): T0 = {info['validation_cutoff']}", "",
        f"{val['users']} validation users (first session in [T0, T)), {val['without_relevant']} without a "
        "completed workout before T within the horizon. Accuracy on them:", "",
        markdown_table(ev.validation), "",
        f"Tuned: {tuning.best.label} {json.dumps(tuning.best.overrides)}, validation nDCG@{info['k']} "
        f"{tuning.ndcg:.{FLOAT_DIGITS}f} ({len(tuning.results)} candidates tried; the best "
        f"{min(SHOWN_GRID_POINTS, len(tuning.results))}):", "",
        markdown_table(grid), "",
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
    fs = HadoopFs(ev.per_user.sparkSession)
    base = output.rstrip("/")
    fs.mkdirs(base)
    fs.write_text(f"{base}/evaluation.csv", ev.table.to_csv(index=False, lineterminator="\n"))
    fs.write_text(f"{base}/evaluation.md", evaluation_markdown(ev))
    fs.write_bytes(f"{base}/evaluation.png", evaluation_png(ev.table))
    header = (f"Tuned on the validation cut at {ev.info['validation_cutoff']} by jobs/evaluate.py: "
              f"{json.dumps(ev.tuning.best.overrides)}.\nUse with --config.")
    fs.write_text(f"{base}/tuned.toml", config_toml(tuned_cfg, header))
    ev.per_user.coalesce(1).write.mode("overwrite").parquet(f"{base}/per_user.parquet")
