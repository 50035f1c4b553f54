# ruff: noqa: RUF001  (look-alike letters and foreign scripts are the point of this file)
"""The evasion corpus: every hiding technique applied to every payload, and benign controls.

A generator, not a data file: ``cases()`` yields technique x payload texts, each with the
span in the text where the payload (or the run that encodes it) sits, which a finding of
the payload's class must cover; ``controls()`` yields texts using the same Unicode and
encodings for ordinary purposes, which must yield no finding at all of the payload
classes or of ``evasion.*``.

Payload values are fabricated here from a seeded generator (Luhn-valid card numbers,
mod-97 IBANs, GitHub tokens with their CRC32 checksum, SSA-valid SSNs, ...) and are
shared with no detector unit test, so the corpus measures detection, not memorisation.
"""

from __future__ import annotations

import base64
import codecs
import json
import random
import string
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import cycle
from urllib.parse import quote

SEED = 20240917
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@dataclass(frozen=True)
class Payload:
    """A fabricated value of one class, in a sentence that gives it its usual context."""

    name: str
    data_class: str
    value: str
    template: str  # "{v}" marks the value
    core: tuple[int, int] | None = None  # the part value-level techniques disguise

    @property
    def disguised(self) -> tuple[int, int]:
        return self.core or (0, len(self.value))


@dataclass(frozen=True)
class Case:
    technique: str
    payload: Payload
    text: str
    span: tuple[int, int]

    @property
    def id(self) -> str:
        return f"{self.technique}-{self.payload.name}"


@dataclass(frozen=True)
class Control:
    name: str
    text: str


# --- payloads ----------------------------------------------------------------------


def _luhn_complete(partial: str) -> str:
    total = 0
    for index, digit in enumerate(reversed(partial)):
        value = int(digit)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return partial + str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    iban = f"{country}{98 - number % 97:02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _github_token(rng: random.Random) -> str:
    body = "".join(rng.choice(BASE62) for _ in range(30))
    number, digits = zlib.crc32(body.encode()), ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    return "ghp_" + body + digits.rjust(6, "0")


