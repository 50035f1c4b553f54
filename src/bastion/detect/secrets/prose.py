"""Passwords and keys stated in conversational prose, unquoted: "my wifi password is
Sunny#88", "my API key is <generated value>".

People paste credentials into chat as sentences, not as code. The sentence shape alone
("the password is …") is common in ordinary questions ("the password is too short"),
so the value decides: it must look like something a person chose as a password rather
than a word, a number range or a format name. It needs a letter and a digit or a symbol
(or six or more digits), may not be a known English word or a name made of words, and
must end the clause (punctuation, end of line, or a joining word such as "and").
Quoted values in the same sentences are the keyword grammar's (``assignments``).
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.checks import generated, password
from bastion.detect.secrets.rows import row
from bastion.detect.secrets.values import (
    has_expansion,
    is_code_reference,
    is_fragment,
    is_placeholder,
)
from bastion.detect.secrets.words import is_word, is_word_name

# "password is", "passcode was", "pwd:", "pw:", "password to" (set/changed the password
# to …), "password for the router:", "Password - …"; "=" is code, which the keyword
# grammar reads with its variable and call checks.
_LEAD = (
    r"(?i:\b(?:pass(?:word|phrase|code)|pwd|pw)(?:\s+for\s+[^:\r\n\"'`]{1,40}?)?"
    r"\s*(?:is|was|to|:|\s-)\s*:?)\s+"
)
# "my API key is …", "here's the token: …": generated values only (see ``prose_key``).
_KEY_LEAD = (
    r"(?i:\b(?:api[ _\-]?key|access[ _\-]?key|secret[ _\-]?key|token|client[ _\-]?secret)"
    r"\s*(?:is|was|:|\s-)\s*:?)\s+"
)
# At least one digit or symbol inside, so that plain words ("too", "incorrect") are not
# even candidates; the validator checks length and the rest of the shape.
_CHAR = r"""[^\s"'`<>()\[\]{}]"""
_VALUE = "(" + _CHAR + "*?" + r"[0-9!@#$%^&*+=~?|\\/_\-]" + _CHAR + "*?)"
# The clause ends after the value: punctuation, a line end, or a joining word.
_CLAUSE_END = (
    r"(?:[.,;:!?]+(?:\s|$)|[ \t]*(?:[\r\n]|$)|\s+(?i:and|but|for|on|at|in|if|so|please|"
    r"thanks|thank|or|with|from|via|then)\b)"
)
_SYMBOLS = frozenset("!@#$%^&*_+=~?|/\\-.,;:")


def _trimmed(value: str) -> str:
    return value.rstrip(".,;:!?")


def _chosen(value: str) -> bool:
    """Shaped like a chosen password: a letter plus a digit or symbol, or 6+ digits."""
    if value.isdigit():
        return len(value) >= 6
    has_letter = any(char.isalpha() for char in value)
    has_digit = any(char.isdigit() for char in value)
    has_symbol = any(char in _SYMBOLS for char in value if char not in "-.")
    return has_letter and (has_digit or has_symbol)


def _reference(value: str) -> bool:
    """``$VAR``/``super$ecret`` expansions, ``config.db_pw2`` attribute paths, ``env.X``
    lookups, file paths and URLs (``pwd: /home/ci``)."""
    expansion = has_expansion(value)
    dotted = "." in value and all(part.isidentifier() for part in value.split("."))
    return expansion or dotted or is_code_reference(value) or is_fragment(value)


def prose_password(value: str) -> Mapping[str, str] | None:
    """An unquoted value after "password is": chosen-looking, not a word, a placeholder
    or a reference to somewhere else."""
    value = _trimmed(value)
    if (
        not 4 <= len(value) <= 64
        or not _chosen(value)
        or is_placeholder(value)
        or _reference(value)
    ):
        return None
    if is_word(value.lower()) or is_word_name(value):
        return None
    return password(value)


def prose_key(value: str) -> Mapping[str, str] | None:
    """An unquoted value after "my API key is": it must look generated."""
    return generated(16)(_trimmed(value))


CLASSES: Mapping[str, str] = {}

PATTERNS: tuple[Pattern, ...] = (
    row(
        "generic",
        "password",
        _LEAD + _VALUE + _CLAUSE_END,
        data_class="generic_password",
        group=1,
        validator=prose_password,
        score=0.7,
        name="password_prose_bare",
    ),
    row(
        "generic",
        "api_key",
        _KEY_LEAD + r"([A-Za-z0-9_\-./+=:]{16,200}?)" + _CLAUSE_END,
        data_class="generic_api_key",
        group=1,
        validator=prose_key,
        score=0.7,
        name="api_key_prose_bare",
    ),
)
