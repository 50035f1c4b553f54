"""The fast tier's secret detectors: vendor credential formats as ``Pattern`` rows.

Catalogues are split by family (cloud, source hosting, payment, messaging, model
providers, registries, hosting platforms, developer tools, SaaS, key material,
password hashes, keyword assignments, generic placements, passwords given to commands
and library calls, account names in browser-bundled env variables, passwords stated in
prose, Bastion's own keys). Each module exports ``PATTERNS`` and ``CLASSES`` (class
name → one-line description for ``bastion classes``); this package joins them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets import (
    assignments,
    bastion,
    bundled,
    calls,
    cloud,
    devtools,
    generic,
    hashes,
    hosting,
    infra,
    keys,
    llm,
    messaging,
    payment,
    prose,
    registries,
    saas,
    vcs,
)

_CATALOGUES = (
    bastion,
    cloud,
    vcs,
    llm,
    payment,
    messaging,
    registries,
    hosting,
    devtools,
    saas,
    infra,
    keys,
    hashes,
    generic,
    assignments,
    calls,
    bundled,
    prose,
)

# Catalogues matched by a keyword or a placement rather than a vendor prefix. RE2 set cost
# on hostile text grows with the product of patterns' live states, so the engine may
# compile these and the vendor catalogues as separate sets (see secret_pattern_groups).
_GRAMMARS = (infra, keys, hashes, generic, assignments, calls, bundled, prose)

__all__ = ["secret_classes", "secret_pattern_groups", "secret_patterns"]


@functools.cache
def secret_patterns() -> tuple[Pattern, ...]:
    """Every secret pattern, vendor formats first and keyword grammars last."""
    return tuple(pattern for module in _CATALOGUES for pattern in module.PATTERNS)


@functools.cache
def secret_pattern_groups() -> tuple[tuple[Pattern, ...], tuple[Pattern, ...]]:
    """``(vendor formats, keyword and placement grammars)``: two halves that each compile
    into a much cheaper RE2 set than their union (about 3x on random text)."""
    grammars = tuple(p for module in _GRAMMARS for p in module.PATTERNS)
    vendors = tuple(p for module in _CATALOGUES if module not in _GRAMMARS for p in module.PATTERNS)
    return vendors, grammars


@functools.cache
def secret_classes() -> tuple[tuple[str, str], ...]:
    """``(class, description)`` for every class a secret pattern can report."""
    merged: dict[str, str] = {}
    for module in _CATALOGUES:
        classes: Mapping[str, str] = module.CLASSES
        merged.update(classes)
    return tuple(sorted(merged.items()))
