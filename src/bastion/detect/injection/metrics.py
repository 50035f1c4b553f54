"""Binary detection metrics from scores: at a threshold, at a target FPR, and ROC points.

Used by ``bastion eval injection`` and by ``bench/injection/train.py`` so that the CLI
and the committed cross-validation results count the same way. A document is predicted
positive when its score is at or above the threshold. Pure Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ROC_FPRS = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def at_threshold(
    scores: Sequence[float], labels: Sequence[bool], threshold: float
) -> dict[str, Any]:
    """Counts and rates of the predictions ``score >= threshold``."""
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if y and s >= threshold)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if not y and s >= threshold)
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    fn, tn = positives - tp, negatives - fp
    tpr, fpr = _ratio(tp, positives), _ratio(fp, negatives)
    precision = _ratio(tp, tp + fp)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    balanced = None if tpr is None or fpr is None else (tpr + 1.0 - fpr) / 2
    return {
        "threshold": threshold,
        "positives": positives,
        "negatives": negatives,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "tpr": _round(tpr),
        "fpr": _round(fpr),
        "precision": _round(precision),
        "f1": _round(f1),
        "balanced_accuracy": _round(balanced),
    }


def roc_points(
    scores: Sequence[float], labels: Sequence[bool], fprs: Sequence[float] = ROC_FPRS
) -> list[dict[str, float | None]]:
    """For each FPR budget: the best TPR reachable within it and the threshold doing it."""
    negatives = sorted((s for s, y in zip(scores, labels, strict=True) if not y), reverse=True)
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    out: list[dict[str, float | None]] = []
    for budget in fprs:
        allowed = int(budget * len(negatives) + 1e-9)  # false positives within the budget
        # everything scoring above the (allowed+1)-th highest negative is predicted positive
        bar = negatives[allowed] if allowed < len(negatives) else float("-inf")
        tp = sum(1 for s in positives if s > bar)
        fp = sum(1 for s in negatives if s > bar)
        out.append(
            {
                "max_fpr": budget,
                "threshold": None if bar == float("-inf") else _round(bar),
                "tpr": _round(_ratio(tp, len(positives))),
                "fpr": _round(_ratio(fp, len(negatives))),
            }
        )
    return out


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (ties count half)."""
    ranked = sorted(zip(scores, labels, strict=True))
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    rank_sum = 0.0
    at = 0
    while at < len(ranked):
        stop = at
        while stop < len(ranked) and ranked[stop][0] == ranked[at][0]:
            stop += 1
        mean_rank = (at + 1 + stop) / 2
        rank_sum += mean_rank * sum(1 for _, y in ranked[at:stop] if y)
        at = stop
    return _round((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def summary(
    scores: Sequence[float], labels: Sequence[bool], threshold: float, target_fpr: float
) -> dict[str, Any]:
    """Everything at ``threshold``, the TPR reachable at ``target_fpr``, ROC points, AUC."""
    out = at_threshold(scores, labels, threshold)
    at_target = roc_points(scores, labels, (target_fpr,))[0]
    out["tpr_at_target_fpr"] = at_target["tpr"]
    out["threshold_at_target_fpr"] = at_target["threshold"]
    out["auc"] = auc(scores, labels)
    out["roc"] = roc_points(scores, labels)
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
