"""A small, dirty CSV input directory for cross-checking the job against the independent peer.

What a release check on unseen data may hold, in one dataset: categories in mixed case and with
spaces, an unknown preferred type, types with fewer workouts than k, unplayed workouts with
identical tags (exact score and MMR ties), a workout without tags, an age group whose users have
no type (segments without users), duplicates with a later timestamp and with tied timestamps,
every reject reason of SPEC §9 (the catalog's included), ids written `w12`, `W62`, ` 408 `, and
timestamps with and without microseconds, `Z`, an offset, a date only.
Not in it: a CSV line with too few fields (the peer's CSV parser pads it; see its docstring).
"""
from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

# type -> (spellings in the catalog, number of workouts); boxing and rowing have fewer than k = 5
TYPES = {
    "yoga": ([" Yoga", "yoga", "YOGA ", "Yoga"], 26),
    "running": (["running", "Running"], 22),
    "boxing": (["boxing"], 2),
    "cycling": ([" cycling "], 8),
    "rowing": (["rowing"], 3),
    "dance": (["Dance", " DANCE "], 8),
}
TAGS = ["Core", "core ", "outdoor", "Endurance", "relaxing", "intervals", "posture", "quick", "strength-building"]
AGES = ["18-25", " 26-35 ", "26-35", "36-50"]
LEVELS = ["beginner", "ADVANCED", " Intermediate", "Beginner"]
PREFERRED = [" Yoga,YOGA,running", "yoga", "running,boxing", "cycling, rowing", "zumba,yoga", "",
             "Running , Cycling", "boxing", "rowing,zumba", "Dance,yoga"]
USERS = 400
SESSIONS = 6000
T0 = datetime(2025, 3, 1)


def _ts(when: datetime, micros: bool = True, zulu: bool = False) -> str:
    return when.isoformat(timespec="microseconds" if micros else "seconds") + ("Z" if zulu else "")


def _catalog(rng: random.Random) -> list[dict]:
    catalog, wid = [], 0
    for workout_type, (spellings, n) in TYPES.items():
        for i in range(n):
            wid += 1
            tags = rng.sample(TAGS, rng.randint(0, 4))
            if (workout_type == "yoga" and i >= 20) or (workout_type == "dance" and 2 <= i <= 5):
                tags = ["Calm", "calm ", "stretch"]  # identical tag sets, unplayed: ties
            if (workout_type == "dance" and i == 6) or (workout_type == "running" and i == 3):
                tags = []
            catalog.append({"workout_id": f"w{wid}" if wid % 3 else wid, "title": f"W{wid}",
                            "instructor": f"Instr {wid % 7}", "instructor_id": wid % 7,
                            "workout_type": rng.choice(spellings), "fitness_level": " beginner",
                            "duration": 20, "tags": tags})
    extra = {"title": "extra", "instructor": "Y", "instructor_id": 2, "workout_type": "dance",
             "fitness_level": "Beginner", "duration": 10, "tags": ["party"]}
    catalog += [
        {**extra, "workout_id": "W70"},  # upper-case prefix: accepted
        {**extra, "workout_id": 71.0},  # bad_id
        {**extra, "workout_id": "w72", "instructor_id": None},  # null_key
        {**extra, "workout_id": "w73", "instructor_id": "abc"},  # bad_id
        {**extra, "workout_id": "w74", "workout_type": "  "},  # null_field
        dict(catalog[5], title="a second row of workout 6"),  # duplicate: the first row is kept
    ]
    return catalog


def _users(rng: random.Random) -> list[list[str]]:
    users = [[str(u), rng.choice(AGES), rng.choice(LEVELS), rng.choice(PREFERRED)] for u in range(1, USERS + 1)]
    users += [
        ["17", "51+", "Advanced", "yoga"],  # duplicate: the first row of user 17 is kept
        ["", "18-25", "Beginner", "yoga"],  # null_key
        ["u9", "18-25", "Beginner", "yoga"],  # bad_id
        ["401", "  ", "Beginner", "yoga"],  # null_field
        ["402", "18-25", "", "yoga"],  # null_field
        [" 408 ", "18-25", "Beginner", "dance"],
        ["409", "18-25", "intermediate", "DANCE"],
    ]
    # an age group whose users prefer nothing: its segments have no users
    return users + [[str(u), "51+", "Advanced", ""] for u in range(403, 408)]


