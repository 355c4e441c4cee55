"""The outputs of SPEC §7 (and §10), the run report, and the swap that replaces an output directory whole."""
from __future__ import annotations

import csv
import os
import shutil
import uuid

import numpy as np
import pandas as pd

from peer.mmr import SegmentRecs
from peer.profile_recs import ProfileRecs
from peer.profiles import ProfileSet
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


def write_profiles(directory: str, ps: ProfileSet, recs: ProfileRecs, catalog: Catalog, users: Users,
                   days_old: np.ndarray):
    """profile_recommendations.csv and .parquet/ (SPEC §10); days_old per workout code"""
    keys = [ps.keys[t] for t in recs.tgt.tolist()]
    w = catalog.by_id[recs.col]
    w_id = catalog.w_id[w]
    with open(os.path.join(directory, "profile_recommendations.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["profile_key", "workout_id", "score", "rank"])
        for key, wid, scv, rank in zip(keys, w_id.tolist(), recs.score.tolist(), recs.rank.tolist(), strict=True):
            wr.writerow([key, wid, repr(float(scv)), rank])
    al, L = ps.tgt_al[recs.tgt], users.L
    type_lists = [names.split(",") for names in ps.set_names]
    detail = pd.DataFrame({
        "profile_key": keys,
        "workout_id": w_id,
        "score": recs.score.astype(np.float64),
        "rank": recs.rank.astype(np.int32),
        "age_group": [users.ag_names[a // L] for a in al.tolist()],
        "fitness_level": [users.lv_names[a % L] for a in al.tolist()],
        "types": [type_lists[s] for s in ps.tgt_set[recs.tgt].tolist()],
        "workout_type": [catalog.types[t] for t in catalog.w_type[w].tolist()],
        "relevance": recs.relevance.astype(np.float64),
        "mmr_score": recs.mmr.astype(np.float64),
        "days_old": days_old[w],
    })
    write_parquet(directory, "profile_recommendations.parquet", detail)


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


def report_results(report: dict, as_of_str: str, as_of_explicit, catalog: Catalog, users: Users, recs: SegmentRecs,
                   n_flags: int, profiles: tuple[ProfileSet, ProfileRecs] | None):
    ups = users.users_per_seg.reshape(-1) if users.users_per_seg.size else np.zeros(1, np.int64)
    report.update({
        "as_of": as_of_str,
        "as_of_source": "config" if as_of_explicit is not None else "latest accepted session",
        "segments": int(users.AL * catalog.T),
        "recommendations": len(recs.key),
        "instructor_flags": n_flags,
        "users_per_segment": {"min": int(ups.min()), "median": float(np.median(ups)), "max": int(ups.max())},
        "unknown_preferred_types": {"user_type_pairs": users.unknown_pairs, "types": sorted(users.unknown_types)},
    })
    if profiles is not None:
        report.update({"profiles": len(profiles[0].keys), "profile_recommendations": len(profiles[1].tgt)})


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
