"""The configuration: the SPEC's defaults, then a TOML file (--config), then --set KEY=VALUE."""
from __future__ import annotations

import json
import tomllib

import pandas as pd

from peer.common import die

DEFAULTS: dict = {
    "as_of": "",
    "smoothing": {"prior": "beta", "alpha0": 2.0, "beta0": 2.0},
    "scoring": {"alpha": 0.5, "beta": 0.4, "gamma": 0.1, "delta": 0.0},
    "freshness": {"lambda": 0.01, "unplayed_days": 365.0},
    "mmr": {"pool_size": 20, "k": 5, "lambda": 0.5},
    "flags": {"min_sessions": 50, "max_abandonment": 0.6, "min_feedback": 20, "max_dislike": 0.6},
    "quality": {"max_reject_fraction": 0.01},
    "profile": {"enabled": True, "age_weight": 3.0, "level_weight": 3.0, "jaccard_power": 2.0,
                "degree_power": 0.5, "like_weight": 0.0, "preferred_types_only": False},
}


def load_config(path: str | None, sets: list[str]) -> dict:
    cfg = json.loads(json.dumps(DEFAULTS))
    if path:
        with open(path, "rb") as f:
            user = tomllib.load(f)
        for key, val in user.items():
            if isinstance(val, dict) and isinstance(cfg.get(key), dict):
                for k2, v2 in val.items():
                    if k2 in cfg[key]:
                        cfg[key][k2] = v2
            elif key in cfg and not isinstance(cfg[key], dict):
                cfg[key] = val
    for item in sets:
        apply_set(cfg, item)
    if cfg["smoothing"]["prior"] not in ("beta", "hierarchical"):
        die(2, f"error: smoothing.prior must be beta or hierarchical, got {cfg['smoothing']['prior']!r}")
    return cfg


def apply_set(cfg: dict, item: str):
    """one --set KEY=VALUE: the value takes the type of the default"""
    if "=" not in item:
        die(2, f"error: --set expects KEY=VALUE, got {item!r}")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    node = cfg
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            die(2, f"error: unknown config key {key!r}")
        node = node[p]
    leaf = parts[-1]
    if leaf not in node or isinstance(node[leaf], dict):
        die(2, f"error: unknown config key {key!r}")
    default = node[leaf]
    try:
        if isinstance(default, bool):
            val = {"true": True, "false": False}[raw.strip().lower()]
        elif isinstance(default, int):
            val = int(raw)
        elif isinstance(default, float):
            val = float(raw)
        else:
            val = raw
    except (ValueError, KeyError):
        die(2, f"error: bad value for {key}: {raw!r}")
    node[leaf] = val


def explicit_as_of(cfg: dict) -> int | None:
    """the configured as_of in microseconds since the epoch (UTC), None when not set"""
    if not str(cfg["as_of"]).strip():
        return None
    try:
        ts = pd.Timestamp(str(cfg["as_of"]).strip())
    except ValueError:
        die(2, f"error: bad value for as_of: {cfg['as_of']!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1000)
