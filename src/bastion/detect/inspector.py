"""The inspect stage: every text the model will read, scanned (RELIABILITY.md P1).

Each segment is scanned on its own (its provenance decides source-specific detectors);
then the seams between consecutive segments are scanned once more, so a value split
across messages or content parts ("my card is 4111 1111" / "1111 1111") is still found.
A finding across a seam is reported on each segment it touches, marked ``split``.

Conversations resend their whole history on every turn, so the findings of each text
and of each seam are remembered by a keyed digest of the text (never the text or its
values: a cached finding holds class, span, score and fingerprint only), bounded in
number: a call pays for its new message and the one or two seams it adds, not for the
whole history again.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from bastion.crypto.keyring import Keyring
from bastion.detect.output import AnswerDetectors, ExfilLinkDetector
from bastion.detect.report import scan_report, to_finding
from bastion.detect.scanner import Scanner
from bastion.model import Conversation, Finding
from bastion.model.finding import ANSWER, REQUEST

_SEAM = 64  # characters either side of a seam scanned together (longer than any value)
_REMEMBERED = 4096  # texts and seams whose findings are kept
_SEAM_KIND = b"\x00seam"  # a seam's digest: no source is named so
_NAMES_KIND = b"\x00names"


class DetectorInspector:
    """Implements the pipeline's ``Inspector`` with a built ``Scanner``; answers are
    scanned with ``answer`` (default: the scanner's patterns and the link detector with
    no host allowed, as ``detectors.output`` defaults to)."""

    def __init__(
        self, scanner: Scanner, keyring: Keyring, answer: AnswerDetectors | None = None
    ) -> None:
        self.scanner = scanner
        self.answer = answer or AnswerDetectors(scanner, ExfilLinkDetector())
        self._keyring = keyring
        self._salt = secrets.token_bytes(32)  # digests of texts mean nothing elsewhere
        self._remembered: dict[bytes, tuple[Finding, ...]] = {}
        self._memory = threading.Lock()  # large texts are scanned on worker threads

    def inspect(self, conversation: Conversation) -> list[Finding]:
        findings: list[Finding] = []
        segments = conversation.segments
        for index, segment in enumerate(segments):
            if segment.names:
                found = self._names_findings(segment.text)
            else:
                found = self._text_findings(segment.text, segment.source.value)
            for finding in found:
                findings.append(replace(finding, segment=index) if index else finding)
        for left in range(len(segments) - 1):
            if not (segments[left].names or segments[left + 1].names):
                findings.extend(self._across_seam(conversation, left))
        for reason in conversation.unscanned:
            findings.append(
                Finding("content.unscanned", REQUEST, 0, 0, 1.0, "wire", {"kind": reason})
            )
        return findings

    def _scan(self, text: str, source: str) -> tuple[Finding, ...]:
        hits = self.scanner.scan(text, source).findings
        return tuple(to_finding(hit, self._keyring) for hit in hits)

    def _text_findings(self, text: str, source: str) -> tuple[Finding, ...]:
        """The findings of one text (as segment 0), from memory when it was seen before.

        Short texts too: a scan has a fixed cost of tens of microseconds (every detector
        starts), a keyed digest of a short text under one, and short system prompts
        come back on every call of an app."""
        return self._remembered_or(text, source.encode(), lambda: self._scan(text, source))

    def _names_findings(self, names: str) -> tuple[Finding, ...]:
        """The findings of the names segment (``Scanner.scan_names``): values, and
        instructions written as identifiers."""

        def scan() -> tuple[Finding, ...]:
            hits = self.scanner.scan_names(names).findings
            return tuple(to_finding(hit, self._keyring) for hit in hits)

        return self._remembered_or(names, _NAMES_KIND, scan)

    def _remembered_or(
        self, text: str, kind: bytes, scan: Callable[[], tuple[Finding, ...]]
    ) -> tuple[Finding, ...]:
        """``scan()``'s findings for ``text`` read as ``kind`` (a source, or ``_SEAM_KIND``),
        remembered: the least recently used are forgotten first."""
        digest = hashlib.blake2b(
            text.encode("utf-8", "surrogatepass"), key=self._salt, person=kind[:16]
        ).digest()
        with self._memory:
            known = self._remembered.pop(digest, None)
        if known is None:
            known = scan()
        with self._memory:
            if len(self._remembered) >= _REMEMBERED:
                del self._remembered[next(iter(self._remembered))]  # the least recently used
            self._remembered[digest] = known
        return known

    def inspect_answer(self, text: str, stand_ins: Collection[str] = ()) -> list[Finding]:
        """Values in the model's own output (patterns, canaries and links: whole-text
        classes such as code in an answer are the point of asking, not a leak)."""
        hits = self.answer.scan(text, stand_ins)
        return [to_finding(hit, self._keyring, ANSWER) for hit in hits]

    def scan_text(
        self, text: str, source: str, *, all_scores: bool = False
    ) -> tuple[list[Finding], dict[str, Any]]:
        """One scan of one text: its reported findings (segment 0) and the scan-format
        report (CONTRACT.md §8; with ``all_scores`` also candidates below threshold)."""
        result = self.scanner.scan(text, source, all_scores=all_scores)
        report = scan_report(result, self._keyring, all_scores=all_scores)
        findings = [
            to_finding(hit, self._keyring)
            for hit in result.findings
            if hit.score >= self.scanner.threshold(hit.data_class)
        ]
        return findings, report

    def _across_seam(self, conversation: Conversation, left: int) -> list[Finding]:
        """Findings that only exist when the end of one text meets the start of the next.

        The two ends are joined with a space, as a reader sees two messages: a value
        split in two ("4111 1111" / "1111 1111") reads whole, and words do not glue."""
        first = conversation.segments[left].text
        second = conversation.segments[left + 1].text
        head = first[-_SEAM:]
        seam = len(head)  # the joining space sits at ``seam``
        joined = f"{head} {second[:_SEAM]}"
        offset = len(first) - seam
        out: list[Finding] = []
        for found in self._remembered_or(joined, _SEAM_KIND, lambda: self._split(joined, seam)):
            out.append(replace(found, segment=left, start=offset + found.start, end=len(first)))
            out.append(replace(found, segment=left + 1, start=0, end=found.end - seam - 1))
        return out

    def _split(self, joined: str, seam: int) -> tuple[Finding, ...]:
        """The findings of ``joined`` (two texts' ends around a space at ``seam``) that
        cross the space, at their span in ``joined``."""
        return tuple(
            to_finding(hit, self._keyring, split="true")
            for hit in self.scanner.across(joined, seam)
        )
