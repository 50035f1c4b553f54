"""Which anchor, cue and street words a text contains, found without a per-word Python loop.

An *anchor* is a word that is a candidate on its own, written in title case: a common
given name of the main locales, a country, a region or a city of 100,000+ people
("Sarah", "Lisbon"). Finding them with RE2 would need a 24,000-word alternation, whose
lazily built DFA costs far more on never-seen text than the search itself; a Python
loop over the words costs ~0.1 µs a word. Instead the text's UTF-8 is mapped byte for
byte (punctuation to spaces, so whole words stand between spaces), split on whitespace
and intersected with one frozenset of word forms: three calls that run in C whatever the
vocabulary size. Python then only touches the handful of words found; where they are
comes from the same words (whole words, so "Ana" does not stop in "Analysis").

The same intersection says whether the text holds a word the person cue scan needs
("Dear", "said", "name"), a street-type word ("Street", "rue", "Box"), or a word that
makes its neighbour a name ("patient", "Regards"), so work that needs one is skipped
when there is none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import compress

from bastion.detect.entities.address_shapes import TYPE_WORDS
from bastion.detect.entities.gazetteer import anchor_names, person_names, places
from bastion.detect.entities.lexicon import (
    COMMON_WORDS,
    NOT_NAMES,
    PERSON_CUES,
    SPEECH_VERBS,
    TITLES,
)

ANCHOR_CITY_POPULATION = 100_000
# ASCII letters, digits, apostrophes and hyphens stay part of a word, as does every byte
# of a multi-byte character; anything else separates words. Every digit reads "0": no
# vocabulary word holds one, and the address gates then need one search each.
_KEPT = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'-")
_DIGITS = frozenset(b"0123456789")
_TABLE = bytes(0x30 if b in _DIGITS else b if b in _KEPT or b >= 0x80 else 0x20 for b in range(256))
# Blocks of non-ASCII punctuation that separate words just like a space, by their UTF-8
# lead bytes, with the final bytes that are word characters after all: in U+2000-203F
# (dashes, curly quotes, ellipsis, bullets, zero-width and bidirectional marks) only the
# right single quote U+2019, which like "'" keeps a word going ("Paris's" typed with it); in
# U+0080-00BF (NBSP, guillemets, soft hyphen) all but the letters ª µ º and the digits
# ¹ ² ³ ¼ ½ ¾; in U+2040-207F (word joiner, invisible operators, bidi isolates) all but
# the superscript letters and digits; CJK punctuation U+3000-303F but for its letters;
# the byte order mark.
_BLOCKS: tuple[tuple[bytes, frozenset[bytes]], ...] = (
    (b"\xe2\x80", frozenset({b"\x99"})),
    (b"\xc2", frozenset(bytes([b]) for b in b"\xaa\xb2\xb3\xb5\xb9\xba\xbc\xbd\xbe")),
    (b"\xe2\x81", frozenset(bytes([b]) for b in b"\xb0\xb1\xb4\xb5\xb6\xb7\xb8\xb9\xbf")),
    (b"\xe3\x80", frozenset(bytes([b]) for b in b"\x85\x86\x87\xb1\xb2\xb3\xb4\xb5\xbb\xbc")),
    (b"\xef\xbb", frozenset(bytes([b]) for b in range(0x80, 0xBF))),
)
# Words the person cue scan starts from ("my name is", "Dear", "Mr.", "says Okafor").
_CUE_WORDS = frozenset(
    {"name", "name's", "name\u2019s", "am", "i'm", "i\u2019m", "dear", "hi", "hello", "hey"}
    | {"signed", "patient", "mr", "mrs", "ms", "miss", "dr", "said", "says", "according"}
)
_INITIALS = frozenset("bcdefghjklmnopqrstuvwxyz")  # not "a" and "i": words, not initials


def anchor_words() -> frozenset[str]:
    """Gazetteer keys that make a single capitalised word a candidate on its own."""
    geo = places()
    cities = {name for name, people in geo.cities.items() if people >= ANCHOR_CITY_POPULATION}
    names = anchor_names() - COMMON_WORDS - NOT_NAMES
    # places stay even when they are common words ("Reading"): the tagger asks for a cue;
    # titles do not: alone ("Dr.") they are no name, and before one they start a run
    return names | geo.countries | geo.regions | cities


def title_form(key: str) -> str:
    """How an anchor key is written as a word: first letter upper case ("são" → "São")."""
    first = key[:1].upper()
    return first + key[1:] if len(first) == 1 and key[:1].isalpha() else ""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The word forms the probe looks for, as UTF-8 bytes."""

    anchors: frozenset[bytes]
    """Title-case form of each one-word anchor."""
    names: frozenset[bytes]
    """Title-case form of every other given name of any locale, of the titles and of
    the letters that may be an initial."""
    cues: frozenset[bytes]
    """Lower, title and upper case forms of the cue words."""
    streets: frozenset[bytes]
    """The same three forms of the street-type and box words (``address_shapes``)."""
    context: frozenset[bytes]
    """The same three forms of the words before or after a name that make even an unknown
    word one ("patient", "Regards", "said")."""
    words: frozenset[bytes]
    """Everything above: the one set the text's words are intersected with."""


