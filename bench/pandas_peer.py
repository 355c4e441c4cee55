"""An independent single-machine (pandas / numpy / pyarrow) implementation of ../shared/SPEC.md.

    .venv/bin/python bench/pandas_peer.py --input DIR --output DIR [--config FILE] [--set KEY=VALUE ...]
                                          [--no-rejects]

Written from the SPEC alone (not from the Spark job), to be (1) the "pandas, full spec" peer of the
scale benchmark and (2) a cross-check of the Spark job's results (bench/compare_outputs.py).

Writes into DIR (swapped in whole at the end, a failed run leaves the previous outputs in place):
  segment_recommendations.csv        segment_key,workout_id,score,rank (sorted by segment_key, rank)
  segment_recommendations.parquet/   the same rows plus the SPEC §7 detail columns
  instructor_flags.csv               SPEC §7 columns, sorted by instructor_id, reason
  run_report.json                    rows read / accepted / rejected per reason, timings, config, as_of ...
  rejects/<dataset>.csv              the rejected rows (columns as read, as strings) with their reason
                                     (+ <dataset>_malformed_lines.csv: pandas' message for each skipped line)

Exit status: 0 ok, 2 bad input (missing dataset / column, bad --set), 3 too many rejects.

Decisions where the SPEC is silent (the peer's own reading; see the report for the comparison):
- CSV: read by pandas' C parser as strings (dtype=str, keep_default_na=False). `malformed_line` is
  detected only for lines with MORE fields than the header (pandas skips them with a warning, which
  is collected and counted: each is one row read and one reject). A line with too FEW fields is
  padded with empty strings by pandas, so it is rejected by a later check (null_key / null_field /
  bad_* ...) or, when only users.preferred_types is missing, accepted. A broken quote is not
  detected (pandas merges lines up to the next quote; one at EOF is a parser error -> exit 2).
  Blank lines are skipped.
  The catalog: a JSON Lines line that is not valid JSON, or an element that is not an object, is
  `malformed_line`.
- Id columns (null_key / bad_id): users.user_id; sessions.session_id, user_id, workout_id;
  feedback.feedback_id, session_id, user_id, workout_id; catalog.workout_id and instructor_id
  (SPEC §9 "an id column"; the Spark job kept instructor_id as text until this peer's reading was
  adopted, e259b90).
  An integer is an optional '-' and 1-18 digits after trimming (workout_id: optionally prefixed by
  'w' or 'W'); JSON numbers must be integers (12.0 is bad_id); booleans are bad_id.
- completed / liked: after trimming, exactly '0' or '1' (integer columns: 0 or 1; null is bad_*).
  completed_at: null or empty -> 0, a parseable timestamp -> 1, anything else -> bad_completed.
- Timestamps: pandas to_datetime(format='ISO8601', utc=True); no zone means UTC; an offset is
  converted to UTC (strings with a numeric offset are parsed apart from the others: pandas 2.3 would
  apply one string's offset to the zone-less strings after it). Date-only and ' ' instead of 'T' are
  accepted. Kept as integer microseconds since the epoch.
- duplicate: among the rows that passed the earlier checks; sessions / feedback keep the latest
  timestamp, ties the first row in input order; users / catalog keep the first row in input order.
  Input order of a Parquet directory: its part files in name order, rows in file order.
- as_of: default = the latest accepted session timestamp, and then nothing is filtered (the SPEC
  filters "when it is set explicitly"; feedback after the latest session is therefore counted).
  Explicit: sessions with timestamp > as_of and feedback with feedback_time > as_of are left out
  (after validation and duplicate resolution: they are accepted rows, not rejects).
- Fitness levels are title-cased with Python's str.title(); types and tags are split on ',', trimmed,
  lower-cased, empty ones dropped. A user with no known type belongs to no segment (still counts for
  the segment universe).
- Instructor name: that of the first accepted catalog row of the instructor_id (input order).
  Instructors are those of the accepted catalog; their counts use accepted events up to as_of.
"""
# ruff: noqa: E402
from __future__ import annotations

import time

_T_PROCESS = time.perf_counter()  # before the heavy imports: the total includes them

import argparse
import csv
import json
import os
import re
import resource
import shutil
import sys
import tomllib
import uuid
import warnings
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

# ---------------------------------------------------------------------------------------------
# configuration (the SPEC's defaults)

DEFAULTS: dict = {
    "as_of": "",
    "smoothing": {"prior": "beta", "alpha0": 2.0, "beta0": 2.0},
    "scoring": {"alpha": 0.5, "beta": 0.4, "gamma": 0.1, "delta": 0.0},
    "freshness": {"lambda": 0.01, "unplayed_days": 365.0},
    "mmr": {"pool_size": 20, "k": 5, "lambda": 0.5},
    "flags": {"min_sessions": 50, "max_abandonment": 0.6, "min_feedback": 20, "max_dislike": 0.6},
    "quality": {"max_reject_fraction": 0.01},
}

REASONS = ["malformed_line", "null_key", "bad_id", "null_field", "bad_flag", "bad_timestamp",
           "duplicate", "unknown_user", "unknown_workout"]
R_MALFORMED, R_NULL_KEY, R_BAD_ID, R_NULL_FIELD, R_BAD_FLAG, R_BAD_TS, R_DUP, R_UNK_USER, R_UNK_WORKOUT = range(9)
OK = 99  # reason code of an accepted row; a row's reason is the minimum code that applies

