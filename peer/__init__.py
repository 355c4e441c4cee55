"""An independent single-machine (pandas / numpy / pyarrow) implementation of ../shared/SPEC.md.

    .venv/bin/python -m peer --input DIR --output DIR [--config FILE] [--set KEY=VALUE ...] [--no-rejects]
    .venv/bin/python -m peer.compare A_DIR B_DIR [--tol 1e-9] [--max-diffs 20] [--require-profiles]

Written from the SPEC alone (not from the Spark job, nothing under coldstart/ is read or imported), to
be (1) the "pandas, full spec" peer of the scale benchmark and (2) a cross-check of the Spark job's
results (peer.compare).

One module per step of the SPEC, called in order by peer.driver.run:
  config       the SPEC's defaults, --config TOML, --set KEY=VALUE
  sources      locate and open the four datasets (CSV through pandas, Parquet through pyarrow)
  parse        column parsers (ids, 0/1 flags, timestamps), id maps
  validate     §9 reject reasons and §1 normalisation, row by row as arrays
  universe     the accepted catalog and users, the segment universe (§2)
  rejects      row counts per reason, the quality gate, rejects/
  counts       §4's as_of cut, global and per-segment counts (§3)
  scoring      smoothing, views_norm, freshness (§3-4)
  mmr          TF-IDF over the tags, top-N pool and greedy MMR for many lists at once (§5)
  profiles     §10: profiles, engagement, similarity, relevance, scores, rerank
  flags        instructor quality flags (§6)
  outputs      the output files, the run report and the swap (§7)
  compare      the comparison of two output directories

Writes into DIR (swapped in whole at the end, a failed run leaves the previous outputs in place):
  segment_recommendations.csv        segment_key,workout_id,score,rank (sorted by segment_key, rank)
  segment_recommendations.parquet/   the same rows plus the SPEC §7 detail columns
  profile_recommendations.csv        profile_key,workout_id,score,rank (sorted by profile_key, rank; §10)
  profile_recommendations.parquet/   the same rows plus age_group, fitness_level, types, workout_type,
                                     relevance, mmr_score, days_old
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

§10 (profile recommendations; config section [profile]: enabled, age_weight, level_weight,
jaccard_power, degree_power, like_weight, preferred_types_only; enabled = false writes no profile
outputs and adds nothing to the report). The Spark job makes the same choices:
1. The profile of an accepted user is (age_group, fitness_level, T), T = the user's normalised
   preferred types that the accepted catalog has. A user whose T is empty has no profile (contributes
   nothing, adds no target profile). Key `age|level|t1,t2,...`, T sorted by code point (Python sorted).
2. Engagement uses accepted events only, with §4's as_of cut (explicit as_of: sessions with
   timestamp > as_of and feedback with feedback_time > as_of left out; default as_of: nothing cut).
   "completed w at least once": some accepted session of (v, w) has completed = 1; "liked w at least
   once": some accepted feedback row of (v, w) has liked = 1. e(v,w) = [completed] + like_weight *
   [liked], d(v) = sum_w e(v,w); users with d(v) = 0 contribute nothing (the peer's own reading for a
   negative like_weight, which the SPEC does not foresee: users with d(v) <= 0 contribute nothing).
3. sim(P, v) = (1 + age_weight*[a_v = a]) * (1 + level_weight*[l_v = l]) * J(T, T_v)**jaccard_power,
   J = |T & T_v| / |T | T_v|; jaccard_power = 0 makes the factor 1 even where J = 0 (0.0**0.0 == 1.0).
4. r(P, w) = sum_v sim(P,v) * e(v,w) / d(v)**degree_power over the contributing users, aggregated per
   (source profile, workout) first; then r = (sim of the targets' type sets to the sources' type sets,
   times the age/level factor) @ (source profile x workout) matrix, in blocks. The summation order is
   the peer's (the SPEC leaves it open).
5. Candidates of P: every accepted catalog workout (preferred_types_only = true: those whose
   workout_type is in T). score(P, w) = r(P,w) / max of r over P's candidates (0 for all when that max
   is not > 0), times exp(-freshness.lambda * days_old(w)) with §4's days_old (the segments' own).
6. Rerank: §5 on P's candidates (pool = top mmr.pool_size by score, ties lower workout_id; rel = score
   / max score over the pool, 0 when that max is not > 0; greedy MMR with mmr.lambda and mmr.k, ties
   higher score then lower workout_id; the segments' TF-IDF vectors). Fewer candidates than k: all.
   The segments (§5) and the profiles run the same code (peer.mmr.rerank).
7. Target profiles: every distinct profile of the accepted users (non-empty T), plus every single-type
   profile (a, l, {t}) of the segment universe (§2: the age groups and levels seen among the accepted
   users, the catalog's types). Each profile once.
8. Outputs: profile_recommendations.csv (profile_key,workout_id,score,rank; sorted by profile_key in
   code point order, then rank; scores as repr of the float) and profile_recommendations.parquet/
   part-00000.parquet (those columns plus age_group, fitness_level, types (sorted list of strings),
   workout_type, relevance (the raw r(P,w)), mmr_score, days_old). run_report.json: "profiles" (the
   number of target profiles), "profile_recommendations" (rows), timings of the profile steps.
"""
import time

T_PROCESS = time.perf_counter()  # before the heavy imports: the reported total includes them
