"""The outputs of SPEC §7 (and §10), the run report, and the swap that replaces an output directory whole."""
from __future__ import annotations

import csv
import os
import shutil
import uuid

import numpy as np
import pandas as pd

from peer.mmr import SegmentRecs
from peer.scoring import Scores
from peer.universe import Catalog, Users


def write_segments(directory: str, recs: SegmentRecs, sc: Scores, catalog: Catalog, users: Users):
    """segment_recommendations.csv and .parquet/ (the same rows plus the §7 detail columns)"""
    w_id = catalog.w_id
    with open(os.path.join(directory, "segment_recommendations.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["segment_key", "workout_id", "score", "rank"])
        for key, w, scv, rank in zip(recs.key, recs.w.tolist(), recs.score.tolist(), recs.rank.tolist(),
                                     strict=True):
            wr.writerow([key, int(w_id[w]), repr(float(scv)), rank])
    al_a, w_a, L = recs.al, recs.w, users.L
    detail = pd.DataFrame({
        "segment_key": recs.key,
        "workout_id": w_id[w_a],
        "score": recs.score.astype(np.float64),
        "rank": recs.rank.astype(np.int32),
        "age_group": [users.ag_names[al // L] for al in al_a.tolist()],
        "fitness_level": [users.lv_names[al % L] for al in al_a.tolist()],
        "workout_type": [catalog.types[t] for t in recs.t.tolist()],
        "mmr_score": recs.mmr.astype(np.float64),
        "raw_score": sc.raw[al_a, w_a],
        "p_completion": sc.p_c[al_a, w_a],
        "p_like": sc.p_l[al_a, w_a],
        "views_norm": sc.views_norm[al_a, w_a],
        "type_views_norm": sc.type_views_norm[w_a],
        "days_old": sc.days_old[w_a],
        "views": sc.v[al_a, w_a].astype(np.int64),
        "completions": sc.c[al_a, w_a].astype(np.int64),
        "feedbacks": sc.n[al_a, w_a].astype(np.int64),
        "likes": sc.s[al_a, w_a].astype(np.int64),
    })
    write_parquet(directory, "segment_recommendations.parquet", detail)


def write_parquet(directory: str, name: str, frame: pd.DataFrame):
    os.makedirs(os.path.join(directory, name))
    frame.to_parquet(os.path.join(directory, name, "part-00000.parquet"), index=False)


def write_flags(directory: str, rows: list[tuple]):
    with open(os.path.join(directory, "instructor_flags.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["instructor_id", "instructor", "reason", "sessions", "completions", "feedbacks", "likes",
                     "abandonment_rate", "dislike_rate", "as_of"])
        for r in rows:
            wr.writerow([r[0], "" if r[1] is None else r[1], r[2], r[3], r[4], r[5], r[6],
                         repr(r[7]), repr(r[8]), r[9]])


def swap_in(tmp_out: str, output: str):
    """the new directory replaces the old one whole (a rename each)"""
    out = output.rstrip("/")
    old = None
    if os.path.exists(out):
        old = f"{out}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    os.replace(tmp_out, out)
    if old:
        shutil.rmtree(old, ignore_errors=True)
