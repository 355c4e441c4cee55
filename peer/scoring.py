"""Scores for every (age|level, workout) (SPEC §3) and freshness (§4): the workout's type fixes the segment."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peer.counts import GlobalCounts
from peer.universe import Catalog


@dataclass
class Scores:
    """(A * L, W) arrays unless noted"""
    v: np.ndarray  # the segment's sessions on the workout
    c: np.ndarray  # completed
    n: np.ndarray  # feedback rows
    s: np.ndarray  # liked
    p_c: np.ndarray
    p_l: np.ndarray
    views_norm: np.ndarray
    type_views_norm: np.ndarray  # (W,)
    raw: np.ndarray
    days_old: np.ndarray  # (W,)
    score: np.ndarray


def days_old(last: np.ndarray, as_of: int | None, unplayed_days: float) -> np.ndarray:
    """§4 per workout code: (as_of - last_played) in days, at least 0; never played: unplayed_days"""
    played = last != np.iinfo(np.int64).min
    out = np.full(len(last), float(unplayed_days))
    if as_of is not None:
        out[played] = np.maximum(0.0, ((as_of - last[played]) / 1e6) / 86400.0)
    return out


def score_segments(v, c, n, s, g: GlobalCounts, catalog: Catalog, cfg: dict, as_of: int | None) -> Scores:
    a0 = float(cfg["smoothing"]["alpha0"])
    m = a0 + float(cfg["smoothing"]["beta0"])
    if cfg["smoothing"]["prior"] == "beta":
        p_c = (c + a0) / (v + m)
        p_l = (s + a0) / (n + m)
    else:
        mu_c = (g.C + a0) / (g.V + m)
        mu_l = (g.S + a0) / (g.N + m)
        p_c = (c + m * mu_c) / (v + m)
        p_l = (s + m * mu_l) / (n + m)
    AL, W = v.shape
    seg_max_v = np.zeros((AL, W), np.float64)
    type_max_V = np.zeros(W, np.float64)
    for t in range(catalog.T):
        lo, hi = catalog.type_start[t], catalog.type_end[t]
        if hi > lo:
            seg_max_v[:, lo:hi] = v[:, lo:hi].max(axis=1, keepdims=True)
            type_max_V[lo:hi] = g.V[lo:hi].max()
    views_norm = np.divide(v, seg_max_v, out=np.zeros((AL, W)), where=seg_max_v > 0)
    type_views_norm = np.divide(g.V, type_max_V, out=np.zeros(W), where=type_max_V > 0)
    sc_cfg = cfg["scoring"]
    raw = (float(sc_cfg["alpha"]) * p_c + float(sc_cfg["beta"]) * p_l
           + float(sc_cfg["gamma"]) * views_norm + float(sc_cfg["delta"]) * type_views_norm)
    d_old = days_old(g.last, as_of, cfg["freshness"]["unplayed_days"])
    score = raw * np.exp(-float(cfg["freshness"]["lambda"]) * d_old)
    return Scores(v, c, n, s, p_c, p_l, views_norm, type_views_norm, raw, d_old, score)
