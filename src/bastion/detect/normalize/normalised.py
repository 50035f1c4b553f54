"""``project``: the projections of a text worth scanning, and the evasion it shows.

The stages run in order, each on the previous one's output, each only when needed:

1. cleaning: ``unescaped`` (``\\uXXXX`` escapes decoded; text holding one), then, for
   non-ASCII text, ``visible`` (invisible characters removed, tag and
   variation-selector payloads decoded), ``nfkc``, ``skeleton``; each cleaning
   projection includes the ones before it;
2. decoding, on the cleaned text: one projection per encoding found (``base64``,
   ``base64url``, ``base32``, ``hex``, ``url``, ``html``), then ``rot13``, ``leet`` and
   ``despaced`` when the text shows signs of them.

Plain ASCII prose pays for two RE2 set passes (the gate: which stages and decoders the text
could interest at all); everything else runs only when the gate says so, and is linear
in the text's length. Evasion findings are capped per class and stage (``MAX_HITS``);
projections always cover the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import re2

from bastion.detect.normalize import decode, obfuscation
from bastion.detect.normalize.charsets import suspicious_pattern
from bastion.detect.normalize.confusables import (
    Span,
    fold_compatibility,
    lookalike_pattern,
    skeleton,
)
from bastion.detect.normalize.escapes import ESCAPE, unescape
from bastion.detect.normalize.invisible import reveal
from bastion.detect.normalize.projection import MapBuilder, OffsetMap, Projection
from bastion.detect.normalize.utf8 import Utf8Text
from bastion.detect.patterns import Hit

DETECTOR = "normalize"
DEFAULT_MAX_DEPTH = 2
DEFAULT_MAX_DECODED_CHARS = 65_536
"""Decoded characters per text, all runs and depths together."""
_GATE_MAX_MEM = 64 << 20  # the gate DFA's budget (RE2's default of 8 MB is tight for it)
_NOTHING = [0]  # what a gate set reports when only its end-of-text sentinel matched


@dataclass(frozen=True, slots=True)
class Normalised:
    """What detectors scan besides the original, and the evasion findings themselves.

    ``projections`` holds only projections that differ from the original and are worth
    scanning; ``evasion`` holds ``evasion.invisible``, ``evasion.tag_payload`` and
    ``evasion.homoglyph`` hits in original offsets, sorted by position.
    """

    projections: tuple[Projection, ...]
    evasion: tuple[Hit, ...]


EMPTY = Normalised((), ())


def project(
    text: str,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_decoded_chars: int = DEFAULT_MAX_DECODED_CHARS,
) -> Normalised:
    """The projections of ``text`` worth scanning, and the evasion findings (never raises)."""
    if not text:
        return EMPTY
    try:
        return _project(text, max_depth, max_decoded_chars)
    except UnicodeEncodeError:  # lone surrogates: RE2 needs UTF-8; same-length stand-ins
        clean = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
        return _project(clean, max_depth, max_decoded_chars)


def _project(text: str, max_depth: int, max_decoded_chars: int) -> Normalised:
    source = Utf8Text(text)
    seen = _gate().scan(source)
    if not seen and len(source.data) == len(text):  # ASCII the gate saw nothing in
        return EMPTY
    projections: list[Projection] = []
    evasion: list[Hit] = []
    base: Utf8Text = source
    offsets: OffsetMap | None = None
    if "escaped" in seen and (unescaped := unescape(source)) is not None:
        base, offsets = Utf8Text(unescaped.text), unescaped.offsets
        projections.append(Projection("unescaped", base.text, offsets))
        seen = _gate().scan(base)
    if not base.text.isascii():
        cleaned, offsets = _clean(text, base, offsets, seen, projections, evasion)
        if cleaned is not base:
            base = cleaned
            seen = _gate().scan(base)
    _decode(base, offsets, seen, projections, max_depth, max_decoded_chars)
    if not (projections or evasion):
        return EMPTY
    evasion.sort(key=lambda hit: (hit.start, hit.end, hit.data_class))
    return Normalised(tuple(projections), tuple(evasion))


def _clean(
    text: str,
    source: Utf8Text,
    offsets: OffsetMap | None,
    seen: set[str],
    projections: list[Projection],
    evasion: list[Hit],
) -> tuple[Utf8Text, OffsetMap | None]:
    """The cleaning stages of ``source`` (``text`` itself, or its unescaped projection
    with ``offsets`` back to ``text``); returns the cleaned text and its map to ``text``
    (None: identity)."""
    base = source
    revealed = reveal(source) if "invisible" in seen else None
    if revealed is not None:
        evasion.extend(_remapped(text, hit, offsets) for hit in revealed.hits)
        if revealed.worth_scanning:
            base = Utf8Text(revealed.text)
            offsets = revealed.offsets.then(offsets) if offsets else revealed.offsets
            projections.append(Projection("visible", base.text, offsets))
    folded = fold_compatibility(base)
    if folded is not None:
        evasion.extend(_homoglyph(text, span, offsets) for span in folded.spans)
        if folded.worth_scanning and folded.offsets is not None:
            offsets = folded.offsets.then(offsets) if offsets else folded.offsets
            base = Utf8Text(folded.text)
            projections.append(Projection("nfkc", base.text, offsets))
    look_alike = skeleton(base, present="lookalike" in seen if base is source else None)
    if look_alike is not None:
        evasion.extend(_homoglyph(text, span, offsets) for span in look_alike.spans)
        base = Utf8Text(look_alike.text)
        offsets = offsets or OffsetMap.identity(len(text))
        projections.append(Projection("skeleton", base.text, offsets))
    return base, offsets


def _remapped(text: str, hit: Hit, offsets: OffsetMap | None) -> Hit:
    """``hit`` of a projection, at its span (and value) in the original ``text``."""
    if offsets is None:
        return hit
    start, end = offsets.to_original(hit.start, hit.end)
    return Hit(hit.data_class, start, end, hit.score, hit.detector, text[start:end], hit.meta)


def _homoglyph(text: str, span: Span, offsets: OffsetMap | None) -> Hit:
    start, end = offsets.to_original(span.start, span.end) if offsets else (span.start, span.end)
    meta = {"kind": span.kind, "scripts": span.scripts}
    return Hit("evasion.homoglyph", start, end, span.score, DETECTOR, text[start:end], meta)


class _Gate:
    """What a text may need, in two RE2 passes: sets of patterns, without groups.

    Names: ``invisible`` (a suspicious invisible character), ``lookalike``, and the
    decoder families. The encodings have a set of their own: in one automaton with the
    others, high-entropy text (base64, hex dumps) multiplies their states and a 2 KB
    base64 paste cost ~300 µs here against ~35 µs for two sets; prose pays ~3 µs more.
    RE2's set matcher has no slow fallback: when its DFA runs out of memory it reports
    nothing. A sentinel that matches every text (at its end) exposes that, and everything
    in that set is then assumed present (correct, merely slower).
    """

    def __init__(self) -> None:
        options = re2.Options()
        options.max_mem = _GATE_MAX_MEM
        options.log_errors = False
        named = [(name, pattern) for name, patterns in _families() for pattern in patterns]
        self._sets = [
            self._compiled(options, [entry for entry in named if entry[0] == "encoded"]),
            self._compiled(options, [entry for entry in named if entry[0] != "encoded"]),
        ]

    @staticmethod
    def _compiled(options: Any, named: list[tuple[str, str]]) -> tuple[Any, list[str]]:
        matcher = re2.Set.SearchSet(options)
        matcher.Add(r"\z")  # at the end only: "(?s)." would make every byte a match state
        for _, pattern in named:
            matcher.Add(pattern)
        matcher.Compile()
        return matcher, [name for name, _ in named]

    def scan(self, source: Utf8Text) -> set[str]:
        seen: set[str] = set()
        for matcher, owners in self._sets:
            found = matcher.Match(source.data)
            if found == _NOTHING:  # the sentinel alone: most text, nothing to add
                continue
            if not found or 0 not in found:
                seen.update(owners)
            else:
                seen.update(owners[index - 1] for index in found if index)
        return seen


def _families() -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (
        ("escaped", (ESCAPE,)),
        ("invisible", (suspicious_pattern(),)),
        ("lookalike", (lookalike_pattern(),)),
        ("encoded", decode.PATTERNS),
        ("rot13", (obfuscation.ROT13_HINT,)),
        ("leet", (obfuscation.LEET_HINT,)),
        ("despaced", (obfuscation.SPACED, obfuscation.DOTTED)),
    )


@cache
def _gate() -> _Gate:
    return _Gate()


def _decode(
    source: Utf8Text,
    offsets: OffsetMap | None,
    families: set[str],
    projections: list[Projection],
    max_depth: int,
    max_decoded_chars: int,
) -> None:
    families = families - {"escaped", "invisible", "lookalike"}
    if not families:
        return
    base = source.text
    to_original = offsets or OffsetMap.identity(len(base))
    if "encoded" in families:
        runs = decode.decode_runs(source, max_depth, decode.Budget(max_decoded_chars))
        by_encoding: dict[str, list[decode.Decoded]] = {}
        for run in runs:
            by_encoding.setdefault(run.encoding, []).append(run)
        for encoding, group in by_encoding.items():
            decoded, runs_map = _replace(base, group)
            projections.append(
                Projection(encoding, decoded, runs_map.then(to_original), decoded=True)
            )
            if any(run.shallow is not None for run in group):  # each level reads whole
                outer = [replace(run, text=run.shallow or run.text) for run in group]
                decoded, runs_map = _replace(base, outer)
                projections.append(
                    Projection(encoding, decoded, runs_map.then(to_original), decoded=True)
                )
    if "rot13" in families and (rotated := obfuscation.rot13(source)) is not None:
        projections.append(
            Projection("rot13", rotated, to_original, letters_only=True, decoded=True)
        )
    if "leet" in families and (read := obfuscation.leet(source)) is not None:
        projections.append(
            Projection(
                "leet", read, to_original, alters_digits=True, letters_only=True, decoded=True
            )
        )
    if "despaced" in families and (joined := obfuscation.despace(source)) is not None:
        projections.append(
            Projection("despaced", joined.text, joined.offsets.then(to_original), decoded=True)
        )


def _replace(text: str, runs: list[decode.Decoded]) -> tuple[str, OffsetMap]:
    """``text`` with ``runs`` replaced by their decodings; each decoded char maps to its run."""
    builder = MapBuilder()
    parts: list[str] = []
    done = 0
    for run in runs:
        parts.append(text[done : run.start])
        builder.copy(done, run.start - done)
        parts.append(run.text)
        builder.collapse(len(run.text), run.start, run.end)
        done = run.end
    parts.append(text[done:])
    builder.copy(done, len(text) - done)
    return "".join(parts), builder.build(len(text))