def _sessions(rng: random.Random, played: list[int]) -> list[list[str]]:
    sessions = []
    for sid in range(1, SESSIONS + 1):
        workout = rng.choice(played)
        when = T0 + timedelta(seconds=rng.randint(0, 200 * 86400), microseconds=rng.choice([0, rng.randint(1, 999999)]))
        completes = 0.2 if workout % 7 == 3 else 0.6
        sessions.append([str(sid), str(rng.randint(1, USERS)), f"w{workout}" if rng.random() < 0.3 else str(workout),
                         str(int(rng.random() < completes)), _ts(when, micros=rng.random() < 0.7)])

    def at(i: int, hours: int = 0) -> str:
        return _ts(datetime.fromisoformat(sessions[i][4]) + timedelta(hours=hours))

    n, t0 = SESSIONS, _ts(T0)
    sessions += [
        ["10", "5", "3", "0", at(9, 1)],  # duplicate, later: it wins
        ["11", "6", "4", "1", at(10, -1)],  # duplicate, earlier: it loses
        ["12", "7", "5", "1", at(11)], ["12", "8", "6", "0", at(11)],  # tied timestamps: the first wins
        [str(n + 1), "9999", "3", "1", t0],  # unknown_user
        [str(n + 2), "3", "w777", "1", t0],  # unknown_workout
        [str(n + 3), "", "3", "1", t0],  # null_key
        [str(n + 4), "3", "x3", "1", t0],  # bad_id
        [str(n + 5), "3", "3", "2", t0],  # bad_completed
        [str(n + 6), "3", "3", "1", "not-a-date"], [str(n + 7), "3", "3", "1", ""],  # bad_timestamp
        [str(n + 8), "17", "w2", "1", _ts(T0 + timedelta(days=3))],  # the kept row of user 17
        [str(n + 9), "401", "2", "1", t0],  # a rejected user: unknown_user
        [str(n + 10), "9998", "w778", "1", t0],  # unknown user and workout: unknown_user first
        ["", "", "", "", ""],  # null_key
        [str(n + 11), "3", "62", " 1", t0],
        [str(n + 12), "3", "62", "1", "2025-05-01T10:00:00+02:00"],
        [str(n + 13), "3", "62", "1", "2025-05-02"],
        [str(n + 14), "3", "62", "1", "2025-05-04T10:00:00Z"],
        [str(n + 15), "408", "W62", "1", t0],
        [str(n + 16), "409", "w70", "1", t0],
        [str(n + 17), "3", "72", "1", t0],  # a rejected workout: unknown_workout
        [str(n + 18), "3", "62", "1.0", t0],  # bad_completed
    ]
    rng.shuffle(sessions)
    return sessions


def _feedback(rng: random.Random, sessions: list[list[str]], played: list[int]) -> list[list[str]]:
    feedback = []
    for session_id, user_id, workout, _, when in sessions:
        if rng.random() < 0.45 and session_id and user_id and when and when[:4].isdigit() and "+" not in when:
            likes = 0.15 if workout.lstrip("wW").isdigit() and int(workout.lstrip("wW")) % 7 == 5 else 0.5
            given = datetime.fromisoformat(when.rstrip("Z")) + timedelta(minutes=rng.randint(1, 300))
            feedback.append([str(len(feedback) + 1), session_id, user_id, workout, str(int(rng.random() < likes)),
                             _ts(given, zulu=True)])
    last_session = max(datetime.fromisoformat(s[4].rstrip("Z")) for s in sessions if s[4][:4].isdigit() and
                       "+" not in s[4])
    n, t0 = len(feedback), _ts(T0, zulu=True)
    # after the latest session: counted with the default as_of, cut by an explicit one
    feedback += [[str(n + 1 + i), "1", str(rng.randint(1, USERS)), str(played[i % 10]), "0",
                  _ts(last_session + timedelta(hours=1 + i), zulu=True)] for i in range(30)]
    n += 30
    return feedback + [
        ["5", "1", "2", "3", "1", _ts(datetime.fromisoformat(feedback[4][5].rstrip("Z")) + timedelta(days=1),
                                       zulu=True)],  # duplicate, later: it wins
        [str(n + 1), "1", "9999", "3", "1", t0],  # unknown_user
        [str(n + 2), "1", "3", "w999", "1", t0],  # unknown_workout
        [str(n + 3), "1", "3", "3", "yes", t0],  # bad_liked
        [str(n + 4), "", "3", "3", "1", t0],  # null_key
        [str(n + 5), "1", "3", "3", "1", "2025-13-45T00:00:00Z"],  # bad_timestamp
        [str(n + 6), "1", "3", "62", "1", "2025-05-01T10:00:00"],  # no zone: UTC
        [str(n + 7), "1", "3", "62", "1", t0, "extra"],  # malformed_line
        [str(n + 8), "w1", "3", "62", "1", t0],  # bad_id
    ]