CHUNK = 1 << 23  # rows per step of the per-event array work (bounds the temporaries at large sizes)


class InputError(Exception):
    pass


def die(status: int, msg: str):
    print(msg, file=sys.stderr)
    sys.exit(status)


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
    if cfg["smoothing"]["prior"] not in ("beta", "hierarchical"):
        die(2, f"error: smoothing.prior must be beta or hierarchical, got {cfg['smoothing']['prior']!r}")
    return cfg


# ---------------------------------------------------------------------------------------------
# timing

class Timer:
    def __init__(self):
        self.t0 = _T_PROCESS
        self.last = self.t0
        self.steps: dict[str, float] = {}
        self.step("imports (numpy, pandas, pyarrow)")

    def step(self, name: str):
        now = time.perf_counter()
        self.steps[name] = round(self.steps.get(name, 0.0) + now - self.last, 4)
        print(f"[pandas_peer] {name:<34s} {now - self.last:8.3f} s", file=sys.stderr, flush=True)
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.t0


# ---------------------------------------------------------------------------------------------
# sources: a dataset is CSV (pandas, strings) or Parquet (pyarrow); columns come back as pyarrow arrays

class Source:
    def __init__(self, name: str, path: str, kind: str):
        self.name, self.path, self.kind = name, path, kind
        self.extra_malformed = 0  # CSV lines with too many fields (skipped by pandas, counted)
        if kind == "parquet":
            self.ds = pads.dataset(path, format="parquet")
            self.columns = list(self.ds.schema.names)
            self.nrows = self.ds.count_rows()
        else:
            # pandas' C parser, every value a string as written: a line with MORE fields than the header
            # is skipped with a warning, which is collected here and counted as a malformed_line
            # (the pyarrow engine would catch too-few-field lines as well, but it infers types and
            # only then casts to str: '1.0' in one row turns every 1 of the column into '1.0')
            self.bad_lines: list[str] = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.df = pd.read_csv(path, dtype=str, keep_default_na=False, on_bad_lines="warn")
            for w in caught:
                self.bad_lines += [ln for ln in str(w.message).splitlines() if ln.startswith("Skipping line")]
            self.extra_malformed = len(self.bad_lines)
            self.columns = [str(c) for c in self.df.columns]
            self.nrows = len(self.df)

    def require(self, cols: list[str]):
        for c in cols:
            if c not in self.columns:
                raise InputError(f"error: {self.path}: missing required column {c!r}")

    def column(self, name: str, dictionary: bool = False) -> pa.Array:
        if self.kind == "parquet":
            field = self.ds.schema.field(name)
            if dictionary and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
                # dictionary-encoded read of a string column (cheap for low-cardinality columns)
                tbl = pq.read_table(self.path, columns=[name], read_dictionary=[name])
            else:
                tbl = self.ds.to_table(columns=[name])
            col = tbl.column(0)
            if col.num_chunks == 1:
                return col.chunk(0)
            if pa.types.is_dictionary(col.type):
                col = col.unify_dictionaries()
            return col.combine_chunks()
        return pa.array(self.df[name].to_numpy(dtype=object), type=pa.string())

    def raw_rows(self, idx: np.ndarray) -> pd.DataFrame:
        if self.kind == "parquet":
            return self.ds.to_table().take(pa.array(idx)).to_pandas().astype(str)
        return self.df.iloc[idx].copy()


def find_source(inp: str, name: str) -> Source:
    pq_path = os.path.join(inp, f"{name}.parquet")
    csv_path = os.path.join(inp, f"{name}.csv")
    if os.path.exists(pq_path):
        return Source(name, pq_path, "parquet")
    if os.path.exists(csv_path):
        return Source(name, csv_path, "csv")
    raise InputError(f"error: missing dataset {name}: neither {csv_path} nor {pq_path} exists")


# ---------------------------------------------------------------------------------------------
# column parsers: each returns numpy arrays

INT_RE = r"^-?[0-9]{1,18}$"
OFFSET_RE = r"[T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?\s*[+-][0-9]{2}(:?[0-9]{2})?\s*$"


