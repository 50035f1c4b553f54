"""Groups for cross-validation, so no fold is scored on near-copies of its training data.

* **Direct injection**: near-duplicate clusters. Each text's word 5-grams are shingled
  and MinHashed (128 permutations); locality-sensitive hashing (32 bands of 4 rows)
  proposes pairs, and a pair whose estimated Jaccard similarity is at least 0.5 is
  joined (union-find), so chains of variants of one jailbreak template end in one
  cluster. Texts shorter than five words are shingled by their words.
* **Indirect injection**: the injected sentence (the text under the ``INJECTION`` span,
  whitespace-normalised); each benign row joins the group of its injected twin (the same
  context with the sentence removed; the first twin by sentence when there are several).

``folds`` then sets aside a fixed share of groups as held-out (never trained on) and
deals the rest into ``k`` folds, largest groups first, each to the fold with the fewest
rows so far; all of it seeded and deterministic.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SHINGLE = 5
PERMUTATIONS = 128
BANDS = 32
THRESHOLD = 0.5
_PRIME = (1 << 31) - 1  # products of two residues fit in uint64


def _shingles(text: str) -> set[int]:
    words = text.lower().split()
    if len(words) < SHINGLE:
        grams = [" ".join(words)] if words else [""]
    else:
        grams = [" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest()) for g in grams}


def minhash(texts: Sequence[str], seed: int = 1) -> np.ndarray:
    """A ``(len(texts), PERMUTATIONS)`` signature matrix (universal hashing mod 2^31-1)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _PRIME, PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, _PRIME, PERMUTATIONS, dtype=np.uint64)
    out = np.empty((len(texts), PERMUTATIONS), dtype=np.uint64)
    for row, text in enumerate(texts):
        values = np.array(sorted(_shingles(text)), dtype=np.uint64) % np.uint64(_PRIME)
        hashed = (np.outer(values, a) + b) % np.uint64(_PRIME)
        out[row] = hashed.min(axis=0)
    return out


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, left: int, right: int) -> None:
        a, b = self.find(left), self.find(right)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def near_duplicate_clusters(texts: Sequence[str]) -> list[int]:
    """Cluster id per text: MinHash-LSH candidates joined at estimated Jaccard >= 0.5."""
    signatures = minhash(texts)
    rows = PERMUTATIONS // BANDS
    union = _UnionFind(len(texts))
    for band in range(BANDS):
        buckets: dict[bytes, list[int]] = {}
        block = signatures[:, band * rows : (band + 1) * rows]
        for index in range(len(texts)):
            buckets.setdefault(block[index].tobytes(), []).append(index)
        for members in buckets.values():
            for other in members[1:]:
                similarity = float(np.mean(signatures[members[0]] == signatures[other]))
                if similarity >= THRESHOLD:
                    union.union(members[0], other)
    return [union.find(i) for i in range(len(texts))]


def direct_groups(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Group key per row of the direct file (its near-duplicate cluster)."""
    clusters = near_duplicate_clusters([row["text"] for row in rows])
    return [f"c{cluster}" for cluster in clusters]


def _context(text: str) -> str:
    return " ".join(text.split())


def injected_sentence(row: Mapping[str, Any]) -> str:
    """The whitespace-normalised text under the row's INJECTION span."""
    start, end = next((s, e) for s, e, kind in row["spans"] if kind == "INJECTION")
    return _context(row["text"][start:end])


def indirect_groups(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Group key per row of the indirect file (the injected sentence; twins join it)."""
    twins: dict[str, list[str]] = {}
    keys: list[str | None] = []
    for row in rows:
        if row["label"] != "injection":
            keys.append(None)
            continue
        sentence = injected_sentence(row)
        start, end = next((s, e) for s, e, kind in row["spans"] if kind == "INJECTION")
        context = _context(row["text"][:start] + " " + row["text"][end:])
        twins.setdefault(context, []).append(sentence)
        keys.append(sentence)
    out: list[str] = []
    for row, key in zip(rows, keys, strict=True):
        if key is None:
            candidates = sorted(twins.get(_context(row["text"]), []))
            key = candidates[0] if candidates else f"benign:{_context(row['text'])[:80]}"
        out.append("s:" + hashlib.blake2b(key.encode(), digest_size=6).hexdigest())
    return out


def folds(
    groups: Sequence[str], k: int = 5, held_out: float = 0.15, seed: int = 7
) -> tuple[list[int], dict[str, int]]:
    """Fold per row (-1: held out) and the fold of every group."""
    sizes: dict[str, int] = {}
    for group in groups:
        sizes[group] = sizes.get(group, 0) + 1
    names = sorted(sizes)
    random.Random(seed).shuffle(names)
    target = held_out * len(groups)
    assignment: dict[str, int] = {}
    kept = 0
    for name in names:  # held-out groups: random, until the share is reached
        if kept >= target:
            break
        assignment[name] = -1
        kept += sizes[name]
    loads = [0] * k
    rest = sorted((n for n in names if n not in assignment), key=lambda n: (-sizes[n], n))
    for name in rest:
        fold = min(range(k), key=lambda f: (loads[f], f))
        assignment[name] = fold
        loads[fold] += sizes[name]
    return [assignment[group] for group in groups], assignment