def write_dirty(directory: Path, seed: int = 7) -> Path:
    """The dataset above under `directory` (users.csv, sessions.csv, feedback.csv, augmented_workouts.json)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    catalog = _catalog(rng)
    n_workouts = sum(n for _, n in TYPES.values())
    unplayed = set(range(21, 27)) | {45, 46, 47, 48} | set(range(63, 70))
    played = [w for w in range(1, n_workouts + 1) if w not in unplayed]
    (directory / "augmented_workouts.json").write_text(json.dumps(catalog, indent=0))
    sessions = _sessions(rng, played)
    _write_tables(directory, _users(rng), sessions, _feedback(rng, sessions, played))
    return directory


HEADERS = {
    "users": ["user_id", "age_group", "fitness_level", "preferred_types"],
    "sessions": ["session_id", "user_id", "workout_id", "completed", "timestamp"],
    "feedback": ["feedback_id", "session_id", "user_id", "workout_id", "liked", "feedback_time"],
}


def _write_tables(directory: Path, users: list[list[str]], sessions: list[list[str]],
                  feedback: list[list[str]]) -> None:
    """users.csv, sessions.csv and feedback.csv, with their headers."""
    for name, rows in (("users", users), ("sessions", sessions), ("feedback", feedback)):
        with open(directory / f"{name}.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADERS[name])
            writer.writerows(rows)


MANY_TYPES = 70  # past the 63 bits of a type mask: users' types travel as arrays of type indices


def write_many_types(directory: Path, seed: int = 3) -> Path:
    """A clean dataset with `MANY_TYPES` workout types of four workouts each (fewer than k), one type
    in three written in upper case in the catalog, and users preferring one to five of them (every
    fiftieth also an unknown type)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    types = [f"type{i:02d}" for i in range(MANY_TYPES)]
    n_workouts = 4 * MANY_TYPES
    catalog = [{"workout_id": f"w{w}", "title": f"Workout {w}", "instructor": f"Coach {w % 9}",
                "instructor_id": w % 9, "workout_type": types[w % MANY_TYPES].upper() if w % 3 == 0
                else types[w % MANY_TYPES], "fitness_level": "Beginner", "duration": 30,
                "tags": [f"tag{rng.randrange(30)}" for _ in range(rng.randrange(4))]}
               for w in range(1, n_workouts + 1)]
    (directory / "augmented_workouts.json").write_text(json.dumps(catalog))
    users = [[str(u), rng.choice(["18-25", "26-35", "36-45"]), rng.choice(["beginner", "Advanced", " intermediate "]),
              ",".join(rng.sample(types, rng.randrange(1, 6)) + (["unknowntype"] if u % 50 == 0 else []))]
             for u in range(1, 601)]
    sessions, feedback = [], []
    for s in range(1, 6001):
        u, w = rng.randrange(1, 601), rng.randrange(1, n_workouts + 1)
        day = T0 + timedelta(days=rng.randrange(28), hours=rng.randrange(24))
        sessions.append([str(s), str(u), str(w), str(rng.randrange(2)), _ts(day, micros=False)])
        if rng.random() < 0.4:
            feedback.append([str(len(feedback) + 1), str(s), str(u), str(w), str(rng.randrange(2)),
                             _ts(day + timedelta(hours=1), micros=False, zulu=True)])
    _write_tables(directory, users, sessions, feedback)
    return directory
