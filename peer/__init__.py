"""An independent single-machine (pandas / numpy / pyarrow) implementation of ../shared/SPEC.md.

    .venv/bin/python -m peer --input DIR --output DIR [--config FILE] [--set KEY=VALUE ...] [--no-rejects]
    .venv/bin/python -m peer.compare A_DIR B_DIR [--tol 1e-9] [--max-diffs 20]

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
  flags        instructor quality flags (§6)
  outputs      the output files, the run report and the swap (§7)
  compare      the comparison of two output directories

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
import time

T_PROCESS = time.perf_counter()  # before the heavy imports: the reported total includes them
