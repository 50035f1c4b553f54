"""The fast entity tier: persons, locations and street addresses in one call.

``EntityTagger.detect`` encodes the text once, finds the capitalised runs once (shared
by the person and location taggers), scans for address shapes, and resolves overlaps:
an address swallows the names and places inside it; between a person and a location
over the same words the higher score wins (a tie goes to the person).
"""

from __future__ import annotations

from bastion.detect.entities.address import AddressTagger
from bastion.detect.entities.location import LocationTagger
from bastion.detect.entities.person import PersonTagger
from bastion.detect.entities.runs import find_runs, run_regex
from bastion.detect.patterns import Hit

_CLASS_RANK = {"pii.street_address": 0, "pii.person": 1, "pii.location": 2}
_LOWERCASE_MAX_CHARS = 4096  # all-lower-case texts are re-read title-cased up to this size
_LOWERCASE_MIN_SCORE = 0.8  # ... keeping only full names and countries found that way
_LOWERCASE_SCORE = 0.7


class EntityTagger:
    """Detects ``pii.person``, ``pii.location`` and ``pii.street_address`` without a model.

    Linear in the text (RE2 scans; Python only over candidates) and safe for any text.
    Gazetteers and regexes are built on first use or by ``warm``.
    """

    name = "entities"

    def __init__(self) -> None:
        self._person = PersonTagger()
        self._location = LocationTagger()
        self._address = AddressTagger()

    def warm(self) -> None:
        """Build the gazetteers and compile the scanners now rather than on first use."""
        run_regex()
        self.detect("Dr. Jane Roe moved from Paris to 12 Baker Street, London.")

    def detect(self, text: str) -> list[Hit]:
        """Entity hits with code-point offsets into ``text``, sorted by position."""
        if not text:
            return []
        data = text.encode("utf-8", "replace")  # a lone surrogate becomes one "?" byte
        runs = find_runs(text, data)
        hits = self._address.tag(text, data)
        hits += self._person.tag(text, data, runs)
        hits += self._location.tag(text, runs)
        if len(text) <= _LOWERCASE_MAX_CHARS and text.islower():
            hits += self._lowercase(text)
        return resolve(hits)

    def _lowercase(self, text: str) -> list[Hit]:
        """Full names and countries in a text typed without capitals ("eva kleist")."""
        titled = text.title()
        if len(titled) != len(text):
            return []
        data = titled.encode("utf-8", "replace")
        runs = find_runs(titled, data)
        found = self._person.tag(titled, data, runs) + self._location.tag(titled, runs)
        return [
            Hit(h.data_class, h.start, h.end, _LOWERCASE_SCORE, h.detector, text[h.start : h.end])
            for h in found
            if (h.score >= _LOWERCASE_MIN_SCORE and " " in h.value) or h.score >= 0.85
        ]


def resolve(hits: list[Hit]) -> list[Hit]:
    """Among overlapping hits keep addresses first, then the higher score, then the longer.

    Hits are grouped into clusters of chained overlaps in one sorted sweep; each cluster
    (a few hits at most in real text) is settled greedily by that priority.
    """
    kept: list[Hit] = []
    cluster: list[Hit] = []
    cluster_end = -1
    for hit in sorted(hits, key=lambda h: (h.start, h.end)):
        if cluster and hit.start >= cluster_end:
            kept += _settle(cluster)
            cluster = []
        cluster.append(hit)
        cluster_end = max(cluster_end, hit.end) if len(cluster) > 1 else hit.end
    kept += _settle(cluster)
    kept.sort(key=lambda h: (h.start, h.end))
    return kept


def _settle(cluster: list[Hit]) -> list[Hit]:
    if len(cluster) < 2:
        return cluster
    ranked = sorted(
        cluster,
        key=lambda h: (_CLASS_RANK.get(h.data_class, 3) > 0, -h.score, h.start - h.end),
    )
    chosen: list[Hit] = []
    for hit in ranked:
        if all(hit.end <= other.start or other.end <= hit.start for other in chosen):
            chosen.append(hit)
    return chosen
