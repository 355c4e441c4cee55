"""Rows read / accepted / rejected per reason (SPEC §9), the quality gate, and rejects/."""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys

import numpy as np
import pandas as pd

from peer.common import OK, R_BAD_FLAG, REASONS, write_json
from peer.sources import Inputs, Malformed

DATASETS = ("users", "catalog", "sessions", "feedback")


def _reason_name(code: int, dataset: str) -> str:
    if code == R_BAD_FLAG:
        return "bad_liked" if dataset == "feedback" else "bad_completed"
    return REASONS[code]


def _reason_order(name: str) -> int:
    return REASONS.index("bad_flag" if name in ("bad_liked", "bad_completed") else name)


def count_rejects(report: dict, reason_of: dict[str, np.ndarray], inputs: Inputs, max_fraction: float) -> list[str]:
    """fills report["rows"]; -> the datasets whose rejected rows exceed max_fraction of the rows read"""
    extra = {"users": inputs.users.extra_malformed, "sessions": inputs.sessions.extra_malformed,
             "feedback": inputs.feedback.extra_malformed, "catalog": 0}
    failed = []
    for name in DATASETS:
        r = reason_of[name]
        counts = np.bincount(r[r != OK], minlength=len(REASONS)) if len(r) else np.zeros(len(REASONS), int)
        reasons = {_reason_name(code, name): int(cnt) for code, cnt in enumerate(counts) if cnt}
        if extra[name]:
            reasons["malformed_line"] = reasons.get("malformed_line", 0) + extra[name]
        reasons = {k: reasons[k] for k in sorted(reasons, key=_reason_order)}
        rejected = sum(reasons.values())
        read = len(r) + extra[name]
        report["rows"][name] = {"read": read, "accepted": read - rejected, "rejected": rejected,
                                "reasons": reasons}
        if read and rejected / read > max_fraction:
            failed.append(name)
    return failed


def write_rejects(directory: str, reason_of: dict[str, np.ndarray], inputs: Inputs):
    """rejects/<dataset>.csv: the rows as read (strings) with their reason; CSV lines skipped by pandas
    in <dataset>_malformed_lines.csv"""
    os.makedirs(os.path.join(directory, "rejects"), exist_ok=True)
    for name, src in (("users", inputs.users), ("sessions", inputs.sessions), ("feedback", inputs.feedback)):
        r = reason_of[name]
        idx = np.flatnonzero(r != OK)
        if len(idx):
            df = src.raw_rows(idx)
            df["reason"] = [_reason_name(c, name) for c in r[idx]]
            df.insert(0, "row", idx)
            df.to_csv(os.path.join(directory, "rejects", f"{name}.csv"), index=False)
        if getattr(src, "bad_lines", None):
            pd.DataFrame({"line": src.bad_lines, "reason": "malformed_line"}).to_csv(
                os.path.join(directory, "rejects", f"{name}_malformed_lines.csv"), index=False)
    idx = np.flatnonzero(reason_of["catalog"] != OK)
    if len(idx):
        with open(os.path.join(directory, "rejects", "catalog.csv"), "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["row", "record", "reason"])
            for i in idx:
                rec = inputs.catalog_records[i]
                rec = rec.line if isinstance(rec, Malformed) else json.dumps(rec)
                wr.writerow([i, rec, REASONS[reason_of["catalog"][i]]])


def fail_run(tmp_out: str, output: str, report: dict, failed: list[str], max_fraction) -> int:
    """too many rejects: only the report and rejects/ are replaced, the previous recommendations stay"""
    report["error"] = f"too many rejected rows in {', '.join(failed)}"
    write_json(os.path.join(tmp_out, "run_report.json"), report)
    os.makedirs(output, exist_ok=True)
    for entry in ("run_report.json", "rejects"):
        dst = os.path.join(output, entry)
        src_p = os.path.join(tmp_out, entry)
        if os.path.exists(src_p):
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            os.replace(src_p, dst)
    print(f"error: {report['error']} (more than {max_fraction} of the rows read)", file=sys.stderr)
    return 3
