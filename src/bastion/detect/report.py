"""The scan output format of CONTRACT.md §8, shared by ``bastion scan`` and
``POST /v1/bastion/scan``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.crypto.keyring import Keyring
from bastion.detect.scanner import ScanResult
from bastion.model import Finding

_FLAGS = frozenset({"known_dummy", "split"})  # meta values that are booleans on the wire


def _entry(
    data_class: str,
    start: int,
    end: int,
    score: float,
    detector: str,
    fingerprint: str,
    meta: Mapping[str, str],
) -> dict[str, Any]:
    entry: dict[str, Any] = {"class": data_class, "start": start, "end": end}
    entry["score"] = round(score, 4)
    if detector:
        entry["detector"] = detector
    if fingerprint:
        entry["fingerprint"] = fingerprint
    if meta:
        entry["meta"] = {k: (v == "true") if k in _FLAGS else v for k, v in meta.items()}
    return entry


def finding_json(finding: Finding) -> dict[str, Any]:
    """One finding as the scan format prints it; never its value."""
    return _entry(
        finding.data_class,
        finding.start,
        finding.end,
        finding.score,
        finding.detector,
        finding.fingerprint,
        finding.meta,
    )


def scan_report(
    result: ScanResult, keyring: Keyring, *, all_scores: bool = False
) -> dict[str, Any]:
    """``{"findings": [...]}`` (+ ``doc_scores`` with ``all_scores``)."""
    findings = [
        _entry(
            hit.data_class,
            hit.start,
            hit.end,
            hit.score,
            hit.detector,
            keyring.fingerprint(hit.data_class, hit.value) if hit.value else "",
            hit.meta,
        )
        for hit in result.findings
    ]
    report: dict[str, Any] = {"findings": findings}
    if all_scores:
        report["doc_scores"] = {k: round(v, 4) for k, v in sorted(result.doc_scores.items())}
    return report
