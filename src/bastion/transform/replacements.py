"""What stands in for a redacted value: masks, pseudonyms, keyed hashes, format-valid fakes.

Pseudonyms follow CONTRACT.md §9: ``<CLASS_xxxxxxxx>`` with the upper-case class tail and
32 bits of HMAC-SHA256 under the pseudonym key, longer when two different values of one
request would collide. The same value always gets the same pseudonym, so a conversation's
history stays consistent across calls.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from bastion.crypto.keyring import Keyring
from bastion.transform.synthesize import fakes_in, synthesize

STRIPPED = "[content removed by policy]"
"""What a stripped region (an injection) leaves, so the model knows text was removed."""
RESTORED = frozenset({"pseudonymise", "synthesize"})
_HEX_STEPS = (8, 12, 16, 24, 32, 64)


def class_tail(data_class: str) -> str:
    """``pii.email`` → ``EMAIL``; ``secret.aws_access_key`` → ``AWS_ACCESS_KEY``."""
    tail = data_class.split(".", 1)[1] if "." in data_class else data_class
    return "".join(c if c.isalnum() else "_" for c in tail.upper())


class Replacements:
    """Issues replacements for one call and remembers which ones to restore.

    ``texts``: the call's texts as the caller wrote them. A synthesized fake never equals
    a fake-shaped string already among them (``203.0.113.110`` in the caller's own
    example): the model could not tell the two apart, and restoration would turn both
    into the original."""

    def __init__(self, keyring: Keyring, texts: Sequence[str] = ()) -> None:
        self._keyring = keyring
        self._texts = texts
        self._reserved: set[str] | None = None  # fake-shaped strings of ``texts``
        self._issued: dict[str, str] = {}  # replacement → original (restored ones only)
        self._by_value: dict[tuple[str, str, str], str] = {}

    @property
    def restorations(self) -> dict[str, str]:
        return self._issued

    def replace(self, transform: str, data_class: str, value: str) -> str:
        key = (transform, data_class, value)
        known = self._by_value.get(key)
        if known is not None:
            return known
        if transform == "drop":
            out = ""
        elif transform == "strip":
            out = STRIPPED
        elif transform == "mask":
            out = f"[{class_tail(data_class)}]"
        elif transform == "hash":
            digest = self._keyring.pseudonym_digest("hash:" + data_class, value).hex()
            out = f"[{class_tail(data_class)}:{digest[:12]}]"
        elif transform == "synthesize" and synthesize(data_class, b"\0" * 32) is not None:
            out = self._unique(
                lambda extra: (
                    synthesize(
                        data_class, self._keyring.pseudonym_digest(data_class + extra, value)
                    )
                    or ""
                ),
                value,
                self._written(),
            )
        else:  # pseudonymise, and synthesize for classes without a fake generator
            digest = self._keyring.pseudonym_digest(data_class, value).hex()
            tail = class_tail(data_class)
            out = self._unique(lambda extra: f"<{tail}_{digest[: _HEX_STEPS[len(extra)]]}>", value)
        self._by_value[key] = out
        if transform in RESTORED:
            self._issued[out] = value
        return out

    def _written(self) -> set[str]:
        if self._reserved is None:
            self._reserved = set().union(*(fakes_in(text) for text in self._texts))
        return self._reserved

    def _unique(
        self, make: Callable[[str], str], value: str, reserved: Collection[str] = ()
    ) -> str:
        """The first candidate not already standing for a different value in this call,
        nor among ``reserved`` (strings the caller wrote)."""
        for attempt in range(len(_HEX_STEPS)):
            candidate = make("+" * attempt)
            holder = self._issued.get(candidate)
            if holder == value or (holder is None and candidate not in reserved):
                return candidate
        # small fake spaces (100 phone numbers) can run out: fall back to a pseudonym
        digest = self._keyring.pseudonym_digest("fallback", value).hex()
        return f"<VALUE_{digest[:16]}>"
