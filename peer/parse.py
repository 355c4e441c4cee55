"""Column parsers (each returns numpy arrays and masks of the rows it cannot use) and id maps."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from peer.common import CHUNK

INT_RE = r"^-?[0-9]{1,18}$"
OFFSET_RE = r"[T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?\s*[+-][0-9]{2}(:?[0-9]{2})?\s*$"


def np_bool(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def parse_id(arr: pa.Array, allow_w: bool = False):
    """-> (int64 values, null mask, bad mask)"""
    t = arr.type
    n = len(arr)
    if pa.types.is_integer(t):
        null = np_bool(arr.is_null()) if arr.null_count else np.zeros(n, bool)
        vals = arr.fill_null(0) if arr.null_count else arr
        return vals.cast(pa.int64()).to_numpy(zero_copy_only=False), null, np.zeros(n, bool)
    if pa.types.is_floating(t):
        null = np_bool(arr.is_null())
        f = arr.fill_null(0).to_numpy(zero_copy_only=False)
        bad = (~null) & ((f != np.floor(f)) | ~np.isfinite(f) | (np.abs(f) >= 2**62))
        vals = np.where(bad | null, 0, f).astype(np.int64)
        return vals, null, bad
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        arr = arr.cast(pa.string())
    s = pc.utf8_trim_whitespace(arr.fill_null(""))
    null = np_bool(pc.equal(s, ""))
    if allow_w:
        s = pc.replace_substring_regex(s, r"^[wW]", "")
    ok = pc.match_substring_regex(s, INT_RE)
    vals = pc.cast(pc.if_else(ok, s, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    bad = (~null) & ~np_bool(ok)
    return vals, null, bad


def parse_flag(arr: pa.Array):
    """0/1 column -> (int8 values, bad mask)"""
    t = arr.type
    if pa.types.is_boolean(t):
        bad = np_bool(arr.is_null())
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
    one = np_bool(pc.equal(s, "1"))
    zero = np_bool(pc.equal(s, "0"))
    return one.astype(np.int8), ~(one | zero)


def parse_ts(arr: pa.Array):
    """-> (int64 microseconds since the epoch, UTC; bad mask (null or unparseable))"""
    t = arr.type
    if pa.types.is_timestamp(t):
        bad = np_bool(arr.is_null()) if arr.null_count else np.zeros(len(arr), bool)
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
    has_offset = np_bool(pc.fill_null(pc.match_substring_regex(strs, OFFSET_RE), False))
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
        return (~np_bool(arr.is_null())).astype(np.int8), np.zeros(len(arr), bool)
    s = pc.utf8_trim_whitespace(arr.cast(pa.string()).fill_null(""))
    empty = np_bool(pc.equal(s, ""))
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


def parse_json_id(v, allow_w: bool):
    """a catalog id -> (value, status) status 0 ok, 1 null, 2 bad"""
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
