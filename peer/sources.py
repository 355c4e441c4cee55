"""The four datasets (SPEC §1): found, opened and checked for their required columns before any work.

A dataset is CSV (pandas, every value a string) or Parquet (pyarrow); columns come back as pyarrow
arrays. The catalog is a JSON array or JSON Lines, read into Python objects.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from peer.common import InputError, die


class Source:
    def __init__(self, name: str, path: str, kind: str):
        self.name, self.path, self.kind = name, path, kind
        self.extra_malformed = 0  # CSV lines with too many fields (skipped by pandas, counted)
        if kind == "parquet":
            self.ds = pads.dataset(path, format="parquet")
            self.columns = list(self.ds.schema.names)
            self.nrows = self.ds.count_rows()
        else:
            # pandas' C parser, every value a string as written: a line with MORE fields than the header
            # is skipped with a warning, which is collected here and counted as a malformed_line
            # (the pyarrow engine would catch too-few-field lines as well, but it infers types and
            # only then casts to str: '1.0' in one row turns every 1 of the column into '1.0')
            self.bad_lines: list[str] = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    self.df = pd.read_csv(path, dtype=str, keep_default_na=False, on_bad_lines="warn")
                except UnicodeDecodeError as e:
                    raise InputError(f"error: {path}: cannot be read: {e}") from e
            for w in caught:
                self.bad_lines += [ln for ln in str(w.message).splitlines() if ln.startswith("Skipping line")]
            self.extra_malformed = len(self.bad_lines)
            self.columns = [str(c) for c in self.df.columns]
            self.nrows = len(self.df)

    def require(self, cols: list[str]):
        for c in cols:
            if c not in self.columns:
                raise InputError(f"error: {self.path}: missing required column {c!r}")

    def column(self, name: str, dictionary: bool = False) -> pa.Array:
        if self.kind == "parquet":
            field = self.ds.schema.field(name)
            if dictionary and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
                # dictionary-encoded read of a string column (cheap for low-cardinality columns)
                tbl = pq.read_table(self.path, columns=[name], read_dictionary=[name])
            else:
                tbl = self.ds.to_table(columns=[name])
            col = tbl.column(0)
            if col.num_chunks == 1:
                return col.chunk(0)
            if pa.types.is_dictionary(col.type):
                col = col.unify_dictionaries()
            return col.combine_chunks()
        return pa.array(self.df[name].to_numpy(dtype=object), type=pa.string())

    def raw_rows(self, idx: np.ndarray) -> pd.DataFrame:
        if self.kind == "parquet":
            return self.ds.to_table().take(pa.array(idx)).to_pandas().astype(str)
        return self.df.iloc[idx].copy()


def find_source(inp: str, name: str) -> Source:
    pq_path = os.path.join(inp, f"{name}.parquet")
    csv_path = os.path.join(inp, f"{name}.csv")
    if os.path.exists(pq_path):
        return Source(name, pq_path, "parquet")
    if os.path.exists(csv_path):
        return Source(name, csv_path, "csv")
    raise InputError(f"error: missing dataset {name}: neither {csv_path} nor {pq_path} exists")


class Malformed:
    """a JSON Lines line of the catalog that is not valid JSON"""

    def __init__(self, line):
        self.line = line


def read_catalog(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    records: list = []
    stripped = text.lstrip()
    parsed_array = False
    if stripped.startswith("["):
        try:
            data = json.loads(text)
            if isinstance(data, list):
                records = data
                parsed_array = True
        except json.JSONDecodeError:
            parsed_array = False
    if not parsed_array:
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                records.append(Malformed(line))
    return records


@dataclass
class Inputs:
    users: Source
    sessions: Source
    feedback: Source
    catalog_path: str
    catalog_records: list


def open_inputs(inp: str) -> Inputs:
    """every dataset and required column checked before any work (SPEC §9: exit status 2 otherwise)"""
    cat_path = os.path.join(inp, "augmented_workouts.json")
    try:
        users = find_source(inp, "users")
        users.require(["user_id", "age_group", "fitness_level", "preferred_types"])
        sessions = find_source(inp, "sessions")
        sessions.require(["session_id", "user_id", "workout_id", "timestamp"])
        if "completed" not in sessions.columns and "completed_at" not in sessions.columns:
            raise InputError(f"error: {sessions.path}: missing required column 'completed' (or 'completed_at')")
        feedback = find_source(inp, "feedback")
        feedback.require(["feedback_id", "session_id", "user_id", "workout_id", "liked", "feedback_time"])
        if not os.path.exists(cat_path):
            raise InputError(f"error: missing dataset catalog: {cat_path} does not exist")
        records = read_catalog(cat_path)
    except pd.errors.ParserError as e:
        die(2, f"error: cannot parse a CSV input: {str(e).strip()}")
    except InputError as e:
        die(2, str(e))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        die(2, f"error: {cat_path}: cannot be read: {e}")
    return Inputs(users, sessions, feedback, cat_path, records)
