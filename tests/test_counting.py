"""`coldstart.counting`: the collected event counts and what the report and the scores read from them."""
from __future__ import annotations

import pandas as pd

from coldstart.counting import COMMON_COUNTS, EVENT_KEYS, EventCounts
from coldstart.validation import REASON_CODE

# the columns `count_events` collects
COUNT_FRAME_COLUMNS = ["dataset", *EVENT_KEYS, *COMMON_COUNTS, "last_micros"]


def test_event_counts_read_the_collected_counts():
    """`EventCounts` on a hand-made frame, as `count_events` collects it."""
    bad_id = REASON_CODE["bad_id"]
    rows = [  # dataset, reason, after_as_of, workout_id, al_code, 4 counts, last_micros
        ("sessions", None, False, 1, 0, 3, 2, 5, 4, 1_000),
        ("sessions", None, False, 2, 1, 1, 0, 1, 0, 3_000),
        ("sessions", None, True, 2, 1, 0, 0, 2, 2, 9_000),  # after as_of: not counted
        ("sessions", bad_id, False, None, None, 0, 0, 7, 0, None),
        ("feedback", None, False, 1, 0, 2, 1, 2, 1, None),
        ("feedback", None, True, 1, 0, 1, 1, 1, 1, None),
    ]
    frame = pd.DataFrame(rows, columns=COUNT_FRAME_COLUMNS).astype(
        {"reason": "Int32", "after_as_of": "boolean", "workout_id": "Int64", "al_code": "Int32",
         **{c: "Int64" for c in (*COMMON_COUNTS, "last_micros")}})
    counts = EventCounts(frame)

    assert counts.rows("sessions") == 4 and counts.rows("feedback") == 2
    # accepted sessions: 5 + 1 + 2 = 8 events; bad_id: 7
    assert counts.reasons("sessions") == {None: 8, "bad_id": 7}
    assert counts.reasons("feedback") == {None: 3}
    # events after as_of among accepted rows: sessions 2, feedback 1
    assert counts.after_as_of() == {"sessions": 2, "feedback": 1}
    # the latest accepted session, after as_of or not (it is what as_of defaults to)
    assert counts.latest_session() == 9_000
    sessions = counts.accepted_counts("sessions")
    assert list(sessions.columns) == ["workout_id", "al_code", "views", "completions", "part_views",
                                      "part_completions", "last_micros"]
    assert sessions.to_dict("list") == {"workout_id": [1, 2], "al_code": [0, 1], "views": [3, 1],
                                        "completions": [2, 0], "part_views": [5, 1], "part_completions": [4, 0],
                                        "last_micros": [1_000, 3_000]}
    assert str(sessions["al_code"].dtype) == "Int32" and str(sessions["views"].dtype) == "Int64"
    feedback = counts.accepted_counts("feedback")
    assert list(feedback.columns) == ["workout_id", "al_code", "feedbacks", "likes", "part_feedbacks", "part_likes"]
    assert feedback.to_dict("list") == {"workout_id": [1], "al_code": [0], "feedbacks": [2], "likes": [1],
                                        "part_feedbacks": [2], "part_likes": [1]}


def test_event_counts_without_sessions_have_no_latest_session():
    counts = EventCounts(pd.DataFrame({c: pd.Series([], dtype="Int64") for c in COUNT_FRAME_COLUMNS}).astype(
        {"dataset": "object", "after_as_of": "boolean"}))
    assert counts.latest_session() is None
    assert counts.after_as_of() == {"sessions": 0, "feedback": 0}
    assert counts.accepted_counts("sessions").empty
