"""SPEC §9's reject reasons (and §1's normalisation of the values they check), as one reason code per row.

A row's reason is the first check that applies (the lowest code); OK marks an accepted row.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peer.common import (
    OK,
    R_BAD_FLAG,
    R_BAD_ID,
    R_BAD_TS,
    R_DUP,
    R_MALFORMED,
    R_NULL_FIELD,
    R_NULL_KEY,
    R_UNK_USER,
    R_UNK_WORKOUT,
    mark,
)
from peer.parse import (
    IdMap,
    dict_encode,
    norm_type,
    parse_completed_at,
    parse_flag,
    parse_id,
    parse_json_id,
    parse_ts,
    recode,
)
from peer.sources import Source


def first_wins_duplicates(ids: np.ndarray, candidate: np.ndarray, ts: np.ndarray | None) -> np.ndarray:
    """mask of the rows (among `candidate`) that lose to another candidate row with the same id:
    the latest ts wins (ts None: no ts), ties / no ts: the first row in input order."""
    n = len(ids)
    dup = np.zeros(n, bool)
    if n < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return dup  # all ids strictly increasing: no repeats, whatever the candidates
    if candidate.all():
        cand_ids = ids
        pos = None
    else:
        pos = np.flatnonzero(candidate)
        cand_ids = ids[pos]
        if len(cand_ids) < 2 or bool(np.all(cand_ids[1:] > cand_ids[:-1])):
            return dup
    srt = np.sort(cand_ids)
    repeated = np.unique(srt[1:][srt[1:] == srt[:-1]])
    del srt
    if len(repeated) == 0:
        return dup
    sub = np.flatnonzero(np.isin(cand_ids, repeated))  # positions within the candidates
    rows = sub if pos is None else pos[sub]
    sid = ids[rows]
    if ts is None:
        order = np.lexsort((rows, sid))
    else:
        order = np.lexsort((rows, -ts[rows], sid))  # per id: latest ts first, then input order
    sid_sorted = sid[order]
    first = np.ones(len(order), bool)
    first[1:] = sid_sorted[1:] != sid_sorted[:-1]
    dup[rows[order[~first]]] = True
    return dup


def validate_catalog(records: list):
    """-> (reason per record, (workout_id, instructor_id, workout_type, sorted tags, instructor) per
    record (None for a malformed one)); the catalog is small: plain Python per workout"""
    reasons = []
    rows = []
    for rec in records:
        if not isinstance(rec, dict):
            reasons.append(R_MALFORMED)
            rows.append(None)
            continue
        wid, ws = parse_json_id(rec.get("workout_id"), True)
        iid, is_ = parse_json_id(rec.get("instructor_id"), False)
        wtype = norm_type(rec.get("workout_type"))
        r = OK
        if ws == 1 or is_ == 1:
            r = R_NULL_KEY
        elif ws == 2 or is_ == 2:
            r = R_BAD_ID
        elif wtype == "":
            r = R_NULL_FIELD
        tags = rec.get("tags")
        if isinstance(tags, str):
            tags = [tags]
        tagset = sorted({t.strip().lower() for t in (tags or []) if isinstance(t, str) and t.strip()})
        reasons.append(r)
        rows.append((wid, iid, wtype, tagset, rec.get("instructor")))
    reason = np.array(reasons, dtype=np.int8).reshape(-1)
    ids = np.array([row[0] if row else 0 for row in rows], dtype=np.int64)
    mark(reason, first_wins_duplicates(ids, reason == OK, None), R_DUP)
    return reason, rows


@dataclass
class UserColumns:
    """users.csv validated: reasons, ids, and the codes of the (normalised) string columns"""
    reason: np.ndarray
    uid: np.ndarray
    ag_codes: np.ndarray  # into ag_vals (-1: empty)
    ag_vals: list
    lv_codes: np.ndarray  # into lv_vals (-1: empty)
    lv_vals: list
    pt_codes: np.ndarray  # into pt_uniques (-1: null); the raw preferred_types strings
    pt_uniques: list


def validate_users(src: Source) -> UserColumns:
    reason = np.full(src.nrows, OK, np.int8)
    uid, null, bad = parse_id(src.column("user_id"))
    mark(reason, null, R_NULL_KEY)
    mark(reason, bad, R_BAD_ID)
    ag_codes, ag_vals = recode(*dict_encode(src.column("age_group", dictionary=True)), lambda s: s.strip())
    lv_codes, lv_vals = recode(*dict_encode(src.column("fitness_level", dictionary=True)),
                               lambda s: s.strip().title())
    mark(reason, (ag_codes < 0) | (lv_codes < 0), R_NULL_FIELD)
    mark(reason, first_wins_duplicates(uid, reason == OK, None), R_DUP)
    pt_codes, pt_uniques = dict_encode(src.column("preferred_types", dictionary=True))
    return UserColumns(reason, uid, ag_codes, ag_vals, lv_codes, lv_vals, pt_codes, pt_uniques)


def _check_id(src: Source, col: str, reason: np.ndarray, allow_w: bool = False) -> np.ndarray:
    vals, null, bad = parse_id(src.column(col), allow_w=allow_w)
    mark(reason, null, R_NULL_KEY)
    mark(reason, bad, R_BAD_ID)
    return vals


def load_events(src: Source, id_col: str, flag_col: str, ts_col: str, extra_ids: list[str],
                umap: IdMap, wmap: IdMap) -> dict:
    """sessions or feedback validated and mapped to (user code, workout code):
    -> {"reason", "u", "w", "flag", "ts"} (a dict: the caller hands the arrays on and drops them)"""
    reason = np.full(src.nrows, OK, np.int8)
    ids = _check_id(src, id_col, reason)
    for c in extra_ids:  # ids checked but not used (feedback.session_id)
        _check_id(src, c, reason)
    ucode = umap.get(_check_id(src, "user_id", reason))
    wcode = wmap.get(_check_id(src, "workout_id", reason, allow_w=True))
    if flag_col == "completed_at":
        flag, badf = parse_completed_at(src.column("completed_at"))
    else:
        flag, badf = parse_flag(src.column(flag_col))
    mark(reason, badf, R_BAD_FLAG)
    ts, badt = parse_ts(src.column(ts_col))
    mark(reason, badt, R_BAD_TS)
    del badf, badt
    mark(reason, first_wins_duplicates(ids, reason == OK, ts), R_DUP)
    del ids
    mark(reason, ucode < 0, R_UNK_USER)
    mark(reason, wcode < 0, R_UNK_WORKOUT)
    return {"reason": reason, "u": ucode, "w": wcode, "flag": flag, "ts": ts}
