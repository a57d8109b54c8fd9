"""Writing a cross-check: one parquet row per point, a JSON summary and a short text summary.

Folder layout:
  points.parquet   one row per point, both sides (schema ``POINT_SCHEMA``; ``reference_*`` columns are
                   null when the reference did not run)
  summary.json     accuracies after each attack, times, the paired test, published checks, the verdict
  summary.txt      the text ``summary_text`` prints
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from alignjax.attacks.norms import perturbation_norms
from alignjax.attacks.report import environment
from alignjax.crosscheck.compare import CrosscheckResult

POINT_SCHEMA = pl.Schema({
    "index": pl.Int64,
    "label": pl.Int32,
    "alignjax_clean_correct": pl.Boolean,
    "alignjax_robust": pl.Boolean,
    "alignjax_broken_by": pl.String,
    "alignjax_adv_prediction": pl.Int32,
    "alignjax_perturbation_norm": pl.Float32,
    "reference_clean_correct": pl.Boolean,
    "reference_robust": pl.Boolean,
    "reference_broken_by": pl.String,
    "reference_adv_prediction": pl.Int32,
    "reference_perturbation_norm": pl.Float32,
    "clean_logit_difference": pl.Float64,
    "agree": pl.Boolean,
})
RESULT_FILES = ("points.parquet", "summary.json", "summary.txt")


def outcome(clean_correct: bool, robust: bool, broken_by: str) -> str:
    """'robust', 'clean error' or 'broken by <attack>'."""
    if not clean_correct:
        return "clean error"
    return "robust" if robust else f"broken by {broken_by}"


def points_frame(result: CrosscheckResult) -> pl.DataFrame:
    ours, theirs, n = result.alignjax, result.reference, result.n
    missing = [None] * n
    data: dict[str, Any] = {
        "index": np.arange(n, dtype=np.int64),
        "label": np.asarray(result.y, np.int32),
        "alignjax_clean_correct": ours.clean_correct,
        "alignjax_robust": ours.robust,
        "alignjax_broken_by": ours.broken_by.astype(str),
        "alignjax_adv_prediction": np.asarray(ours.y_adv, np.int32),
        "alignjax_perturbation_norm": perturbation_norms(ours.x_adv, result.x, ours.norm),
    }
    if theirs is None:
        data.update({name: missing for name in POINT_SCHEMA.names() if name not in data})
    else:
        data.update({
            "reference_clean_correct": theirs.clean_correct,
            "reference_robust": theirs.robust,
            "reference_broken_by": theirs.broken_by.astype(str),
            "reference_adv_prediction": theirs.y_adv,
            "reference_perturbation_norm": perturbation_norms(theirs.x_adv, result.x, ours.norm),
            "clean_logit_difference": np.abs(result.alignjax_clean_logits - theirs.clean_logits).max(1)
            .astype(np.float64),
            "agree": ours.robust == theirs.robust,
        })
    return pl.DataFrame(data, schema=POINT_SCHEMA)


def summary_dict(result: CrosscheckResult, description: dict[str, Any]) -> dict[str, Any]:
    ours, theirs = result.alignjax, result.reference
    out: dict[str, Any] = {
        **description,
        "n": result.n,
        "norm": ours.norm,
        "eps": ours.eps,
        "reference_eps": result.reference_eps,
        "version": result.version,
        "attacks": [repr(cfg) for cfg in result.attacks],
        "budgets": result.budgets.describe(),
        "reduced": result.budgets.reduced,
        "seed": result.seed,
        "rule": {"tolerance_pp": result.tolerance.tolerance, "alpha": result.tolerance.alpha,
                 "clean_tolerance_pct": result.tolerance.clean_tolerance},
        "alignjax": {"clean_accuracy": ours.clean_accuracy, "robust_accuracy": ours.robust_accuracy,
                     "robust_accuracy_after": ours.robust_accuracy_after(),
                     "attack_seconds": {a.name: round(a.seconds, 3) for a in ours.attacks},
                     "seconds": round(ours.seconds, 3), "warnings": ours.warnings},
        "reference": None,
        "paired": None,
        "published": [{"what": c.what, "published": c.published, "measured": c.measured.estimate,
                       "clopper_pearson": [c.measured.low, c.measured.high],
                       "wilson": [c.wilson.low, c.wilson.high], "confidence": c.measured.confidence,
                       "agrees": c.agrees} for c in result.published],
        "agrees": result.verdict.agrees,
        "reasons": list(result.verdict.reasons),
        "environment": environment(),
    }
    if theirs is not None:
        spec = result.reference_spec
        out["reference"] = {
            "kind": spec.kind, "model": spec.description, "versions": theirs.versions,
            "clean_accuracy": float(theirs.clean_correct.mean() * 100),
            "robust_accuracy": float(theirs.robust.mean() * 100),
            "robust_accuracy_after": theirs.robust_accuracy_after,
            "attack_seconds": {k: round(v, 3) for k, v in theirs.attack_seconds.items()},
            "seconds": round(theirs.seconds, 3), "warnings": theirs.warnings,
            "clean_prediction_mismatches": result.clean_mismatches,
            "max_clean_logit_difference": float(np.abs(result.alignjax_clean_logits - theirs.clean_logits).max()),
        }
        p = result.paired
        out["paired"] = {"test": "McNemar exact (two-sided binomial on discordant points)",
                         "only_alignjax_broke": p.only_alignjax_broke,
                         "only_reference_broke": p.only_reference_broke,
                         "difference_pp": p.difference_pp, "p_value": p.p_value,
                         "agreeing_points": result.n - p.discordant}
    return out


def summary_text(result: CrosscheckResult, summary: dict[str, Any], *, max_listed: int = 20) -> str:
    ours, theirs = result.alignjax, result.reference
    eps_line = f"{ours.norm} eps {ours.eps:g}"
    if result.reference_eps is not None and result.reference_eps != ours.eps:
        eps_line += f" (reference eps {result.reference_eps:g})"
    lines = [f"model: {summary['model']}", f"data: {summary['data']}, n={result.n}",
             (f"AutoAttack {result.version}: {', '.join(c.name for c in result.attacks)} | {eps_line} | "
              f"seed {result.seed}")]
    if result.budgets.reduced:
        lines.append(f"budgets: {result.budgets.describe()} (REDUCED: weaker than AutoAttack, both sides)")
    width = 24
    if theirs is not None:
        ref = summary["reference"]
        lines.append(f"reference: pyautoattack {ref['versions']['pyautoattack']} (torch "
                     f"{ref['versions']['torch']}), {result.reference_spec.kind} model: {ref['model']}")
        lines.append(f"{'':{width}}{'alignjax':>12}{'reference':>12}")
    after_ref = theirs.robust_accuracy_after if theirs is not None else {}
    for name, value in ours.robust_accuracy_after().items():
        label = "clean accuracy" if name == "clean" else f"after {name}"
        row = f"{label:{width}}{value:>11.2f}%"
        if theirs is not None:
            row += f"{after_ref.get(name, float('nan')):>11.2f}%"
        lines.append(row)
    seconds = f"{'seconds (total)':{width}}{ours.seconds:>12.1f}"
    lines.append(seconds + (f"{theirs.seconds:>12.1f}" if theirs is not None else ""))
    for summary_attack in ours.attacks:
        row = f"{'  ' + summary_attack.name:{width}}{summary_attack.seconds:>12.1f}"
        if theirs is not None:
            row += f"{theirs.attack_seconds.get(summary_attack.name, 0.0):>12.1f}"
        lines.append(row)
    lines.append("(alignjax times include XLA compilation)")
    if theirs is not None:
        p = result.paired
        lines.append(f"clean predictions differ on {result.clean_mismatches} of {result.n} points; max |logit "
                     f"difference| {summary['reference']['max_clean_logit_difference']:.3g}")
        lines.append(f"per point: {result.n - p.discordant} of {result.n} agree; broken only by alignjax: "
                     f"{p.only_alignjax_broke}, only by the reference: {p.only_reference_broke}; robust accuracy "
                     f"difference {p.difference_pp:+.2f} pp, McNemar exact p = {p.p_value:.3g}")
        disagreements = np.flatnonzero(ours.robust != theirs.robust)
        if len(disagreements):
            lines.append("points that disagree (index, label: alignjax | reference):")
            for i in disagreements[:max_listed]:
                lines.append(f"  {i:6d} {int(result.y[i]):4d}: "
                             f"{outcome(ours.clean_correct[i], ours.robust[i], ours.broken_by[i])} | "
                             f"{outcome(theirs.clean_correct[i], theirs.robust[i], theirs.broken_by[i])}")
            if len(disagreements) > max_listed:
                lines.append(f"  ... {len(disagreements) - max_listed} more in points.parquet")
    if result.published:
        lines.append(f"published figures vs these {result.n} points (the interval assumes they are a random sample "
                     "of the published evaluation's test set):")
        if result.budgets.reduced or result.version != "standard":
            lines.append("  note: published AutoAttack figures are for the full standard version; this run is "
                         f"{'reduced' if result.budgets.reduced else result.version}, so its robust accuracy is "
                         "not the same quantity (reduced budgets can only overestimate it)")
    for check in result.published:
        lines.append(f"published {check.what} accuracy ({summary.get('published_source', 'given')}): "
                     f"{check.published:.2f}% vs {check.measured.estimate:.2f}% measured; "
                     f"{check.measured.confidence:.0%} Clopper-Pearson {check.measured}, Wilson {check.wilson}: "
                     f"{'consistent' if check.agrees else 'INCONSISTENT'}")
    if result.verdict.agrees:
        lines.append(f"verdict: AGREE (tolerance {result.tolerance.tolerance:g} pp, alpha "
                     f"{result.tolerance.alpha:g}, clean tolerance {result.tolerance.clean_tolerance:g}%)")
    else:
        lines.append("verdict: DISAGREE")
        lines.extend(f"  - {reason}" for reason in result.verdict.reasons)
    return "\n".join(lines)


def write_report(out: Path, result: CrosscheckResult, description: dict[str, Any]) -> str:
    """Writes points.parquet, summary.txt and summary.json (last, each atomically); returns the text."""
    frame = points_frame(result)
    summary = summary_dict(result, description)
    text = summary_text(result, summary)
    _atomic(out / "points.parquet", lambda p: frame.write_parquet(p))
    _atomic(out / "summary.txt", lambda p: Path(p).write_text(text + "\n"))
    _atomic(out / "summary.json", lambda p: Path(p).write_text(json.dumps(summary, indent=2) + "\n"))
    return text


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)