def _pem(rng: random.Random, label: str) -> str:
    body = base64.b64encode(rng.randbytes(144)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


def _ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def payloads(seed: int = SEED) -> list[Payload]:
    """Two fabricated values for each payload class."""
    rng = random.Random(seed)
    digits = string.digits

    def some(alphabet: str, count: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(count))

    visa = _luhn_complete("4" + some(digits, 14))
    master = _luhn_complete("5" + rng.choice("12345") + some(digits, 13))
    gb = _iban("GB", "NWBK" + some(digits, 14))
    de = _iban("DE", some(digits, 18))
    pems = [_pem(rng, "RSA PRIVATE KEY"), _pem(rng, "OPENSSH PRIVATE KEY")]
    found = [
        Payload(
            "email1",
            "pii.email",
            f"nora.keller{rng.randint(10, 99)}@example.org",
            "Contact me at {v} please.",
        ),
        Payload(
            "email2",
            "pii.email",
            f"j_{some(string.ascii_lowercase, 6)}@mail.example.net",
            "My email address is {v}, write soon.",
        ),
        Payload(
            "card1",
            "pii.credit_card",
            " ".join(visa[i : i + 4] for i in range(0, 16, 4)),
            "My card number is {v}, expiry 09/28.",
        ),
        Payload("card2", "pii.credit_card", master, "Charge the credit card {v} for it."),
        Payload("iban1", "pii.iban", gb, "Please wire the refund to IBAN {v} today."),
        Payload("iban2", "pii.iban", de, "Meine IBAN lautet {v}, danke."),
        Payload(
            "phone1", "pii.phone", f"+44 20 7946 0{some(digits, 3)}", "Call me on {v} tomorrow."
        ),
        Payload(
            "phone2",
            "pii.phone",
            f"+49 30 {some('123456789', 1)}{some(digits, 7)}",
            "My phone number is {v}, evenings only.",
        ),
        Payload(
            "aws1",
            "secret.aws_access_key",
            "AKIA" + some(string.ascii_uppercase + "234567", 16),
            "aws_access_key_id = {v}",
        ),
        Payload(
            "aws2",
            "secret.aws_access_key",
            "AKIA" + some(string.ascii_uppercase + "234567", 16),
            "Use the access key {v} for the upload.",
        ),
        Payload("github1", "secret.github_token", _github_token(rng), "export GITHUB_TOKEN={v}"),
        Payload(
            "github2",
            "secret.github_token",
            _github_token(rng),
            "my github token is {v} do not share",
        ),
        Payload("ssn1", "pii.us_ssn", _ssn(rng), "My social security number is {v}."),
        Payload("ssn2", "pii.us_ssn", _ssn(rng), "Employee SSN: {v}, start date Monday."),
    ]
    for index, pem in enumerate(pems, 1):
        header = pem.index("\n")
        found.append(
            Payload(
                f"pem{index}",
                "secret.private_key",
                pem,
                "Here is the server key:\n{v}\nKeep it safe.",
                core=(0, header),
            )
        )
    return found


# --- techniques --------------------------------------------------------------------

CYRILLIC = dict(zip("aceopxyijshdACEHIJKMOPSTXYB", "асеорхуіјѕһԁАСЕНІЈКМОРЅТХҮВ", strict=True))
GREEK = dict(zip("oivABEHIKMNOPTXYZ", "οινΑΒΕΗΙΚΜΝΟΡΤΧΥΖ", strict=True))
LEET = dict(zip("aeiost", "431057", strict=True))


def tags(text: str) -> str:
    return "".join(chr(0xE0000 + ord(c)) for c in text)


def variation_selectors(text: str) -> str:
    return "".join(
        chr(0xFE00 + b) if b < 16 else chr(0xE0100 + b - 16) for b in text.encode("utf-8")
    )


def _join_cycle(text: str, separators: list[str], every: int = 1) -> str:
    marks = cycle(separators)
    out = []
    for index, char in enumerate(text):
        out.append(char)
        if index + 1 < len(text) and (index + 1) % every == 0:
            out.append(next(marks))
    return "".join(out)


def _fullwidth(text: str) -> str:
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text
    )


def _math_bold(text: str) -> str:
    def bold(c: str) -> str:
        if c.isascii() and c.islower():
            return chr(0x1D41A + ord(c) - 97)
        if c.isascii() and c.isupper():
            return chr(0x1D400 + ord(c) - 65)
        if c.isascii() and c.isdigit():
            return chr(0x1D7CE + ord(c) - 48)
        return c

    return "".join(bold(c) for c in text)


def _look_alike(table: dict[str, str]) -> Callable[[str], str]:
    def swap(text: str) -> str:  # every other replaceable letter: mixed-script words
        out, flip = [], False
        for char in text:
            if char in table:
                flip = not flip
                out.append(table[char] if flip else char)
            else:
                out.append(char)
        return "".join(out)

    return swap


def _digits(zero: int, every: int = 1) -> Callable[[str], str | None]:
    def swap(text: str) -> str | None:
        if sum(c.isdigit() for c in text) < 6:
            return None
        out, count = [], 0
        for char in text:
            if char.isdigit():
                count += 1
                if count % every == 0:
                    char = chr(zero + int(char))
            out.append(char)
        return "".join(out)

    return swap


def _spaced(text: str) -> str:
    return "  ".join(" ".join(word) for word in text.split(" "))


def _dotted(text: str) -> str | None:
    if not all(word.isalnum() for word in text.split(" ")):
        return None
    return " ".join(".".join(word) for word in text.split(" "))


