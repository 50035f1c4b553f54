"""The secret scanner as the secrets format tables use it, and the tokens those tables
generate: characters drawn from an alphabet with a fixed seed, so every row states the
format it tests and no value is ever copied from a real leak."""

from __future__ import annotations

import random
import string
from functools import cache

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns

ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
THRESHOLD = 0.5  # the score a finding needs to count as found


def r(alphabet: str, n: int, seed: int = 11) -> str:
    """``n`` characters of ``alphabet``, the same on every run for one ``seed``."""
    rng = random.Random(f"{seed}-{n}-{alphabet}")
    return "".join(rng.choice(alphabet) for _ in range(n))


@cache
def engine() -> Engine:
    """An engine with every secret pattern, built once."""
    return Engine(secret_patterns())


def hits(text: str) -> list[Hit]:
    """The secrets found in ``text`` at or above ``THRESHOLD``."""
    return [h for h in engine().scan(text) if h.score >= THRESHOLD]


def found(text: str) -> set[tuple[str, str]]:
    """What ``hits`` finds in ``text``, as (data class, value) pairs."""
    return {(h.data_class, h.value) for h in hits(text)}
