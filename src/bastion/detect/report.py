"""Findings as Bastion reports them: a scanner hit becomes a ``Finding`` (value replaced
by its keyed fingerprint), and findings print in the scan format of CONTRACT.md §8,
shared by ``bastion scan``, ``POST /v1/bastion/scan`` and the inspect stage."""

from __future__ import annotations

from typing import Any

from bastion.crypto.keyring import Keyring
from bastion.detect.patterns import Hit
from bastion.detect.scanner import ScanResult
from bastion.model import Finding

_FLAGS = frozenset({"known_dummy", "split"})  # meta values that are booleans on the wire


def to_finding(
    hit: Hit, keyring: Keyring, segment: int = 0, span: tuple[int, int] | None = None,
    **extra: str,
) -> Finding:  # fmt: skip
    """The finding of ``hit`` (at ``span`` of ``segment``; default: the hit's own span)."""
    start, end = span if span is not None else (hit.start, hit.end)
    meta = {**hit.meta, **extra} if extra else dict(hit.meta)
    fingerprint = keyring.fingerprint(hit.data_class, hit.value) if hit.value else ""
    return Finding(hit.data_class, segment, start, end, hit.score, hit.detector, meta, fingerprint)


def finding_json(finding: Finding) -> dict[str, Any]:
    """One finding as the scan format prints it; never its value."""
    entry: dict[str, Any] = {"class": finding.data_class, "start": finding.start}
    entry["end"] = finding.end
    entry["score"] = round(finding.score, 4)
    if finding.detector:
        entry["detector"] = finding.detector
    if finding.fingerprint:
        entry["fingerprint"] = finding.fingerprint
    if finding.meta:
        entry["meta"] = {k: (v == "true") if k in _FLAGS else v for k, v in finding.meta.items()}
    return entry


def scan_report(
    result: ScanResult, keyring: Keyring, *, all_scores: bool = False
) -> dict[str, Any]:
    """``{"findings": [...]}`` (+ ``doc_scores`` with ``all_scores``)."""
    report: dict[str, Any] = {
        "findings": [finding_json(to_finding(hit, keyring)) for hit in result.findings]
    }
    if all_scores:
        report["doc_scores"] = {k: round(v, 4) for k, v in sorted(result.doc_scores.items())}
    return report
