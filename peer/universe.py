"""The accepted catalog and users, coded densely, and the segment universe of SPEC §2.

Workout codes are ordered by (type, workout_id), so that each type is one contiguous block;
`by_id` orders them by workout_id (the order of every tie rule).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peer.common import OK
from peer.parse import IdMap
from peer.validate import UserColumns


@dataclass
class Catalog:
    types: list[str]  # the catalog's types, sorted
    type_pos: dict[str, int]
    w_id: np.ndarray  # per workout code: workout_id
    w_type: np.ndarray  # type index
    w_instr: np.ndarray  # instructor_id
    w_tags: list[list[str]]  # sorted normalised tags
    type_start: np.ndarray  # per type: its block of workout codes
    type_end: np.ndarray
    instr_name: dict[int, object]
    wmap: IdMap
    by_id: np.ndarray  # workout codes in workout_id order

    @property
    def T(self) -> int:
        return len(self.types)

    @property
    def W(self) -> int:
        return len(self.w_id)


def build_catalog(rows: list, reason: np.ndarray) -> Catalog:
    acc = np.flatnonzero(reason == OK)
    types = sorted({rows[i][2] for i in acc})
    type_pos = {t: i for i, t in enumerate(types)}
    acc_sorted = sorted(acc, key=lambda i: (type_pos[rows[i][2]], rows[i][0]))
    w_id = np.array([rows[i][0] for i in acc_sorted], dtype=np.int64)
    w_type = np.array([type_pos[rows[i][2]] for i in acc_sorted], dtype=np.int64)
    w_instr = np.array([rows[i][1] for i in acc_sorted], dtype=np.int64)
    w_tags = [rows[i][3] for i in acc_sorted]
    T = len(types)
    type_start = np.searchsorted(w_type, np.arange(T), side="left")
    type_end = np.searchsorted(w_type, np.arange(T), side="right")
    instr_name: dict[int, object] = {}
    for i in acc:  # input order: the first row of an instructor names them
        instr_name.setdefault(rows[i][1], rows[i][4])
    return Catalog(types, type_pos, w_id, w_type, w_instr, w_tags, type_start, type_end, instr_name,
                   IdMap(w_id), np.argsort(w_id, kind="stable"))


@dataclass
class Users:
    ag_names: list[str]  # the age groups seen among the accepted users (sorted)
    lv_names: list[str]  # the levels seen (sorted)
    member: np.ndarray  # (distinct preferred_types strings + 1, max(T, 1)) bool: the string holds type t
    u_al: np.ndarray  # per accepted user (input order): age code * L + level code
    u_pt: np.ndarray  # per accepted user: row of `member`
    umap: IdMap  # user_id -> accepted user code
    users_per_seg: np.ndarray  # (A * L, T)
    unknown_pairs: int  # (user, preferred type) pairs whose type no workout has
    unknown_types: set[str]

    @property
    def L(self) -> int:
        return len(self.lv_names)

    @property
    def AL(self) -> int:
        return len(self.ag_names) * len(self.lv_names)


def _dense(codes: np.ndarray, n_vals: int, seen: np.ndarray) -> np.ndarray:
    lut = np.full(n_vals + 1, -1, np.int64)
    lut[seen] = np.arange(len(seen))
    return lut[codes]


def _type_membership(pt_uniques: list, type_pos: dict[str, int]):
    """per distinct preferred_types string: membership in each catalog type, unknown types"""
    P = len(pt_uniques)
    member = np.zeros((P + 1, max(len(type_pos), 1)), bool)  # row P: null preferred_types
    unknown_per_string = np.zeros(P + 1, np.int64)
    unknown_types: set[str] = set()
    for j, s in enumerate(pt_uniques):
        if s is None:
            continue
        for t in {x.strip().lower() for x in s.split(",")} - {""}:
            if t in type_pos:
                member[j, type_pos[t]] = True
            else:
                unknown_per_string[j] += 1
                unknown_types.add(t)
    return member, unknown_per_string, unknown_types


def build_users(cols: UserColumns, catalog: Catalog) -> Users:
    acc_u = np.flatnonzero(cols.reason == OK)
    # the segment universe: age groups x levels seen among the accepted users (re-coded densely)
    ag_seen = np.unique(cols.ag_codes[acc_u])
    lv_seen = np.unique(cols.lv_codes[acc_u])
    L = len(lv_seen)
    AL = len(ag_seen) * L
    member, unknown_per_string, unknown_types = _type_membership(cols.pt_uniques, catalog.type_pos)
    P = len(cols.pt_uniques)
    pt_codes = np.where(cols.pt_codes < 0, P, cols.pt_codes)
    u_al = (_dense(cols.ag_codes[acc_u], len(cols.ag_vals), ag_seen) * L
            + _dense(cols.lv_codes[acc_u], len(cols.lv_vals), lv_seen))
    u_pt = pt_codes[acc_u]
    T = catalog.T
    users_per_seg = (np.bincount(u_al * (P + 1) + u_pt, minlength=AL * (P + 1)).reshape(AL, P + 1)
                     @ member[:, :T].astype(np.int64)) if T else np.zeros((AL, 0), np.int64)
    return Users([cols.ag_vals[i] for i in ag_seen], [cols.lv_vals[i] for i in lv_seen], member, u_al, u_pt,
                 IdMap(cols.uid[acc_u]), users_per_seg, int(unknown_per_string[u_pt].sum()), unknown_types)
