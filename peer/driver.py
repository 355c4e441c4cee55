"""`python -m peer`: the steps of the SPEC in order (see the package docstring)."""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import uuid

import peer
from peer.common import Timer, iso, write_json
from peer.config import explicit_as_of, load_config
from peer.counts import accepted_events, count_segments, global_counts
from peer.flags import instructor_flags
from peer.mmr import segment_recommendations, tfidf_cosines
from peer.outputs import report_results, swap_in, write_flags, write_profiles, write_segments
from peer.profile_recs import profile_recommendations
from peer.profiles import define_profiles, engagement
from peer.rejects import count_rejects, fail_run, write_rejects
from peer.scoring import score_segments
from peer.sources import open_inputs
from peer.universe import build_catalog, build_users
from peer.validate import load_events, validate_catalog, validate_users


def run(args, cfg) -> int:
    timer = Timer()
    report: dict = {"implementation": "peer (pandas/numpy/pyarrow)", "input": args.input, "rows": {}, "config": cfg}
    inputs = open_inputs(args.input)
    as_of_explicit = explicit_as_of(cfg)
    timer.step("open_inputs")

    cat_reason, cat_rows = validate_catalog(inputs.catalog_records)
    catalog = build_catalog(cat_rows, cat_reason)
    timer.step("catalog")
    cols = validate_users(inputs.users)
    users = build_users(cols, catalog)
    reason_of = {"catalog": cat_reason, "users": cols.reason}
    del cols
    timer.step("users")
    s_flag = "completed" if "completed" in inputs.sessions.columns else "completed_at"
    sess = load_events(inputs.sessions, "session_id", s_flag, "timestamp", [], users.umap, catalog.wmap)
    reason_of["sessions"] = sess["reason"]
    timer.step("sessions_validate")
    fb = load_events(inputs.feedback, "feedback_id", "liked", "feedback_time", ["session_id"], users.umap,
                     catalog.wmap)
    reason_of["feedback"] = fb["reason"]
    timer.step("feedback_validate")

    max_fraction = float(cfg["quality"]["max_reject_fraction"])
    failed = count_rejects(report, reason_of, inputs, max_fraction)
    timer.step("count_rejects")

    tmp_out = f"{args.output.rstrip('/')}.tmp-{uuid.uuid4().hex[:8]}"
    os.makedirs(tmp_out)
    try:
        if args.rejects:
            write_rejects(tmp_out, reason_of, inputs)
            timer.step("write_rejects")
        if failed:
            report["timings"] = timer.steps
            return fail_run(tmp_out, args.output, report, failed, cfg["quality"]["max_reject_fraction"])
        summary = recommend(tmp_out, sess, fb, as_of_explicit, catalog, users, cfg, report, timer)
        report["timings"] = dict(timer.steps)
        report["timings"]["total"] = round(timer.total(), 4)
        write_json(os.path.join(tmp_out, "run_report.json"), report)
        swap_in(tmp_out, args.output)
        timer.step("swap_outputs")
    finally:
        if os.path.exists(tmp_out):
            shutil.rmtree(tmp_out, ignore_errors=True)

    print(f"[peer] {'total':<34s} {timer.total():8.3f} s", file=sys.stderr)
    print(f"[peer] peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.3f} GiB; {summary}",
          file=sys.stderr)
    return 0


def recommend(tmp_out: str, sess: dict, fb: dict, as_of_explicit, catalog, users, cfg: dict, report: dict,
              timer: Timer) -> str:
    """§3-7 and §10 on the accepted rows: the outputs written into tmp_out, the report filled in"""
    as_of, ev = accepted_events(sess, fb, as_of_explicit, report)
    timer.step("as_of")
    g = global_counts(ev, catalog.W)
    ev.sts = None
    timer.step("global_counts")
    if cfg["profile"]["enabled"]:
        ps = define_profiles(users, catalog)
        B = engagement(ev, ps, catalog, cfg)
        timer.step("profile_engagement")
    u_member = users.member[users.u_pt]  # (accepted users, T): does the user prefer type t
    v, c, n, s = count_segments(ev, u_member, users.u_al, catalog.w_type, users.AL, catalog.W)
    del u_member
    timer.step("segment_counts")
    sc = score_segments(v, c, n, s, g, catalog, cfg, as_of)
    timer.step("score")
    import sklearn.feature_extraction.text  # noqa: F401  (timed apart: the import is most of the step)

    timer.step("import sklearn")
    cos = tfidf_cosines(catalog)
    timer.step("tfidf")
    recs = segment_recommendations(sc.score, catalog, users, cos, cfg)
    timer.step("mmr")
    profiles = None
    if cfg["profile"]["enabled"]:
        profiles = (ps, profile_recommendations(B, ps, catalog, users, sc.days_old, cos, cfg))
        del B
        timer.step("profile_recommendations")
    as_of_str = iso(as_of) if as_of is not None else ""
    flag_rows = instructor_flags(catalog, g, cfg, as_of_str)
    timer.step("flags")
    write_segments(tmp_out, recs, sc, catalog, users)
    write_flags(tmp_out, flag_rows)
    if profiles is not None:
        write_profiles(tmp_out, *profiles, catalog, users, sc.days_old)
    timer.step("write_outputs")
    report_results(report, as_of_str, as_of_explicit, catalog, users, recs, len(flag_rows), profiles)
    done = f"{len(recs.key)} recommendations in {users.AL * catalog.T} segments, "
    if profiles is not None:
        done += f"{len(profiles[1].tgt)} in {len(ps.keys)} profiles, "
    return done + f"{len(flag_rows)} instructor flags; as_of {as_of_str}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peer", description=peer.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--config", help="a TOML file in the layout of conf/coldstart.toml (unknown keys ignored)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--no-rejects", dest="rejects", action="store_false", help="do not write rejects/")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.set)
    return run(args, cfg)