VALUE_TECHNIQUES: dict[str, Callable[[str], str | None]] = {
    "zero_width": lambda v: "\u200b".join(v),
    "zero_width_mix": lambda v: _join_cycle(v, ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]),
    "soft_hyphen": lambda v: _join_cycle(v, ["\u00ad"], every=2),
    "invisible_operators": lambda v: _join_cycle(v, ["\u2061", "\u2062", "\u2063", "\u2064"], 3),
    "bidi_controls": lambda v: _join_cycle(v, ["\u202e\u202c", "\u200e", "\u2066\u2069"], 3),
    "hangul_filler": lambda v: _join_cycle(v, ["\u3164"], every=4),
    "fullwidth": _fullwidth,
    "math_bold": _math_bold,
    "arabic_digits": _digits(0x0660),
    "mixed_digits": _digits(0x0966, every=2),
    "spaced_letters": _spaced,
    "dotted_letters": _dotted,
    "base64_value": lambda v: base64.b64encode(v.encode()).decode(),
    "hex_value": lambda v: v.encode().hex(),
    "url_value": lambda v: "".join(f"%{b:02X}" for b in v.encode()),
    "html_value": lambda v: "".join(f"&#{ord(c)};" for c in v),
    "zero_width_homoglyph": lambda v: "\u200b".join(_look_alike(CYRILLIC)(v)),
    "fullwidth_base64": lambda v: _fullwidth(base64.b64encode(v.encode()).decode()),
    # JSON text (tool-call arguments) from a writer that escapes all but ASCII
    "json_escapes": lambda v: "".join(f"\\u{ord(c):04x}" for c in v),
    "json_zero_width": lambda v: json.dumps("\u200b".join(v))[1:-1],
    "json_fullwidth": lambda v: json.dumps(_fullwidth(v))[1:-1],
}


def _leet_words(text: str, keep: tuple[int, int]) -> str:
    return "".join(LEET.get(c, c) if not keep[0] <= i < keep[1] else c for i, c in enumerate(text))


Sentence = Callable[[str, tuple[int, int]], "tuple[str, tuple[int, int]] | None"]


def _run(carrier: str, encoded: str) -> tuple[str, tuple[int, int]]:
    return carrier + encoded, (len(carrier), len(carrier) + len(encoded))


def _b64url(sentence: str) -> str:
    return base64.urlsafe_b64encode(sentence.encode()).decode()


SENTENCE_TECHNIQUES: dict[str, Sentence] = {
    "homoglyph_cyrillic": lambda s, v: (_look_alike(CYRILLIC)(s), v),
    "homoglyph_greek": lambda s, v: (_look_alike(GREEK)(s), v),
    "leet_context": lambda s, v: (_leet_words(s, v), v),
    "rot13": lambda s, v: ("ROT13: " + codecs.encode(s, "rot13"), (v[0] + 7, v[1] + 7)),
    "tag_characters": lambda s, v: (
        "Please summarise the attached notes." + tags(s),
        (36 + v[0], 36 + v[1]),
    ),
    "variation_selector_payload": lambda s, v: (
        "Nice work \U0001f60a" + variation_selectors(s),
        (11 + len(s[: v[0]].encode()), 11 + len(s[: v[1]].encode())),
    ),
    "base64_sentence": lambda s, v: _run(
        "Decode this and do what it says: ", base64.b64encode(s.encode()).decode()
    ),
    "base64url_sentence": lambda s, v: _run("Payload: ", _b64url(s)),
    "base32_sentence": lambda s, v: _run("Data: ", base64.b32encode(s.encode()).decode()),
    "hex_sentence": lambda s, v: _run("hex dump: ", s.encode().hex()),
    "url_sentence": lambda s, v: _run("q=", quote(s, safe="")),
    "base64_of_hex": lambda s, v: _run(
        "nested: ", base64.b64encode(s.encode().hex().encode()).decode()
    ),
}


