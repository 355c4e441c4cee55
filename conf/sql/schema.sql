-- The MySQL / MariaDB tables of SPEC §8. Run by jobs/load_mysql.py and by the MySQL sink
-- of jobs/recommend.py before they write (every statement is idempotent); also usable as
--   mariadb -h HOST -u USER -p DB < conf/sql/schema.sql
--
-- Event tables: the columns of the SPEC §1 CSVs, typed. Times are DATETIME(6) holding UTC
-- (microseconds kept); the job reads them as text and parses them in UTC, so the JVM's
-- time zone never shifts them.
-- Result tables: replaced whole by each run (staging table + one RENAME TABLE), so a
-- reader sees one complete run_id. Their staging tables are made with CREATE TABLE ... LIKE
-- these, so keys and indexes below are what readers get.

CREATE TABLE IF NOT EXISTS users (
  user_id BIGINT NOT NULL,
  age_group VARCHAR(32) NOT NULL,
  fitness_level VARCHAR(32) NOT NULL,
  -- comma-separated workout types, as in users.csv
  preferred_types VARCHAR(1024) NOT NULL DEFAULT '',
  PRIMARY KEY (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sessions (
  session_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  workout_id BIGINT NOT NULL,
  completed TINYINT NOT NULL,
  `timestamp` DATETIME(6) NOT NULL,
  PRIMARY KEY (session_id),
  KEY idx_sessions_user (user_id),
  KEY idx_sessions_workout (workout_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS feedback (
  feedback_id BIGINT NOT NULL,
  session_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  workout_id BIGINT NOT NULL,
  liked TINYINT NOT NULL,
  feedback_time DATETIME(6) NOT NULL,
  PRIMARY KEY (feedback_id),
  KEY idx_feedback_user (user_id),
  KEY idx_feedback_workout (workout_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Readers look up one segment: `WHERE segment_key = ? ORDER BY rank`. The primary key is that
-- index (InnoDB clusters rows by it, so a segment's rows are read in rank order); a separate
-- KEY (segment_key) would duplicate its prefix.
CREATE TABLE IF NOT EXISTS cold_start_top_workouts (
  segment_key VARCHAR(255) NOT NULL,
  `rank` INT NOT NULL,
  workout_id BIGINT NOT NULL,
  score DOUBLE NOT NULL,
  as_of DATETIME(6) NULL,
  run_id VARCHAR(64) NOT NULL,
  PRIMARY KEY (segment_key, `rank`),
  UNIQUE KEY uq_top_workouts_segment_workout (segment_key, workout_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A flags table made when instructor_id was VARCHAR(64) keeps that type (the staging table is
-- made LIKE it) and stores the ids as their decimal text; to give it the type below:
--   ALTER TABLE flags MODIFY instructor_id BIGINT NOT NULL;
CREATE TABLE IF NOT EXISTS flags (
  instructor_id BIGINT NOT NULL,
  instructor VARCHAR(255) NULL,
  reason VARCHAR(32) NOT NULL,
  sessions BIGINT NOT NULL,
  completions BIGINT NOT NULL,
  feedbacks BIGINT NOT NULL,
  likes BIGINT NOT NULL,
  abandonment_rate DOUBLE NOT NULL,
  dislike_rate DOUBLE NOT NULL,
  as_of DATETIME(6) NULL,
  run_id VARCHAR(64) NOT NULL,
  PRIMARY KEY (instructor_id, reason)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- SPEC §10: one list per profile `age|level|t1,t2,...`, read like the segments' lists:
-- `WHERE profile_key = ? ORDER BY rank`. 760 characters is the longest key InnoDB indexes in
-- utf8mb4 beside the rank (3,072 bytes).
CREATE TABLE IF NOT EXISTS cold_start_profile_top_workouts (
  profile_key VARCHAR(760) NOT NULL,
  `rank` INT NOT NULL,
  workout_id BIGINT NOT NULL,
  score DOUBLE NOT NULL,
  as_of DATETIME(6) NULL,
  run_id VARCHAR(64) NOT NULL,
  PRIMARY KEY (profile_key, `rank`),
  UNIQUE KEY uq_profile_top_workouts_profile_workout (profile_key, workout_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
