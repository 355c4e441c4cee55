"""Ideas beyond SPEC §10, measured on the evaluation's validation cut before any of them is built.

    .venv/bin/python experiments/profile_ideas.py data/sample [--degree-power 0.5] [--joint]

For the §10 defaults and the tuned profile settings of docs/evaluation.md, each idea changes
only the score a list is ranked by; the pool and the MMR are SPEC §5's (`profile_model`'s
functions). nDCG@5 as `jobs/evaluate.py` computes it (the no-idea rows reproduce its
validation numbers: 0.2516 and 0.3111 on the sample). Ideas, with strength b:
- `blend`:   (1 - b) * r / max r + b * the segment raw score (SPEC §3) of w in the profile's
             segment of w's type (0 for a workout of another type)
- `quality`: r / max r * p_completion(w)^b, p_completion smoothed by Beta(2, 2) over all users
- `debias`:  r / (1 + completions(w))^b, normalised by its max (less weight on popular workouts)
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools

import numpy as np
from pyspark.sql import SparkSession

from coldstart import pipeline
from coldstart.config import Config
from coldstart.evaluation.profile_lists import engagement_key, profile_cut
from coldstart.evaluation.run import cut_candidates
from coldstart.evaluation.split import EvalData, cutoffs, first_sessions, make_cut
from coldstart.profile_model import Similar, candidates_of, jaccard_power, rank_target
from coldstart.profiles import profile_key, target_of, weights_of
from coldstart.progress import Stages
from coldstart.sources import read_inputs
from coldstart.tags import tag_vectors

TUNED = {"profile.age_weight": 0.3, "profile.level_weight": 100.0, "profile.jaccard_power": 1.0,
         "profile.recency_half_life_days": 60.0, "freshness.lambda": 0.03, "mmr.lambda": 1.0}
IDEAS = {"blend": (0.1, 0.2, 0.3, 0.5, 0.7, 1.0), "quality": (0.5, 1.0, 2.0, 4.0), "debias": (0.1, 0.25, 0.5)}


def ndcg(items: list[int], relevant: set[int], k: int = 5) -> float:
    dcg = sum(1 / np.log2(i + 2) for i, w in enumerate(items[:k]) if w in relevant)
    return dcg / sum(1 / np.log2(i + 2) for i in range(min(len(relevant), k)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--degree-power", type=float, default=0.5)
    parser.add_argument("--joint", action="store_true",
                        help="the blend in a grid with the age and level weights, the other tuned settings kept")
    args = parser.parse_args()
    spark = (SparkSession.builder.master("local[2]").config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.session.timeZone", "UTC").config("spark.driver.memory", "4g")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    base = Config().with_overrides({"profile.degree_power": args.degree_power})
    data = EvalData.of(pipeline.validate_inputs(read_inputs(spark, args.input), base, Stages()))
    firsts = first_sessions(data.sessions).cache()
    t0, t = cutoffs(firsts, base.eval)
    cut = make_cut("validation", data, firsts, t0, t, base.eval.horizon_days, Stages())
    catalog_local = data.catalog.select("workout_id", "workout_type", "tags").toPandas()
    codes = data.inputs.codes
    configs = {"defaults": base, "tuned": base.with_overrides(TUNED)}
    if args.joint:
        configs = {f"age {a:g} level {lv:g}": base.with_overrides(
            {**TUNED, "profile.age_weight": a, "profile.level_weight": lv})
            for a, lv in itertools.product((0.0, 0.3, 1.0, 3.0), (3.0, 10.0, 30.0, 100.0))}
    pcut = profile_cut(data, cut, list(configs.values()), catalog_local, tag_vectors(catalog_local), base, Stages())
    cat = pcut.catalog

    # the segment raw score (SPEC §3: freshness 0) per (age-level code, catalog position)
    seg = pipeline.score(cut_candidates(data, catalog_local, cut), cut.start,
                         base.with_overrides({"freshness.lambda": 0.0})).select("segment_key", "workout_id", "score")
    segment_raw = np.zeros((len(codes.age_groups) * len(codes.levels), len(cat.workout_ids)))
    for key, workout_id, score in seg.toPandas().itertuples(index=False):
        age, level, _ = key.split("|")
        segment_raw[codes.al_code_of(age, level), np.searchsorted(cat.workout_ids, workout_id)] = score
    plays = cut.plays.toPandas()
    at = np.searchsorted(cat.workout_ids, plays["workout_id"].to_numpy())
    completions = np.zeros(len(cat.workout_ids))
    completions[at] = plays["completions"].to_numpy()
    p_completion = np.full(len(cat.workout_ids), 0.5)  # never played: (0 + 2) / (0 + 4)
    p_completion[at] = (completions[at] + 2.0) / (plays["plays"].to_numpy() + 4.0)

    users = cut.users.join(cut.relevant, on="user_id").select(
        "age_group", "fitness_level", "preferred_types", "relevant").toPandas()
    users = users[users["relevant"].map(len) > 0]

    def ranked(cfg: Config, idea: str, b: float) -> dict[str, list[int]]:
        weights = dataclasses.replace(weights_of(cfg), k=cfg.eval.k)
        engagement = pcut.engagement[engagement_key(cfg)]
        freshness = np.exp(-weights.freshness_lambda * cat.days_old)
        lists = {}
        for al_code, group in itertools.groupby(pcut.targets, key=lambda t: t.al_code):
            found = list(group)
            similar = Similar.of(engagement.similar_engagement(al_code, weights))
            r_all = similar.relevance(jaccard_power([t.types for t in found], engagement.type_sets,
                                                    engagement.n_types, weights.jaccard_power))
            for row, target in enumerate(found):
                candidates = candidates_of(cat, target.types, weights)
                r = r_all[row]
                # rank_target divides by the max over the candidates: a positive factor, which
                # changes neither the pool nor the MMR's rel, so the ideas need not be normalised
                if idea == "blend":
                    top = r[candidates].max()
                    own_type = np.isin(cat.type_idx, target.types)
                    r = (1 - b) * (r / top if top > 0 else 0 * r) + b * segment_raw[al_code] * own_type
                elif idea == "quality":
                    r = r * p_completion ** b
                elif idea == "debias":
                    r = r / (1.0 + completions) ** b
                ranked = rank_target(r, candidates, cat, freshness, weights)
                lists[profile_key(codes, target)] = [int(cat.workout_ids[position]) for position, *_ in ranked]
        return lists

    print(f"{len(users)} validation users with a relevant workout; degree power {args.degree_power}")
    for name, cfg in configs.items():
        ideas = [("none", (0.0,)), ("blend", (0.2, 0.4))] if args.joint else [("none", (0.0,)), *IDEAS.items()]
        for idea, strengths in ideas:
            for b in strengths:
                lists = ranked(cfg, idea, b)
                values = []
                for u in users.itertuples():
                    target = target_of(codes, u.age_group, u.fitness_level, u.preferred_types)
                    values.append(ndcg(lists.get(profile_key(codes, target), []) if target else [], set(u.relevant)))
                print(f"{name:20s} {idea:8s} b={b:<5} validation nDCG@5 {np.mean(values):.4f}", flush=True)


if __name__ == "__main__":
    main()