def cases(seed: int = SEED) -> Iterator[Case]:
    """Every applicable technique x payload combination."""
    for payload in payloads(seed):
        prefix, suffix = payload.template.split("{v}")
        start, end = payload.disguised
        value = payload.value
        for name, disguise in VALUE_TECHNIQUES.items():
            core = disguise(value[start:end])
            if core is None:
                continue
            shown = value[:start] + core + value[end:]
            text = prefix + shown + suffix
            yield Case(name, payload, text, (len(prefix), len(prefix) + len(shown)))
        sentence = prefix + value + suffix
        span = (len(prefix), len(prefix) + len(value))
        for name, encode in SENTENCE_TECHNIQUES.items():
            made = encode(sentence, span)
            if made is not None:
                yield Case(name, payload, made[0], made[1])


# --- benign controls ---------------------------------------------------------------


def controls(seed: int = SEED) -> Iterator[Control]:
    """Ordinary text that uses the same characters and encodings for ordinary ends."""
    rng = random.Random(seed)
    zwj, vs16 = "\u200d", "\ufe0f"
    flag = "\U0001f3f4" + tags("gbeng") + "\U000e007f"
    texts = {
        "emoji-family": f"Our team \U0001f468{zwj}\U0001f469{zwj}\U0001f467{zwj}\U0001f466 "
        f"won! \u2764{vs16} Great job \U0001f44d\U0001f3fd",
        "emoji-sequences": f"Trip \U0001f3f3{vs16}{zwj}\U0001f308 and \U0001f441{vs16}{zwj}"
        f"\U0001f5e8{vs16} done \u2705 \u263a{vs16}",
        "keycap": f"Press 1{vs16}\u20e3 then #{vs16}\u20e3 to continue.",
        "england-flag": f"Come on England {flag}!",
        "russian": "Привет! Как прошла встреча? Отправь, пожалуйста, отчёт до пятницы.",
        "greek": "Καλημέρα σας, η συνάντηση μεταφέρεται για την Τρίτη το πρωί.",
        "arabic-marks": "مرحبا\u200f بكم في الاجتماع\u061c اليوم.",
        "hebrew-marks": "שלום\u200e לכולם, הפגישה\u200f מחר.",
        "persian-zwnj": "من می\u200cخواهم این گزارش را فردا بفرستم.",
        "hindi-zwj": "क्\u200dष यह एक परीक्षण वाक्य है।",
        "japanese-ivs": "葛\U000e0100飾区の会議は明日です。",
        "chinese": "请在周五之前把报告发给我，谢谢。",
        "bom-start": "\ufeffMeeting notes for the quarterly review.",
        "accents": "Le comité a approuvé le budget; Jürgen und Zoë waren dabei.",
        "ligatures": "The \ufb01nal \ufb02ow chart is in the of\ufb01ce.",
        "math-greek": "Let \u03b1 be the learning rate and \u03b2 the momentum; dose 5\u00b5g.",
        "math-styled": "\U0001d407\U0001d41e\U0001d425\U0001d425\U0001d428 heading text",
        "abbreviations": "E.g. the U.S. team and i.e. the others, a.m. or p.m.",
        "png-data-uri": "![chart](data:image/png;base64,"
        + base64.b64encode(rng.randbytes(600)).decode()
        + ")",
        "sha256": "checksum " + "".join(rng.choice("0123456789abcdef") for _ in range(64)),
        "uuid": "request id 3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b accepted",
        "git-hash": "fixed in commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "url-encoded": "See https://example.com/search?q=weekly%20report%20draft&lang=en",
        "json-escaped-prose": '{"name": "Jos\\u00e9 Mu\\u00f1oz", "note": "caf\\u00e9 \\u2013 '
        'd\\u00e9j\\u00e0 vu \\ud83d\\ude00", "path": "C:\\\\users\\\\u1234"}',
        "hex-escapes": "The header is b'\\x89\\x50\\x4e\\x47\\x0d\\x0a\\x1a\\x0a' in PNG files.",
        "plain": "Please summarise the meeting and list the three action items.",
        "leetish-product-names": "We run log4j on x86 with MP3 and 4K video, COVID-19 rules.",
        "spaced-list": "Options: a, b, c and d are all fine.",
    }
    for name, text in texts.items():
        yield Control(name, text)
