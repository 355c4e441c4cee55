"""Instructor quality flags (SPEC §6): one row per (instructor, reason), sorted by instructor_id, reason."""
from __future__ import annotations

import numpy as np

from peer.counts import GlobalCounts
from peer.universe import Catalog


def instructor_flags(catalog: Catalog, g: GlobalCounts, cfg: dict, as_of_str: str) -> list[tuple]:
    """-> rows (instructor_id, instructor, reason, sessions, completions, feedbacks, likes,
    abandonment_rate, dislike_rate, as_of)"""
    a0 = float(cfg["smoothing"]["alpha0"])
    m = a0 + float(cfg["smoothing"]["beta0"])
    instr_ids, instr_code = np.unique(catalog.w_instr, return_inverse=True)
    n = len(instr_ids)
    iV = np.bincount(instr_code, weights=g.V, minlength=n).astype(np.int64)
    iC = np.bincount(instr_code, weights=g.C, minlength=n).astype(np.int64)
    iN = np.bincount(instr_code, weights=g.N, minlength=n).astype(np.int64)
    iS = np.bincount(instr_code, weights=g.S, minlength=n).astype(np.int64)
    aband = 1.0 - (iC + a0) / (iV + m)
    disl = 1.0 - (iS + a0) / (iN + m)
    fl_cfg = cfg["flags"]
    rows = []
    for i, iid in enumerate(instr_ids):
        for reason, hit in (
            ("high_abandonment", iV[i] >= fl_cfg["min_sessions"] and aband[i] > fl_cfg["max_abandonment"]),
            ("high_dislike", iN[i] >= fl_cfg["min_feedback"] and disl[i] > fl_cfg["max_dislike"]),
        ):
            if hit:
                rows.append((int(iid), catalog.instr_name.get(int(iid)), reason, int(iV[i]), int(iC[i]),
                             int(iN[i]), int(iS[i]), float(aband[i]), float(disl[i]), as_of_str))
    rows.sort(key=lambda r: (r[0], r[2]))
    return rows
