"""The names segment read as words, so an instruction written as an identifier is read.

Field names, tool names and identifiers reach the model as they are written, and a model
reads ``ignore_previous_instructions`` or ``IgnorePreviousInstructions`` as the words they
are made of. The injection detector reads words between spaces, so a list of names is
rendered as words before it is scored: ``_``, ``-``, ``.``, ``/`` and ``:`` become spaces
(same length), and a space goes in where a lower-case letter or a digit meets an
upper-case letter. Spans found in the words map back to the names as written.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise

_SEPARATORS = str.maketrans("_-./:", "     ")
# two single characters and no quantifier: each position is tried once, nothing to
# backtrack into (linear on any text, as the request-text rule requires)
_CAMEL_JOINT = re.compile(r"[a-z0-9](?=[A-Z])")


@dataclass(frozen=True, slots=True)
class NameWords:
    """A list of names as words; ``inserted`` holds where spaces went in, in ``text``."""

    text: str
    inserted: tuple[int, ...] = ()

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """A span of ``text`` in the names as written (an inserted space maps to the
        character after it)."""
        inserted = self.inserted
        return start - bisect_left(inserted, start), end - bisect_left(inserted, end)


def name_words(names: str) -> NameWords:
    """``names`` with its identifiers split into words (see the module docstring)."""
    spaced = names.translate(_SEPARATORS)
    cuts = [joint.end() for joint in _CAMEL_JOINT.finditer(spaced)]
    if not cuts:
        return NameWords(spaced)
    pieces = [spaced[start:end] for start, end in pairwise([0, *cuts, len(spaced)])]
    return NameWords(" ".join(pieces), tuple(cut + k for k, cut in enumerate(cuts)))
