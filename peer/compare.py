"""Compare two output directories of the cold-start job (any implementation of ../shared/SPEC.md).

    .venv/bin/python -m peer.compare A_DIR B_DIR [--tol 1e-9] [--max-diffs 20] [--require-profiles]

segment_recommendations.csv: the same segment_keys; per segment the same workouts in the same rank
order; |score difference| <= tol. profile_recommendations.csv (SPEC §10), the same way per profile_key
when both directories have it; in one only, the summary says so and it is not a difference (an
implementation may not write it yet) unless --require-profiles (which also makes a file in neither a
difference). instructor_flags.csv: the same (instructor_id, reason) rows, equal
integer and string columns, float columns within tol, as_of equal as a point in time (the text may
differ, e.g. trailing zeros of the microseconds).

Prints a one-line verdict, then the first differences. Exit status 0 if equal, 1 if not, 2 if a file
is missing or unreadable.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from datetime import UTC, datetime

REC = "segment_recommendations.csv"
PROFILES = "profile_recommendations.csv"
FLAGS = "instructor_flags.csv"
FLAG_INTS = ("sessions", "completions", "feedbacks", "likes")
FLAG_FLOATS = ("abandonment_rate", "dislike_rate")


def read_csv(path: str) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        rd = csv.DictReader(f)
        return list(rd.fieldnames or []), list(rd)


def parse_ts(s: str):
    s = s.strip()
    if not s:
        return None
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return s
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC)


def id_key(s: str):
    """an id as a sortable key: integers numerically, before any non-integer text"""
    try:
        return (0, int(s), "")
    except ValueError:
        try:
            f = float(s)
            if f.is_integer():
                return (0, int(f), "")
        except ValueError:
            pass
        return (1, 0, s)


def fclose(a: str, b: str, tol: float) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return abs(x - y) <= tol


def read_pair(a_dir: str, b_dir: str, name: str, diffs: list[str]) -> tuple[list[dict], list[dict]]:
    """The rows of `name` in both directories; a difference of headers goes to `diffs`."""
    ha, ra = read_csv(os.path.join(a_dir, name))
    hb, rb = read_csv(os.path.join(b_dir, name))
    if ha != hb:
        diffs.append(f"{name}: headers differ: {ha} vs {hb}")
    return ra, rb


def by_key(rows: list[dict], key_col: str) -> dict[str, list[tuple[int, int, str]]]:
    """per list key: its (rank, workout_id, score text), by rank"""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for r in rows:
        out.setdefault(r[key_col], []).append((int(r["rank"]), int(float(r["workout_id"])), r["score"]))
    for v in out.values():
        v.sort()
    return out


def compare_one_list(name: str, key: str, la: list, lb: list, tol: float, diffs: list[str]) -> tuple[bool, float]:
    """-> (the lists differ, max |score diff|)"""
    wa = [w for _, w, _ in la]
    wb = [w for _, w, _ in lb]
    ranks_a = [r for r, _, _ in la]
    bad = False
    max_score_diff = 0.0
    if ranks_a != list(range(1, len(la) + 1)):
        diffs.append(f"{name}: {key}: ranks of A are {ranks_a}")
        bad = True
    if wa != wb:
        diffs.append(f"{name}: {key}: workouts A {wa} vs B {wb}")
        return True, max_score_diff
    for (r, w, xa), (_, _, xb) in zip(la, lb, strict=True):
        try:
            max_score_diff = max(max_score_diff, abs(float(xa) - float(xb)))
        except ValueError:
            pass
        if not fclose(xa, xb, tol):
            diffs.append(f"{name}: {key} rank {r} workout {w}: score A {xa} vs B {xb}")
            bad = True
    return bad, max_score_diff


def compare_lists(a_dir: str, b_dir: str, name: str, key_col: str, what: str, tol: float, diffs: list[str]) -> dict:
    """a file of ranked lists (segment_recommendations.csv, profile_recommendations.csv): the same list
    keys, per key the same workouts in the same order, scores within tol, the file sorted by key, rank"""
    ra, rb = read_pair(a_dir, b_dir, name, diffs)
    sa, sb = by_key(ra, key_col), by_key(rb, key_col)
    only_a = sorted(set(sa) - set(sb))
    only_b = sorted(set(sb) - set(sa))
    for key in only_a[:5]:
        diffs.append(f"{name}: {what} {key!r} only in A")
    for key in only_b[:5]:
        diffs.append(f"{name}: {what} {key!r} only in B")
    if len(only_a) > 5 or len(only_b) > 5:
        diffs.append(f"{name}: {len(only_a)} {what}s only in A, {len(only_b)} only in B")
    n_diff = 0
    max_score_diff = 0.0
    for key in sorted(set(sa) & set(sb)):
        bad, d = compare_one_list(name, key, sa[key], sb[key], tol, diffs)
        n_diff += bad
        max_score_diff = max(max_score_diff, d)
    for side, rows in (("A", ra), ("B", rb)):
        keys = [(r[key_col], int(r["rank"])) for r in rows]
        if keys != sorted(keys):
            diffs.append(f"{name}: {side} is not sorted by {key_col}, rank")
    return {"lists_a": len(sa), "lists_b": len(sb), "rows_a": len(ra), "rows_b": len(rb),
            "lists_differing": n_diff + len(only_a) + len(only_b), "max_score_diff": max_score_diff}


def compare_profiles(a_dir: str, b_dir: str, tol: float, require: bool, diffs: list[str]) -> str:
    """profile_recommendations.csv (SPEC §10) when both directories have it; -> the summary's part.
    In one directory only: a note (the other implementation may not write it yet), a difference with
    `require` (as is a file in neither)."""
    in_a, in_b = (os.path.isfile(os.path.join(d, PROFILES)) for d in (a_dir, b_dir))
    if in_a and in_b:
        p = compare_lists(a_dir, b_dir, PROFILES, "profile_key", "profile", tol, diffs)
        return (f"profiles: {p['rows_a']} vs {p['rows_b']} rows, {p['lists_a']} vs {p['lists_b']} profiles, "
                f"{p['lists_differing']} profiles differ, max |score diff| {p['max_score_diff']:.3g}")
    where = "only in A" if in_a else "only in B" if in_b else "in neither"
    if require:
        diffs.append(f"{PROFILES} {where}")
    return f"profiles: {PROFILES} {where}, not compared"


def compare_flags(a_dir: str, b_dir: str, tol: float, diffs: list[str]) -> dict:
    ra, rb = read_pair(a_dir, b_dir, FLAGS, diffs)

    def keyed(rows):
        return {(id_key(r["instructor_id"]), r["reason"]): r for r in rows}

    ka, kb = keyed(ra), keyed(rb)
    if len(ka) != len(ra) or len(kb) != len(rb):
        diffs.append(f"{FLAGS}: repeated (instructor_id, reason) rows")
    for key in sorted(set(ka) - set(kb)):
        diffs.append(f"{FLAGS}: row {ka[key]['instructor_id']},{key[1]} only in A")
    for key in sorted(set(kb) - set(ka)):
        diffs.append(f"{FLAGS}: row {kb[key]['instructor_id']},{key[1]} only in B")
    n_diff = 0
    for key in sorted(set(ka) & set(kb)):
        x, y = ka[key], kb[key]
        bad = []
        for col in sorted(set(x) | set(y)):
            va, vb = x.get(col), y.get(col)
            if va is None or vb is None:
                continue
            if col in FLAG_FLOATS:
                ok = fclose(va, vb, tol)
            elif col in FLAG_INTS or col == "instructor_id":
                ok = id_key(va) == id_key(vb)
            elif col == "as_of":
                ok = parse_ts(va) == parse_ts(vb)
            else:
                ok = va == vb
            if not ok:
                bad.append(f"{col}: A {va!r} vs B {vb!r}")
        if bad:
            n_diff += 1
            diffs.append(f"{FLAGS}: row {x['instructor_id']},{key[1]}: " + "; ".join(bad))
    for name, rows in (("A", ra), ("B", rb)):
        keys = [(id_key(r["instructor_id"]), r["reason"]) for r in rows]
        if keys != sorted(keys):
            diffs.append(f"{FLAGS}: {name} is not sorted by instructor_id, reason")
    return {"rows_a": len(ra), "rows_b": len(rb),
            "rows_differing": n_diff + len(set(ka) ^ set(kb))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a_dir")
    ap.add_argument("b_dir")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--max-diffs", type=int, default=20)
    ap.add_argument("--require-profiles", action="store_true",
                    help=f"{PROFILES} missing or in one directory only is a difference")
    args = ap.parse_args(argv)
    for d in (args.a_dir, args.b_dir):
        for f in (REC, FLAGS):
            if not os.path.isfile(os.path.join(d, f)):
                print(f"ERROR: {os.path.join(d, f)} does not exist")
                return 2
    diffs: list[str] = []
    rec = compare_lists(args.a_dir, args.b_dir, REC, "segment_key", "segment", args.tol, diffs)
    fl = compare_flags(args.a_dir, args.b_dir, args.tol, diffs)
    prof = compare_profiles(args.a_dir, args.b_dir, args.tol, args.require_profiles, diffs)
    summary = (f"recommendations: {rec['rows_a']} vs {rec['rows_b']} rows, {rec['lists_a']} vs "
               f"{rec['lists_b']} segments, {rec['lists_differing']} segments differ, max |score diff| "
               f"{rec['max_score_diff']:.3g}; flags: {fl['rows_a']} vs {fl['rows_b']} rows, "
               f"{fl['rows_differing']} differ; {prof}")
    if diffs:
        print(f"DIFFERENT ({len(diffs)} differences): {summary}")
        for d in diffs[: args.max_diffs]:
            print("  " + d)
        if len(diffs) > args.max_diffs:
            print(f"  ... {len(diffs) - args.max_diffs} more")
        return 1
    print(f"EQUAL (tol {args.tol:g}): {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
