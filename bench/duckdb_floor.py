"""A single-node SQL engine's floor for the job's heavy part, for bench/scale.py.

    .venv/bin/python bench/duckdb_floor.py --input DIR [--threads 2]

DuckDB reads the same Parquet (users, sessions, feedback) and the catalog, and computes what
the job's counting pass computes: per (age group, level, workout) the sessions and feedback of
the users who prefer the workout's type (the segment counts v, c, n, s) and per workout the
global counts V, C, N, S. No validation, scoring or MMR: a lower bound for the same counts on
one machine. With `--profiles`, then also SPEC §10's training side with its defaults (each user's
distinct completed workouts, the degree d(v), and per profile and workout the sum of d(v)^-0.5):
what the job's profile pass aggregates before the per-profile lists, which the floor leaves out.
Prints one JSON line: seconds (start-up and imports excluded) and result rows.
"""
from __future__ import annotations

import argparse
import json
import time

import duckdb

CATALOG = """
    SELECT CAST(regexp_replace(CAST(workout_id AS VARCHAR), '^[wW]', '') AS BIGINT) AS workout_id,
           lower(trim(workout_type)) AS workout_type
    FROM read_json_auto('{path}/augmented_workouts.json')
"""
USERS = """
    SELECT user_id, trim(age_group) AS age_group, trim(fitness_level) AS fitness_level,
           list_transform(string_split(lower(preferred_types), ','), lambda t: trim(t)) AS types
    FROM read_parquet('{path}/users.parquet/*.parquet')
"""
EVENTS = """
    SELECT e.workout_id, u.age_group, u.fitness_level,
           list_contains(u.types, c.workout_type) AS in_segment, e.{outcome} AS positive
    FROM read_parquet('{path}/{table}.parquet/*.parquet') e
    JOIN users u USING (user_id) JOIN catalog c USING (workout_id)
"""
COUNTS = """
    SELECT age_group, fitness_level, workout_id,
           count(*) FILTER (WHERE in_segment) AS segment_events,
           count(*) FILTER (WHERE in_segment AND positive = 1) AS segment_positives,
           count(*) AS events, count(*) FILTER (WHERE positive = 1) AS positives
    FROM ({events}) GROUP BY ALL
"""
# SPEC §10 with its defaults: e(v, w) = [v completed w], d(v) = Σ_w e(v, w), ρ = 0.5; a profile is the
# user's age group, level and the set of their preferred types that the catalog has (non-empty)
PROFILE_ENGAGEMENT = """
    WITH completed AS (
        SELECT DISTINCT e.user_id, e.workout_id
        FROM read_parquet('{path}/sessions.parquet/*.parquet') e JOIN catalog USING (workout_id)
        WHERE e.completed = 1),
    degree AS (SELECT user_id, count(*) AS d FROM completed GROUP BY user_id),
    profiles AS (
        SELECT u.user_id, u.age_group, u.fitness_level,
               list_sort(list_distinct(list_filter(u.types, lambda t: list_contains(k.types, t)))) AS types
        FROM users u, (SELECT list(DISTINCT workout_type) AS types FROM catalog) k)
    SELECT p.age_group, p.fitness_level, p.types, c.workout_id, sum(pow(g.d, -0.5)) AS engagement
    FROM completed c JOIN degree g USING (user_id) JOIN profiles p USING (user_id)
    WHERE len(p.types) > 0 GROUP BY ALL
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="a directory of the generator's Parquet output")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profiles", action="store_true", help="also time SPEC §10's training side")
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    started = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE catalog AS {CATALOG.format(path=args.input)}")
    con.execute(f"CREATE TEMP TABLE users AS {USERS.format(path=args.input)}")
    rows = {}
    for table, outcome in (("sessions", "completed"), ("feedback", "liked")):
        events = EVENTS.format(path=args.input, table=table, outcome=outcome)
        rows[table] = len(con.execute(COUNTS.format(events=events)).fetchall())
    result = {"floor_seconds": round(time.perf_counter() - started, 3), "rows": rows}
    if args.profiles:
        started = time.perf_counter()
        rows["profile_engagement"] = len(con.execute(PROFILE_ENGAGEMENT.format(path=args.input)).fetchall())
        result["profile_seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
