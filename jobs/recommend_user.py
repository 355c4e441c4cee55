"""The onboarding lookup: a new user's list from the job's outputs (no Spark needed).

    ./spark-submit.sh jobs/recommend_user.py --recs DIR --age-group 26-35 --level Advanced --types yoga,cycling
        [--k 5] [--format table|csv] [--input DIR]

`--recs` is the output directory of jobs/recommend.py (or its segment_recommendations.csv): the
user's profile list (profile_recommendations.csv, SPEC §10) when it has one, else their segment
lists merged. `--input`, the input directory, supplies workout titles from augmented_workouts.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import pandas as pd

from coldstart.lookup import FROM_PROFILE, RESULT_COLUMNS, Profile, UnknownProfileValue, recommend_for
from coldstart.runtime import EXIT_BAD_INPUT, fail

RECOMMENDATIONS_CSV = "segment_recommendations.csv"
PROFILE_RECOMMENDATIONS_CSV = "profile_recommendations.csv"
CATALOG_JSON = "augmented_workouts.json"
DEFAULT_K = 5


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recs", required=True, help=f"directory holding {RECOMMENDATIONS_CSV} (or the file)")
    parser.add_argument("--age-group", required=True)
    parser.add_argument("--level", required=True, help="fitness level, e.g. Advanced")
    parser.add_argument("--types", required=True, help="preferred workout types, comma-separated")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="length of the list (default %(default)s)")
    parser.add_argument("--format", choices=("table", "csv"), default="table")
    parser.add_argument("--input", help=f"input directory with {CATALOG_JSON}, for titles")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    return args


def read_recommendations(recs: str) -> pd.DataFrame:
    path = Path(recs)
    if path.is_dir():
        path = path / RECOMMENDATIONS_CSV
    if not path.is_file():
        fail(f"{path}: no such file (run jobs/recommend.py first)", EXIT_BAD_INPUT)
    df = pd.read_csv(path, dtype={"segment_key": str})
    missing = [c for c in ("segment_key", "workout_id", "score", "rank") if c not in df.columns]
    if missing:
        fail(f"{path}: missing column(s): {', '.join(missing)}", EXIT_BAD_INPUT)
    return df


def read_profile_recommendations(recs: str) -> pd.DataFrame | None:
    """profile_recommendations.csv beside the segment lists, None when the job made none."""
    path = Path(recs)
    path = (path if path.is_dir() else path.parent) / PROFILE_RECOMMENDATIONS_CSV
    if not path.is_file():
        return None
    df = pd.read_csv(path, dtype={"profile_key": str})
    missing = [c for c in ("profile_key", "workout_id", "score", "rank") if c not in df.columns]
    if missing:
        fail(f"{path}: missing column(s): {', '.join(missing)}", EXIT_BAD_INPUT)
    return df


def _workout_id(value: object) -> int | None:
    text = str(value).strip().lstrip("wW")
    return int(text) if text.lstrip("+-").isdigit() else None


def read_titles(input_dir: str) -> pd.DataFrame:
    """workout_id -> title from the catalog (a JSON array or JSON Lines); the first row of an id wins."""
    path = Path(input_dir) / CATALOG_JSON
    if not path.is_file():
        fail(f"{path}: no such file", EXIT_BAD_INPUT)
    text = path.read_text(encoding="utf-8-sig")
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        fail(f"{path}: not JSON ({exc})", EXIT_BAD_INPUT)
    pairs = [(_workout_id(r.get("workout_id")), r.get("title")) for r in rows if isinstance(r, dict)]
    titles = pd.DataFrame([p for p in pairs if p[0] is not None], columns=["workout_id", "title"])
    return titles.drop_duplicates("workout_id", keep="first")


def print_table(result: pd.DataFrame, header: str) -> None:
    print(header)
    if result.empty:
        print("  (no workouts)")
        return
    shown = result.assign(score=result["score"].map(lambda s: f"{s:.4f}"))
    print(shown.to_string(index=False))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    recommendations = read_recommendations(args.recs)
    profile_lists = read_profile_recommendations(args.recs)
    if args.input:
        titles = read_titles(args.input)
        recommendations = recommendations.merge(titles, on="workout_id", how="left")
        if profile_lists is not None:
            profile_lists = profile_lists.merge(titles, on="workout_id", how="left")
    profile = Profile.of(args.age_group, args.level, args.types)
    try:
        result = recommend_for(profile, recommendations, k=args.k, profile_recommendations=profile_lists)
    except UnknownProfileValue as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    if args.format == "csv":
        # float repr keeps full precision, like segment_recommendations.csv
        result[list(RESULT_COLUMNS)].to_csv(sys.stdout, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    else:
        types = ", ".join(profile.types)
        source = ("the profile's list" if (result["source"] == FROM_PROFILE).any()
                  else "the segments' lists, merged")
        print_table(result.drop(columns="source"),
                    f"Top {args.k} for {profile.age_group} | {profile.fitness_level} | {types} (from {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
