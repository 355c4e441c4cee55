"""Shared test helpers: running a job's main in-process, writing tiny input directories."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def load_job(name: str) -> ModuleType:
    """`jobs/<name>.py` as a module (jobs are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"job_{name}", REPO / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inputs(directory: Path, users: str, sessions: str, feedback: str, catalog: list[dict]) -> Path:
    """A SPEC §1 input directory from inline CSV texts and catalog objects."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "users.csv").write_text(users)
    (directory / "sessions.csv").write_text(sessions)
    (directory / "feedback.csv").write_text(feedback)
    (directory / "augmented_workouts.json").write_text(json.dumps(catalog))
    return directory


def workout(workout_id: str | int, workout_type: str, tags: list[str], instructor_id: int = 1) -> dict:
    return {"workout_id": workout_id, "title": f"Workout {workout_id}", "instructor": f"Coach {instructor_id}",
            "instructor_id": instructor_id, "workout_type": workout_type, "fitness_level": "beginner",
            "duration": 30, "tags": tags}
