"""SPEC §5 step 2: TF-IDF tag vectors, fitted once on the whole catalog, on the driver.

Each workout is one document whose terms are its normalised tags (one tag, one term);
scikit-learn's `TfidfVectorizer` defaults otherwise (raw counts, smooth idf, l2 norm).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from coldstart.mmr import TagVectors


def _terms(tags: Sequence[str]) -> Sequence[str]:
    return tags


def fit_tag_vectors(workout_ids: Sequence[int], tags: Sequence[Sequence[str] | None]) -> TagVectors:
    """One L2-normalised TF-IDF row per workout; a workout with no tags gets the zero vector
    (similarity 0 to everything), and so does every workout of a catalog without any tag."""
    ids = np.asarray(workout_ids, dtype=np.int64)
    docs = [list(t) if t is not None else [] for t in tags]
    if not any(docs):  # scikit-learn refuses an empty vocabulary
        return TagVectors(ids, sparse.csr_matrix((len(docs), 0), dtype=np.float64))
    return TagVectors(ids, TfidfVectorizer(analyzer=_terms).fit_transform(docs).tocsr())


def tag_vectors(catalog: pd.DataFrame) -> TagVectors:
    """TF-IDF of a catalog's `tags`, its documents in `workout_id` order.

    The order is part of the result: scikit-learn stores each row's entries in the order the
    corpus first used its terms, and sums the row's norm in that order. Accepted workout ids
    are unique, so the order is total.
    """
    ordered = catalog.sort_values("workout_id", kind="mergesort")
    return fit_tag_vectors(ordered["workout_id"].tolist(), ordered["tags"].tolist())
