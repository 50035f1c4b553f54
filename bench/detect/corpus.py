"""The texts the detection benchmark scans, generated from a seed (same seed, same bytes).

Realistic mixed text: business prose with a few personal details sprinkled in (about
one sentence in seven carries a name, an e-mail address, a phone number, a payment card
or a city). Names, domains and numbers come from the small tables below, not from any
labelled data set; card numbers are Luhn-valid test numbers, phone numbers use ranges
reserved for fiction (555-01xx, Ofcom's 020 7946 0xxx).

Adversarial text: one long run of random digits, of ``@`` or of base64, to show how
scan time grows with length where a detector could go quadratic.

Machine text: what people paste when they ask about a failure or a file: log lines full
of random ids, base64 wrapped at 76 columns (MIME, PEM), hex digests one per line. A new
text for every call, as in real traffic: a pattern engine that caches automaton states
pays again for every text it has not seen, which one text scanned over and over hides.
"""

from __future__ import annotations

import base64
import random

SEED = 20261127
PERSONAL_SHARE = 0.15  # share of sentences carrying a personal detail (3-4 per 2 KB)
SIZES = (200, 2_048, 20_480, 204_800)  # bytes of UTF-8
ADVERSARIAL_KINDS = ("digits", "at-signs", "base64")
ADVERSARIAL_SIZES = (10_240, 102_400)
MACHINE_KINDS = ("logs", "base64-lines", "hex-lines")
MACHINE_SIZES = (2_048, 20_480)

_FIRST = (
    "Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiroshi", "Ingrid",
    "José", "Katarzyna", "Liam", "Mei", "Noah", "Olga", "Priya", "Rafael", "Sofia", "Tomás",
    "Zoë",
)  # fmt: skip
_LAST = (
    "Anderson", "Bianchi", "Chen", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lopez", "Müller", "Nakamura", "Okafor", "Patel", "Rossi", "Schmidt",
    "Tanaka", "Walsh",
)  # fmt: skip
_CITIES = ("Lisbon", "Toronto", "Osaka", "Nairobi", "Denver", "Krakow", "Melbourne", "Dublin")
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.co.uk")
_SUBJECTS = (
    "The quarterly review", "Our platform team", "The migration plan", "The vendor contract",
    "This week's release", "The support rota", "The capacity forecast", "The onboarding guide",
)  # fmt: skip
_VERBS = (
    "covers", "postpones", "summarises", "depends on", "replaces", "clarifies", "extends",
    "simplifies",
)  # fmt: skip
_OBJECTS = (
    "the storage budget for next year", "three open questions about latency",
    "the rollout to the remaining regions", "the on-call handover notes",
    "the test plan for the billing service", "a short list of risks and owners",
    "the metrics we agreed to track", "the feedback from the pilot customers",
)  # fmt: skip
_TAILS = (
    "", " before the end of the month", " in plain language", " with a table of dates",
    " for the steering group", " once the audit is done",
)  # fmt: skip


def _luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    separator = rng.choice((" ", "-", ""))
    return separator.join(text[i : i + 4] for i in range(0, 16, 4))


def _phone(rng: random.Random) -> str:
    n = rng.randrange(100)
    return rng.choice((f"+1 415 555 01{n:02d}", f"(212) 555-01{n:02d}", f"+44 20 7946 0{n:03d}"))


def _personal_sentence(rng: random.Random) -> str:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    name = f"{first} {last}"
    email = f"{first.lower()}.{last.lower()}@{rng.choice(_DOMAINS)}".encode("ascii", "ignore")
    kind = rng.randrange(5)
    if kind == 0:
        return f"Please send the draft to {name} at {email.decode()} by Friday."
    if kind == 1:
        return f"If anything breaks, call {name} on {_phone(rng)}."
    if kind == 2:
        return f"The refund goes back to the card {_luhn_card(rng)} used for the order."
    if kind == 3:
        return f"{name} joins the {rng.choice(_CITIES)} office next month."
    return f"Thanks to {name} for the notes from the {rng.choice(_CITIES)} workshop."


def _prose_sentence(rng: random.Random) -> str:
    parts = (rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS))
    return " ".join(parts) + rng.choice(_TAILS) + "."


def _cut(text: str, size: int) -> str:
    """The longest prefix of ``text`` of at most ``size`` UTF-8 bytes."""
    return text.encode("utf-8")[:size].decode("utf-8", "ignore")


def mixed_text(size: int, variant: int = 0, seed: int = SEED) -> str:
    """Prose of ``size`` UTF-8 bytes (±3) with personal details, deterministic per arguments."""
    rng = random.Random(f"{seed}:{size}:{variant}")
    sentences: list[str] = []
    length = 0
    while length < size:
        sentence = (
            _personal_sentence(rng) if rng.random() < PERSONAL_SHARE else _prose_sentence(rng)
        )
        sentences.append(sentence)
        length += len(sentence.encode("utf-8")) + 1
    return _cut(" ".join(sentences), size)


def machine_text(kind: str, size: int, index: int, seed: int = SEED) -> str:
    """Text ``index`` of ``size`` bytes of one machine kind (``MACHINE_KINDS``)."""
    rng = random.Random(f"{seed}:{kind}:{size}:{index}")
    if kind == "logs":
        lines: list[str] = []
        length = 0
        while length < size:
            line = (
                f"2026-11-27T{rng.randrange(24):02d}:{rng.randrange(60):02d}:"
                f"{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z "
                f"{rng.choice(('INFO', 'WARN', 'ERROR'))} req={rng.randbytes(8).hex()} "
                f"trace={rng.randbytes(16).hex()} user={rng.randbytes(3).hex()}@svc "
                f"path=/api/v1/items/{rng.randrange(100_000)} took={rng.random() * 100:.2f}ms"
            )
            lines.append(line)
            length += len(line) + 1
        return "\n".join(lines)[:size]
    if kind == "base64-lines":
        return base64.encodebytes(rng.randbytes(size))[:size].decode("ascii")
    if kind == "hex-lines":
        return "\n".join(rng.randbytes(32).hex() for _ in range(size // 65 + 1))[:size]
    raise ValueError(f"unknown machine kind {kind!r}; use one of {MACHINE_KINDS}")


def adversarial_text(kind: str, size: int, seed: int = SEED) -> str:
    """One unbroken run of ``size`` bytes: random digits, ``@`` signs or base64."""
    rng = random.Random(f"{seed}:{kind}:{size}")
    if kind == "digits":
        return "".join(rng.choices("0123456789", k=size))
    if kind == "at-signs":
        return "@" * size
    if kind == "base64":
        return base64.b64encode(rng.randbytes(size))[:size].decode("ascii")
    raise ValueError(f"unknown adversarial kind {kind!r}; use one of {ADVERSARIAL_KINDS}")