def _np_bool(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def parse_id(arr: pa.Array, allow_w: bool = False):
    """-> (int64 values, null mask, bad mask)"""
    t = arr.type
    n = len(arr)
    if pa.types.is_integer(t):
        null = _np_bool(arr.is_null()) if arr.null_count else np.zeros(n, bool)
        vals = arr.fill_null(0) if arr.null_count else arr
        return vals.cast(pa.int64()).to_numpy(zero_copy_only=False), null, np.zeros(n, bool)
    if pa.types.is_floating(t):
        null = _np_bool(arr.is_null())
        f = arr.fill_null(0).to_numpy(zero_copy_only=False)
        bad = (~null) & ((f != np.floor(f)) | ~np.isfinite(f) | (np.abs(f) >= 2**62))
        vals = np.where(bad | null, 0, f).astype(np.int64)
        return vals, null, bad
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        arr = arr.cast(pa.string())
    s = pc.utf8_trim_whitespace(arr.fill_null(""))
    null = _np_bool(pc.equal(s, ""))
    if allow_w:
        s = pc.replace_substring_regex(s, r"^[wW]", "")
    ok = pc.match_substring_regex(s, INT_RE)
    vals = pc.cast(pc.if_else(ok, s, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    bad = (~null) & ~_np_bool(ok)
    return vals, null, bad


def parse_flag(arr: pa.Array):
    """0/1 column -> (int8 values, bad mask)"""
    t = arr.type
    if pa.types.is_boolean(t):
        bad = _np_bool(arr.is_null())
        return arr.fill_null(False).cast(pa.int8()).to_numpy(zero_copy_only=False), bad
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        if arr.null_count:
            arr = arr.fill_null(-1)
        v = arr.to_numpy(zero_copy_only=False)  # int8 in the usual Parquet schema: no widening copy
        bad = (v != 0) & (v != 1)
        if bad.any():
            v = np.where(bad, 0, v)
        return v.astype(np.int8, copy=False), bad
    s = pc.utf8_trim_whitespace(arr.cast(pa.string()).fill_null(""))
    one = _np_bool(pc.equal(s, "1"))
    zero = _np_bool(pc.equal(s, "0"))
    return one.astype(np.int8), ~(one | zero)


def parse_ts(arr: pa.Array):
    """-> (int64 microseconds since the epoch, UTC; bad mask (null or unparseable))"""
    t = arr.type
    if pa.types.is_timestamp(t):
        bad = _np_bool(arr.is_null()) if arr.null_count else np.zeros(len(arr), bool)
        if t.unit != "us":
            arr = arr.cast(pa.timestamp("us", t.tz), safe=False)
        us = arr.cast(pa.int64())
        if arr.null_count:
            us = us.fill_null(0)
        return us.to_numpy(zero_copy_only=False), bad
    if pa.types.is_date(t):
        return parse_ts(arr.cast(pa.timestamp("us")))
    strs = arr.cast(pa.string())
    s = pd.Series(strs.to_numpy(zero_copy_only=False), dtype=object)
    # pandas 2.3 to_datetime(format="ISO8601") applies the numeric UTC offset of one string to the
    # zone-less strings after it (['...T00:00:00+02:00', '...T00:00:00'] -> the second is read as +02:00):
    # the strings with a numeric offset are parsed apart from the others
    has_offset = _np_bool(pc.fill_null(pc.match_substring_regex(strs, OFFSET_RE), False))
    us = np.zeros(len(s), np.int64)
    bad = np.ones(len(s), bool)
    groups = (np.flatnonzero(has_offset), np.flatnonzero(~has_offset)) if has_offset.any() else (None,)
    for idx in groups:
        part = s if idx is None else s.iloc[idx]
        d = pd.to_datetime(part, format="ISO8601", utc=True, errors="coerce")
        b = d.isna().to_numpy()
        v = np.where(b, 0, d.dt.tz_convert(None).to_numpy(dtype="datetime64[us]").view(np.int64))
        if idx is None:
            us, bad = v, b
        else:
            us[idx], bad[idx] = v, b
    return us, bad


def parse_completed_at(arr: pa.Array):
    """completed_at -> (completed int8, bad mask)"""
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return (~_np_bool(arr.is_null())).astype(np.int8), np.zeros(len(arr), bool)
    s = pc.utf8_trim_whitespace(arr.cast(pa.string()).fill_null(""))
    empty = _np_bool(pc.equal(s, ""))
    _, bad_ts = parse_ts(s)
    return (~empty).astype(np.int8), (~empty) & bad_ts


def dict_encode(arr: pa.Array):
    """string column -> (int64 codes, -1 for null; list of distinct python values)"""
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr.cast(pa.string()))
    codes = arr.indices.cast(pa.int64()).fill_null(-1).to_numpy(zero_copy_only=False)
    return codes, arr.dictionary.to_pylist()


def recode(codes: np.ndarray, uniques: list, norm):
    """apply norm() to each distinct value; -> (codes into the sorted distinct normalised values
    (-1 for null / empty), those values)"""
    normed = [norm(u) if u is not None else "" for u in uniques]
    vals = sorted({v for v in normed if v != ""})
    pos = {v: i for i, v in enumerate(vals)}
    lut = np.array([pos.get(v, -1) for v in normed] + [-1], dtype=np.int64)
    return lut[codes], vals  # codes == -1 -> lut[-1] == -1


class IdMap:
    """maps int64 ids to the positions of a unique key array (-1: absent); a dense lookup table when
    the ids span a compact range, a hash index otherwise"""

    def __init__(self, keys: np.ndarray):
        self.n = len(keys)
        if self.n == 0:
            self.lo, self.lut, self.index = 0, np.zeros(0, np.int64), None
            return
        lo, hi = int(keys.min()), int(keys.max())
        if hi - lo <= 4 * self.n + 1024:
            self.lo = lo
            self.lut = np.full(hi - lo + 1, -1, dtype=np.int32 if self.n < 2**31 else np.int64)
            self.lut[keys - lo] = np.arange(self.n, dtype=self.lut.dtype)
            self.index = None
        else:
            self.index = pd.Index(keys)

    def get(self, q: np.ndarray) -> np.ndarray:
        if self.n == 0:
            return np.full(len(q), -1, np.int32)
        if self.index is not None:
            return self.index.get_indexer(q).astype(np.int32 if self.n < 2**31 else np.int64)
        out = np.empty(len(q), self.lut.dtype)
        for lo in range(0, len(q), CHUNK):
            off = q[lo:lo + CHUNK] - self.lo
            inside = (off >= 0) & (off < len(self.lut))
            if inside.all():
                out[lo:lo + CHUNK] = self.lut[off]
            else:
                out[lo:lo + CHUNK] = np.where(inside, self.lut[np.where(inside, off, 0)], -1)
        return out


def first_wins_duplicates(ids: np.ndarray, candidate: np.ndarray, ts: np.ndarray | None) -> np.ndarray:
    """mask of the rows (among `candidate`) that lose to another candidate row with the same id:
    the latest ts wins (ts None: no ts), ties / no ts: the first row in input order."""
    n = len(ids)
    dup = np.zeros(n, bool)
    if n < 2 or bool(np.all(ids[1:] > ids[:-1])):
        return dup  # all ids strictly increasing: no repeats, whatever the candidates
    if candidate.all():
        cand_ids = ids
        if n < 2 or bool(np.all(cand_ids[1:] > cand_ids[:-1])):
            return dup  # strictly increasing: unique
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


def mark(reason: np.ndarray, mask: np.ndarray, code: int):
    if mask is not None and mask.any():
        np.minimum(reason, code, out=reason, where=mask)


# ---------------------------------------------------------------------------------------------
# the catalog

def read_catalog(path: str):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    records: list = []
    stripped = text.lstrip()
    parsed_array = False
    if stripped.startswith("["):
        try:
            data = json.loads(text)
            if isinstance(data, list):
                records = data
                parsed_array = True
        except json.JSONDecodeError:
            parsed_array = False
    if not parsed_array:
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append(_Malformed(line))
    return records


class _Malformed:
    def __init__(self, line):
        self.line = line


def parse_json_id(v, allow_w: bool):
    """-> (value, status) status 0 ok, 1 null, 2 bad"""
    if v is None:
        return 0, 1
    if isinstance(v, bool):
        return 0, 2
    if isinstance(v, int):
        return v, 0
    if isinstance(v, float):
        return 0, 2
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return 0, 1
        if allow_w and s[:1] in ("w", "W"):
            s = s[1:]
        if re.fullmatch(r"-?[0-9]{1,18}", s):
            return int(s), 0
        return 0, 2
    return 0, 2


def norm_type(s) -> str:
    return s.strip().lower() if isinstance(s, str) else ""


# ---------------------------------------------------------------------------------------------

def run(args, cfg) -> int:
    timer = Timer()
    inp = args.input
    a0 = float(cfg["smoothing"]["alpha0"])
    b0 = float(cfg["smoothing"]["beta0"])
    m = a0 + b0
    report: dict = {"implementation": "bench/pandas_peer.py (pandas/numpy/pyarrow)", "input": inp,
                    "rows": {}, "config": cfg}

    # ---- locate and check every input before any work
    try:
        users_src = find_source(inp, "users")
        users_src.require(["user_id", "age_group", "fitness_level", "preferred_types"])
        sess_src = find_source(inp, "sessions")
        sess_src.require(["session_id", "user_id", "workout_id", "timestamp"])
        if "completed" not in sess_src.columns and "completed_at" not in sess_src.columns:
            raise InputError(f"error: {sess_src.path}: missing required column 'completed' (or 'completed_at')")
        fb_src = find_source(inp, "feedback")
        fb_src.require(["feedback_id", "session_id", "user_id", "workout_id", "liked", "feedback_time"])
        cat_path = os.path.join(inp, "augmented_workouts.json")
        if not os.path.exists(cat_path):
            raise InputError(f"error: missing dataset catalog: {cat_path} does not exist")
        catalog_records = read_catalog(cat_path)
    except pd.errors.ParserError as e:
        die(2, f"error: cannot parse a CSV input: {str(e).strip()}")
    except InputError as e:
        die(2, str(e))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        die(2, f"error: {cat_path}: cannot be read: {e}")
    as_of_explicit = None
    if str(cfg["as_of"]).strip():
        try:
            ts = pd.Timestamp(str(cfg["as_of"]).strip())
        except ValueError:
            die(2, f"error: bad value for as_of: {cfg['as_of']!r}")
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        as_of_explicit = int(ts.value // 1000)
    timer.step("open_inputs")

    reason_of: dict[str, np.ndarray] = {}

    # ---- catalog (small: plain Python per workout)
    cat_reason = []
    cat_rows = []
    for rec in catalog_records:
        if not isinstance(rec, dict):
            cat_reason.append(R_MALFORMED)
            cat_rows.append(None)
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
        cat_reason.append(r)
        cat_rows.append((wid, iid, wtype, tagset, rec.get("instructor")))
    cat_reason = np.array(cat_reason, dtype=np.int8).reshape(-1)
    cand = cat_reason == OK
    cat_ids = np.array([row[0] if row else 0 for row in cat_rows], dtype=np.int64)
    mark(cat_reason, first_wins_duplicates(cat_ids, cand, None), R_DUP)
    reason_of["catalog"] = cat_reason
    acc = np.flatnonzero(cat_reason == OK)
    types = sorted({cat_rows[i][2] for i in acc})
    T = len(types)
    type_pos = {t: i for i, t in enumerate(types)}
    # workout codes: ordered by (type, workout_id), so that each type is one contiguous block
    acc_sorted = sorted(acc, key=lambda i: (type_pos[cat_rows[i][2]], cat_rows[i][0]))
    W = len(acc_sorted)
    w_id = np.array([cat_rows[i][0] for i in acc_sorted], dtype=np.int64)
    w_type = np.array([type_pos[cat_rows[i][2]] for i in acc_sorted], dtype=np.int64)
    w_instr = np.array([cat_rows[i][1] for i in acc_sorted], dtype=np.int64)
    w_tags = [cat_rows[i][3] for i in acc_sorted]
    type_start = np.searchsorted(w_type, np.arange(T), side="left")
    type_end = np.searchsorted(w_type, np.arange(T), side="right")
    instr_name: dict[int, object] = {}
    for i in acc:  # input order: the first row of an instructor names them
        instr_name.setdefault(cat_rows[i][1], cat_rows[i][4])
    wmap = IdMap(w_id)
    timer.step("catalog")

    # ---- users
    n_users = users_src.nrows
    u_reason = np.full(n_users, OK, np.int8)
    uid, null, bad = parse_id(users_src.column("user_id"))
    mark(u_reason, null, R_NULL_KEY)
    mark(u_reason, bad, R_BAD_ID)
    ag_codes, ag_vals = recode(*dict_encode(users_src.column("age_group", dictionary=True)),
                               lambda s: s.strip())
    lv_codes, lv_vals = recode(*dict_encode(users_src.column("fitness_level", dictionary=True)),
                               lambda s: s.strip().title())
    mark(u_reason, (ag_codes < 0) | (lv_codes < 0), R_NULL_FIELD)
    mark(u_reason, first_wins_duplicates(uid, u_reason == OK, None), R_DUP)
    pt_codes, pt_uniques = dict_encode(users_src.column("preferred_types", dictionary=True))
    reason_of["users"] = u_reason
    acc_u = np.flatnonzero(u_reason == OK)
    # the segment universe: age groups x levels seen among the accepted users (re-coded densely)
    ag_seen = np.unique(ag_codes[acc_u])
    lv_seen = np.unique(lv_codes[acc_u])
    ag_names = [ag_vals[i] for i in ag_seen]
    lv_names = [lv_vals[i] for i in lv_seen]
    A, L = len(ag_names), len(lv_names)
    ag_dense = np.full(len(ag_vals) + 1, -1, np.int64)
    ag_dense[ag_seen] = np.arange(A)
    lv_dense = np.full(len(lv_vals) + 1, -1, np.int64)
    lv_dense[lv_seen] = np.arange(L)
    # per distinct preferred_types string: membership in each catalog type, unknown types
    P = len(pt_uniques)
    member = np.zeros((P + 1, max(T, 1)), bool)  # row P: null preferred_types
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
    pt_codes = np.where(pt_codes < 0, P, pt_codes)
    u_al = ag_dense[ag_codes[acc_u]] * L + lv_dense[lv_codes[acc_u]]  # per accepted user
    u_pt = pt_codes[acc_u]
    u_ids = uid[acc_u]
    umap = IdMap(u_ids)
    AL = A * L
    users_per_seg = (np.bincount(u_al * (P + 1) + u_pt, minlength=AL * (P + 1)).reshape(AL, P + 1)
                     @ member[:, :T].astype(np.int64)) if T else np.zeros((AL, 0), np.int64)
    unknown_pairs = int(unknown_per_string[u_pt].sum())
    del uid, ag_codes, lv_codes, pt_codes
    timer.step("users")

    # ---- events (sessions, feedback): validate, then map to (user code, workout code)
    def load_events(src: Source, id_col: str, flag_col: str, ts_col: str, extra_ids: list[str]):
        n = src.nrows
        reason = np.full(n, OK, np.int8)
        ids, null, bad = parse_id(src.column(id_col))
        mark(reason, null, R_NULL_KEY)
        mark(reason, bad, R_BAD_ID)
        for c in extra_ids:  # ids checked but not used (feedback.session_id)
            _, null, bad = parse_id(src.column(c))
            mark(reason, null, R_NULL_KEY)
            mark(reason, bad, R_BAD_ID)
        del null, bad
        q, null, bad = parse_id(src.column("user_id"))
        mark(reason, null, R_NULL_KEY)
        mark(reason, bad, R_BAD_ID)
        ucode = umap.get(q)
        q, null2, bad2 = parse_id(src.column("workout_id"), allow_w=True)
        mark(reason, null2, R_NULL_KEY)
        mark(reason, bad2, R_BAD_ID)
        wcode = wmap.get(q)
        del q, null, bad, null2, bad2
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
        return reason, ucode, wcode, flag, ts

    s_flag = "completed" if "completed" in sess_src.columns else "completed_at"
    s_reason, s_u, s_w, s_c, s_ts = load_events(sess_src, "session_id", s_flag, "timestamp", [])
    reason_of["sessions"] = s_reason
    timer.step("sessions_validate")
    f_reason, f_u, f_w, f_l, f_ts = load_events(fb_src, "feedback_id", "liked", "feedback_time", ["session_id"])
    reason_of["feedback"] = f_reason
    timer.step("feedback_validate")

    # ---- row counts, rejects, quality gate
    extra = {"users": users_src.extra_malformed, "sessions": sess_src.extra_malformed,
             "feedback": fb_src.extra_malformed, "catalog": 0}
    failed = []
    for name in ("users", "catalog", "sessions", "feedback"):
        r = reason_of[name]
        counts = np.bincount(r[r != OK], minlength=len(REASONS)) if len(r) else np.zeros(len(REASONS), int)
        reasons = {}
        for code, cnt in enumerate(counts):
            if cnt:
                key = REASONS[code]
                if code == R_BAD_FLAG:
                    key = "bad_liked" if name == "feedback" else "bad_completed"
                reasons[key] = int(cnt)
        if extra[name]:
            reasons["malformed_line"] = reasons.get("malformed_line", 0) + extra[name]
        reasons = {k: reasons[k] for k in sorted(reasons, key=lambda k: REASONS.index(
            "bad_flag" if k in ("bad_liked", "bad_completed") else k))}
        rejected = sum(reasons.values())
        read = len(r) + extra[name]
        report["rows"][name] = {"read": read, "accepted": read - rejected, "rejected": rejected,
                                "reasons": reasons}
        if read and rejected / read > float(cfg["quality"]["max_reject_fraction"]):
            failed.append(name)
    timer.step("count_rejects")

    tmp_out = f"{args.output.rstrip('/')}.tmp-{uuid.uuid4().hex[:8]}"
    os.makedirs(tmp_out)
    try:
        if args.rejects:
            os.makedirs(os.path.join(tmp_out, "rejects"), exist_ok=True)
            for name, src in (("users", users_src), ("sessions", sess_src), ("feedback", fb_src)):
                r = reason_of[name]
                idx = np.flatnonzero(r != OK)
                if len(idx):
                    df = src.raw_rows(idx)
                    df["reason"] = [REASONS[c] for c in r[idx]]
                    if name in ("sessions", "feedback"):
                        df["reason"] = df["reason"].replace(
                            "bad_flag", "bad_liked" if name == "feedback" else "bad_completed")
                    df.insert(0, "row", idx)
                    df.to_csv(os.path.join(tmp_out, "rejects", f"{name}.csv"), index=False)
                if getattr(src, "bad_lines", None):
                    pd.DataFrame({"line": src.bad_lines, "reason": "malformed_line"}).to_csv(
                        os.path.join(tmp_out, "rejects", f"{name}_malformed_lines.csv"), index=False)
            idx = np.flatnonzero(reason_of["catalog"] != OK)
            if len(idx):
                with open(os.path.join(tmp_out, "rejects", "catalog.csv"), "w", newline="") as f:
                    wr = csv.writer(f)
                    wr.writerow(["row", "record", "reason"])
                    for i in idx:
                        rec = catalog_records[i]
                        rec = rec.line if isinstance(rec, _Malformed) else json.dumps(rec)
                        wr.writerow([i, rec, REASONS[reason_of["catalog"][i]]])
            timer.step("write_rejects")

        if failed:
            report["error"] = f"too many rejected rows in {', '.join(failed)}"
            report["timings"] = timer.steps
            _write_json(os.path.join(tmp_out, "run_report.json"), report)
            # keep the previous recommendations: only the report and rejects are replaced
            os.makedirs(args.output, exist_ok=True)
            for entry in ("run_report.json", "rejects"):
                dst = os.path.join(args.output, entry)
                src_p = os.path.join(tmp_out, entry)
                if os.path.exists(src_p):
                    if os.path.isdir(dst):
                        shutil.rmtree(dst)
                    os.replace(src_p, dst)
            print(f"error: {report['error']} (more than {cfg['quality']['max_reject_fraction']} of the rows read)",
                  file=sys.stderr)
            return 3

        # ---- accepted events only; as_of
        s_ok = s_reason == OK
        f_ok = f_reason == OK
        if as_of_explicit is not None:
            as_of = as_of_explicit
            s_after = s_ok & (s_ts > as_of)
            f_after = f_ok & (f_ts > as_of)
            report["events_after_as_of"] = {"sessions": int(s_after.sum()), "feedback": int(f_after.sum())}
            s_ok &= ~s_after
            f_ok &= ~f_after
            del s_after, f_after
        else:
            as_of = int(s_ts[s_ok].max()) if s_ok.any() else None
            report["events_after_as_of"] = {"sessions": 0, "feedback": 0}
        all_s = bool(s_ok.all())
        all_f = bool(f_ok.all())
        su = s_u if all_s else s_u[s_ok]
        sw = s_w if all_s else s_w[s_ok]
        sc = s_c if all_s else s_c[s_ok]
        sts = s_ts if all_s else s_ts[s_ok]
        fu = f_u if all_f else f_u[f_ok]
        fw = f_w if all_f else f_w[f_ok]
        fl = f_l if all_f else f_l[f_ok]
        del s_u, s_w, s_c, s_ts, f_u, f_w, f_l, f_ts
        timer.step("as_of")

        # ---- counts: global per workout, per (age|level, workout) for the users of the workout's type
        u_member = member[u_pt]  # (accepted users, T): does the user prefer type t
        Vg = np.zeros(W, np.int64)
        Cg = np.zeros(W, np.int64)
        Ng = np.zeros(W, np.int64)
        Sg = np.zeros(W, np.int64)
        last = np.full(W, np.iinfo(np.int64).min, np.int64)  # the latest accepted session (<= as_of)
        for lo in range(0, len(sw), CHUNK):
            w_ = sw[lo:lo + CHUNK]
            Vg += np.bincount(w_, minlength=W)
            Cg += np.bincount(w_[sc[lo:lo + CHUNK] == 1], minlength=W)
            np.maximum.at(last, w_, sts[lo:lo + CHUNK])
        for lo in range(0, len(fw), CHUNK):
            w_ = fw[lo:lo + CHUNK]
            Ng += np.bincount(w_, minlength=W)
            Sg += np.bincount(w_[fl[lo:lo + CHUNK] == 1], minlength=W)
        del sts
        timer.step("global_counts")

        def seg_counts(uu, ww, flag):
            """per (age|level, workout): events of the users whose preferred types hold the workout's type"""
            cnt = np.zeros(AL * W, np.int64)
            pos = np.zeros(AL * W, np.int64)
            for lo in range(0, len(uu), CHUNK):
                u_, w_ = uu[lo:lo + CHUNK], ww[lo:lo + CHUNK]
                inseg = u_member[u_, w_type[w_]]
                key = u_al[u_[inseg]] * W + w_[inseg]
                cnt += np.bincount(key, minlength=AL * W)
                pos += np.bincount(key[flag[lo:lo + CHUNK][inseg] == 1], minlength=AL * W)
            return cnt.reshape(AL, W), pos.reshape(AL, W)

        v, c = seg_counts(su, sw, sc)
        del su, sw, sc
        n, s = seg_counts(fu, fw, fl)
        del fu, fw, fl
        timer.step("segment_counts")

        # ---- scores for every (age|level, workout): the workout's type fixes the segment
        if cfg["smoothing"]["prior"] == "beta":
            p_c = (c + a0) / (v + m)
            p_l = (s + a0) / (n + m)
        else:
            mu_c = (Cg + a0) / (Vg + m)
            mu_l = (Sg + a0) / (Ng + m)
            p_c = (c + m * mu_c) / (v + m)
            p_l = (s + m * mu_l) / (n + m)
        seg_max_v = np.zeros((AL, W), np.float64)
        type_max_V = np.zeros(W, np.float64)
        for t in range(T):
            lo, hi = type_start[t], type_end[t]
            if hi > lo:
                seg_max_v[:, lo:hi] = v[:, lo:hi].max(axis=1, keepdims=True)
                type_max_V[lo:hi] = Vg[lo:hi].max()
        views_norm = np.divide(v, seg_max_v, out=np.zeros((AL, W)), where=seg_max_v > 0)
        type_views_norm = np.divide(Vg, type_max_V, out=np.zeros(W), where=type_max_V > 0)
        sc_cfg = cfg["scoring"]
        raw = (float(sc_cfg["alpha"]) * p_c + float(sc_cfg["beta"]) * p_l
               + float(sc_cfg["gamma"]) * views_norm + float(sc_cfg["delta"]) * type_views_norm)
        played = last != np.iinfo(np.int64).min
        days_old = np.full(W, float(cfg["freshness"]["unplayed_days"]))
        if as_of is not None:
            days_old[played] = np.maximum(0.0, ((as_of - last[played]) / 1e6) / 86400.0)
        score = raw * np.exp(-float(cfg["freshness"]["lambda"]) * days_old)
        timer.step("score")

        # ---- TF-IDF over the catalog's tag sets, then MMR per segment
        from sklearn.feature_extraction.text import TfidfVectorizer

        timer.step("import sklearn")
        try:
            X = TfidfVectorizer(analyzer=lambda doc: doc).fit_transform(w_tags).tocsr()
        except ValueError:  # no tags at all: every similarity is 0
            X = None
        timer.step("tfidf")

        pool_n = int(cfg["mmr"]["pool_size"])
        k = int(cfg["mmr"]["k"])
        lam = float(cfg["mmr"]["lambda"])
        segs = sorted(((f"{ag_names[al // L]}|{lv_names[al % L]}|{types[t]}", al, t)
                       for al in range(AL) for t in range(T)), key=lambda x: x[0])
        out_rows = []  # (segment_key, al, t, workout code, score, rank, mmr)
        for key, al, t in segs:
            lo, hi = type_start[t], type_end[t]
            if hi <= lo:
                continue
            sc_blk = score[al, lo:hi]
            ids_blk = w_id[lo:hi]
            pool = np.lexsort((ids_blk, -sc_blk))[:pool_n]
            p_score = sc_blk[pool]
            p_ids = ids_blk[pool]
            top = p_score.max()
            rel = p_score / top if top > 0 else np.zeros(len(pool))
            if X is not None:
                Xp = X[lo + pool]
                sims = (Xp @ Xp.T).toarray()
            else:
                sims = np.zeros((len(pool), len(pool)))
            maxsim = np.zeros(len(pool))
            avail = np.ones(len(pool), bool)
            for rank in range(1, min(k, len(pool)) + 1):
                mmr = lam * rel - (1.0 - lam) * maxsim
                cand_i = np.flatnonzero(avail)
                j = cand_i[np.lexsort((p_ids[cand_i], -p_score[cand_i], -mmr[cand_i]))[0]]
                avail[j] = False
                maxsim = np.maximum(maxsim, sims[j])
                out_rows.append((key, al, t, lo + pool[j], p_score[j], rank, mmr[j]))
        timer.step("mmr")

        # ---- instructor flags
        instr_ids, instr_code = np.unique(w_instr, return_inverse=True)
        iV = np.bincount(instr_code, weights=Vg, minlength=len(instr_ids)).astype(np.int64)
        iC = np.bincount(instr_code, weights=Cg, minlength=len(instr_ids)).astype(np.int64)
        iN = np.bincount(instr_code, weights=Ng, minlength=len(instr_ids)).astype(np.int64)
        iS = np.bincount(instr_code, weights=Sg, minlength=len(instr_ids)).astype(np.int64)
        aband = 1.0 - (iC + a0) / (iV + m)
        disl = 1.0 - (iS + a0) / (iN + m)
        fl_cfg = cfg["flags"]
        as_of_str = _iso(as_of) if as_of is not None else ""
        flag_rows = []
        for i, iid in enumerate(instr_ids):
            for reason, hit in (
                ("high_abandonment", iV[i] >= fl_cfg["min_sessions"] and aband[i] > fl_cfg["max_abandonment"]),
                ("high_dislike", iN[i] >= fl_cfg["min_feedback"] and disl[i] > fl_cfg["max_dislike"]),
            ):
                if hit:
                    flag_rows.append((int(iid), instr_name.get(int(iid)), reason, int(iV[i]), int(iC[i]),
                                      int(iN[i]), int(iS[i]), float(aband[i]), float(disl[i]), as_of_str))
        flag_rows.sort(key=lambda r: (r[0], r[2]))
        timer.step("flags")

        # ---- outputs
        with open(os.path.join(tmp_out, "segment_recommendations.csv"), "w", newline="") as f:
            wr = csv.writer(f, lineterminator="\n")
            wr.writerow(["segment_key", "workout_id", "score", "rank"])
            for key, _al, _t, w, scv, rank, _m in out_rows:
                wr.writerow([key, int(w_id[w]), repr(float(scv)), rank])
        if out_rows:
            al_a = np.array([r[1] for r in out_rows])
            w_a = np.array([r[3] for r in out_rows])
        else:
            al_a = w_a = np.zeros(0, np.int64)
        detail = pd.DataFrame({
            "segment_key": [r[0] for r in out_rows],
            "workout_id": w_id[w_a],
            "score": [float(r[4]) for r in out_rows],
            "rank": np.array([r[5] for r in out_rows], dtype=np.int32),
            "age_group": [ag_names[al // L] for al in al_a],
            "fitness_level": [lv_names[al % L] for al in al_a],
            "workout_type": [types[r[2]] for r in out_rows],
            "mmr_score": [float(r[6]) for r in out_rows],
            "raw_score": raw[al_a, w_a],
            "p_completion": p_c[al_a, w_a],
            "p_like": p_l[al_a, w_a],
            "views_norm": views_norm[al_a, w_a],
            "type_views_norm": type_views_norm[w_a],
            "days_old": days_old[w_a],
            "views": v[al_a, w_a].astype(np.int64),
            "completions": c[al_a, w_a].astype(np.int64),
            "feedbacks": n[al_a, w_a].astype(np.int64),
            "likes": s[al_a, w_a].astype(np.int64),
        })
        os.makedirs(os.path.join(tmp_out, "segment_recommendations.parquet"))
        detail.to_parquet(os.path.join(tmp_out, "segment_recommendations.parquet", "part-00000.parquet"),
                          index=False)
        with open(os.path.join(tmp_out, "instructor_flags.csv"), "w", newline="") as f:
            wr = csv.writer(f, lineterminator="\n")
            wr.writerow(["instructor_id", "instructor", "reason", "sessions", "completions", "feedbacks", "likes",
                         "abandonment_rate", "dislike_rate", "as_of"])
            for r in flag_rows:
                wr.writerow([r[0], "" if r[1] is None else r[1], r[2], r[3], r[4], r[5], r[6],
                             repr(r[7]), repr(r[8]), r[9]])
        timer.step("write_outputs")

        ups = users_per_seg.reshape(-1) if users_per_seg.size else np.zeros(1, np.int64)
        report.update({
            "as_of": as_of_str,
            "as_of_source": "config" if as_of_explicit is not None else "latest accepted session",
            "segments": int(AL * T),
            "recommendations": len(out_rows),
            "instructor_flags": len(flag_rows),
            "users_per_segment": {"min": int(ups.min()), "median": float(np.median(ups)), "max": int(ups.max())},
            "unknown_preferred_types": {"user_type_pairs": unknown_pairs, "types": sorted(unknown_types)},
        })
        report["timings"] = dict(timer.steps)
        report["timings"]["total"] = round(timer.total(), 4)
        _write_json(os.path.join(tmp_out, "run_report.json"), report)

        # ---- swap the new outputs in whole
        out = args.output.rstrip("/")
        old = None
        if os.path.exists(out):
            old = f"{out}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
        os.replace(tmp_out, out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        timer.step("swap_outputs")
    finally:
        if os.path.exists(tmp_out):
            shutil.rmtree(tmp_out, ignore_errors=True)

    print(f"[pandas_peer] {'total':<34s} {timer.total():8.3f} s", file=sys.stderr)
    print(f"[pandas_peer] peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.3f} GiB; "
          f"{len(out_rows)} recommendations in {AL * T} segments, {len(flag_rows)} instructor flags; "
          f"as_of {as_of_str}", file=sys.stderr)
    return 0


def _iso(us: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(microseconds=int(us))).isoformat()


def _write_json(path: str, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, default=str)
        f.write("\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--config", help="a TOML file in the layout of conf/coldstart.toml (unknown keys ignored)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--no-rejects", dest="rejects", action="store_false", help="do not write rejects/")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.set)
    return run(args, cfg)


if __name__ == "__main__":
    sys.exit(main())