@cache
def vocabulary() -> Vocabulary:
    """The probe's vocabulary (built once per process, after the gazetteers)."""
    # multi-word anchors are title-cased runs, which the run scanner finds anyway
    forms = (title_form(key) for key in anchor_words())
    anchors = frozenset(form.encode() for form in forms if form and " " not in form)
    given = (person_names().first - COMMON_WORDS - NOT_NAMES) | TITLES | _INITIALS
    names = frozenset(form.encode() for form in map(title_form, given) if form) - anchors
    cues, streets = _forms(_CUE_WORDS), _forms(TYPE_WORDS)
    context = _forms(PERSON_CUES | SPEECH_VERBS)
    words = anchors | names | cues | streets | context
    return Vocabulary(anchors, names, cues, streets, context, words)


def _forms(words: Iterable[str]) -> frozenset[bytes]:
    return frozenset(
        form.encode() for word in words for form in (word, word.capitalize(), word.upper())
    )


@dataclass(frozen=True, slots=True)
class Probe:
    """The vocabulary words one text contains, and where to look for them."""

    anchors: frozenset[bytes]
    """Anchor forms present as whole words somewhere in the text."""
    names: frozenset[bytes]
    """Other given names, titles and initials present (the triggers, with ``anchors``,
    in an all-lower-case text read title-cased)."""
    cues: bool
    """Whether any cue word is present."""
    streets: bool
    """Whether any street-type or box word is present."""
    context: bool
    """Whether any word that makes its neighbour a name is present ("patient", "said")."""
    digits: bool
    """Whether the text holds an ASCII digit (every address does)."""
    spaced_digit: bool
    """Whether a digit follows a separator (a space, a tab, punctuation): every address
    without a street-type or box word ends in a number after a space or a tab."""
    mapped: bytes
    """The text's UTF-8 with separators blanked, between two added spaces."""
    words: list[bytes]
    """``mapped`` split at whitespace: the text's words, in order."""

    def where(self, words: frozenset[bytes]) -> list[tuple[int, bytes]]:
        """``(byte offset, word)`` of every whole-word occurrence of ``words``, in order.

        The text's words are filtered in C (``map`` and ``compress``), so Python touches
        only the occurrences; each is then found with ``bytes.find`` from the previous
        one, so the text is read once however many words are asked for.
        """
        found: list[tuple[int, bytes]] = []
        at = 0
        for word in compress(self.words, map(words.__contains__, self.words)):
            at = self.mapped.find(b" " + word + b" ", at)
            found.append((at, word))  # the needle's space sits where the word starts
            at += len(word) + 1
        return found


def probe(data: bytes, ascii_only: bool) -> Probe:
    """What of the vocabulary ``data`` (a text's UTF-8) contains."""
    vocab = vocabulary()
    mapped = data.translate(_TABLE)
    if not ascii_only:
        mapped = _blank_unicode_punctuation(mapped)
    digits = b"0" in mapped
    spaced_digit = digits and b" 0" in mapped
    words = mapped.split()
    found = vocab.words.intersection(words)
    mapped = b" " + mapped + b" "
    if not found:
        return Probe(
            frozenset(), frozenset(), False, False, False, digits, spaced_digit, mapped, words
        )
    return Probe(
        found & vocab.anchors,
        found & vocab.names,
        not found.isdisjoint(vocab.cues),
        not found.isdisjoint(vocab.streets),
        not found.isdisjoint(vocab.context),
        digits,
        spaced_digit,
        mapped,
        words,
    )


def _blank_unicode_punctuation(mapped: bytes) -> bytes:
    """``mapped`` with each non-ASCII separator (``_BLOCKS``) replaced by as many spaces."""
    for lead, word_finals in _BLOCKS:
        if lead not in mapped:
            continue
        pieces = mapped.split(lead)
        blank = b" " * (len(lead) + 1)
        parts = [pieces[0]]
        for piece in pieces[1:]:  # each piece starts with the character's final byte
            parts.append(lead + piece if piece[:1] in word_finals else blank + piece[1:])
        mapped = b"".join(parts)
    return mapped
