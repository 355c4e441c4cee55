"""The input datasets of SPEC §1: names, files and the columns each one must have."""
from __future__ import annotations

from dataclasses import dataclass

CORRUPT = "_corrupt_record"
# the original text line of a CSV row, kept for rejects/
RAW_LINE = "_line"
# position of a row in its input, for deterministic "keep the first" tie-breaks
ROW_ORDER = "_row_order"
SOURCE_FILE = "_source_file"


@dataclass(frozen=True)
class Dataset:
    name: str
    file_stem: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # at least one of these (sessions: `completed`, or `completed_at` instead)
    one_of: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.one_of + self.optional


USERS = Dataset("users", "users", ("user_id", "age_group", "fitness_level", "preferred_types"))
SESSIONS = Dataset(
    "sessions", "sessions", ("session_id", "user_id", "workout_id", "timestamp"), one_of=("completed", "completed_at")
)
FEEDBACK = Dataset(
    "feedback", "feedback", ("feedback_id", "session_id", "user_id", "workout_id", "liked", "feedback_time")
)
CATALOG = Dataset(
    "catalog",
    "augmented_workouts",
    ("workout_id", "workout_type", "tags", "instructor", "instructor_id"),
    optional=("title", "fitness_level", "duration"),
)

EVENT_DATASETS = (USERS, SESSIONS, FEEDBACK)
