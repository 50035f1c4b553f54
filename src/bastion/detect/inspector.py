"""The inspect stage: every text the model will read, scanned (RELIABILITY.md P1).

Each segment is scanned on its own (its provenance decides source-specific detectors);
then the seams between consecutive segments are scanned once more, so a value split
across messages or content parts ("my card is 4111 1111" / "1111 1111") is still found.
A finding across a seam is reported on each segment it touches, marked ``split``.
"""

from __future__ import annotations

from typing import Any

from bastion.crypto.keyring import Keyring
from bastion.detect.patterns import Hit
from bastion.detect.report import scan_report
from bastion.detect.scanner import Scanner
from bastion.model import Conversation, Finding
from bastion.model.finding import REQUEST

_SEAM = 64  # characters either side of a seam scanned together (longer than any value)


class DetectorInspector:
    """Implements the pipeline's ``Inspector`` with a built ``Scanner``."""

    def __init__(self, scanner: Scanner, keyring: Keyring) -> None:
        self.scanner = scanner
        self._keyring = keyring

    def inspect(self, conversation: Conversation) -> list[Finding]:
        findings: list[Finding] = []
        segments = conversation.segments
        for index, segment in enumerate(segments):
            for hit in self.scanner.scan(segment.text, segment.source.value).findings:
                findings.append(self._finding(hit, index, hit.start, hit.end))
        for left in range(len(segments) - 1):
            findings.extend(self._across_seam(conversation, left))
        for reason in conversation.unscanned:
            findings.append(
                Finding("content.unscanned", REQUEST, 0, 0, 1.0, "wire", {"kind": reason})
            )
        return findings

    def report(self, text: str, source: str, *, all_scores: bool = False) -> dict[str, Any]:
        """One text's findings in the scan format (CONTRACT.md §8)."""
        result = self.scanner.scan(text, source, all_scores=all_scores)
        return scan_report(result, self._keyring, all_scores=all_scores)

    def _finding(self, hit: Hit, segment: int, start: int, end: int, **extra: str) -> Finding:
        meta = {**hit.meta, **extra} if extra else dict(hit.meta)
        fingerprint = self._keyring.fingerprint(hit.data_class, hit.value) if hit.value else ""
        return Finding(
            hit.data_class, segment, start, end, hit.score, hit.detector, meta, fingerprint
        )

    def _across_seam(self, conversation: Conversation, left: int) -> list[Finding]:
        """Findings that only exist when the end of one text meets the start of the next."""
        first = conversation.segments[left].text
        second = conversation.segments[left + 1].text
        head = first[-_SEAM:]
        joined = head + second[:_SEAM]
        seam = len(head)
        out: list[Finding] = []
        for hit in self.scanner.scan(joined, documents=False).findings:
            if not hit.start < seam < hit.end or hit.data_class.split(".")[0] not in (
                "pii",
                "secret",
                "custom",
            ):
                continue
            offset = len(first) - seam
            out.append(self._finding(hit, left, offset + hit.start, len(first), split="true"))
            out.append(self._finding(hit, left + 1, 0, hit.end - seam, split="true"))
        return out
