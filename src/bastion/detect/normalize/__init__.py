"""Normalisation against evasion: projections of a text to scan besides the original.

``project(text)`` returns the projections worth scanning — each with ``to_original``,
an exact map from its spans back to code-point spans of the original — and the
``evasion.invisible`` / ``evasion.tag_payload`` / ``evasion.homoglyph`` findings
(RELIABILITY.md "Hostile text: normalise before detecting"). ``evasion.encoded`` is the
engine's to emit, when a finding comes from a projection with ``decoded`` set.

Projection names: ``unescaped``, ``visible``, ``nfkc``, ``skeleton`` (cleaning, cumulative);
``base64``, ``base64url``, ``base32``, ``hex``, ``url``, ``html`` (decoded runs);
``rot13``, ``leet``, ``despaced`` (obfuscations). Which patterns to run on which
projection: ``Projection.letters_only`` (ROT13, leet: a pattern with no letters in its
regex or context words finds nothing new there) and ``Projection.alters_digits`` (leet:
digits inside words became letters, so digit-only patterns may find noise there).
"""

from __future__ import annotations

from bastion.detect.normalize.normalised import (
    DEFAULT_MAX_DECODED_CHARS,
    DEFAULT_MAX_DEPTH,
    Normalised,
    project,
)
from bastion.detect.normalize.projection import OffsetMap, Projection

__all__ = [
    "DEFAULT_MAX_DECODED_CHARS",
    "DEFAULT_MAX_DEPTH",
    "Normalised",
    "OffsetMap",
    "Projection",
    "project",
]
