"""Is a candidate value a name made of words (``RefreshTokenExpired``) rather than a key?

Generated credentials are random draws from an alphabet; identifiers, labels and enum
values are English words glued by case or separators. A value whose every segment is a
known word is a name, whatever its length or entropy. The vocabulary is the project's
common-English list plus the technical words that identifiers are built from; the list
is imported on first use, so importing the secret catalogues stays cheap.
"""

from __future__ import annotations

import functools

# Words that identifiers and config names are made of but that a general English list
# lacks (it is drawn from prose, not code).
_TECH = """
    api apis auth oauth oidc saml sso jwt jwks bearer token tokens refresh refreshed expired
    expires expiry expiration revoked rotate rotated rotation config configs conf prod
    production staging stage dev develop env envs environment header headers url uri urls
    endpoint endpoints webhook webhooks callback redirect login logout signin signup
    authorization authorize authorized authentication authenticate authenticated
    credential credentials creds passwd pwd username userid tenant tenants sandbox live
    namespace cluster kube kubernetes docker registry repo repos github gitlab bitbucket
    aws gcp azure cloud bucket buckets storage db sql postgres mysql redis mongo cache
    queue topic stream lambda func function handler service services svc client clients
    server backend frontend app apps admin admins internal external public private
    readonly readwrite scope scopes grant grants role roles policy policies permission
    permissions provider providers plugin plugins module modules param params args arg
    var vars const enum impl init default defaults placeholder sample dummy fake mock
    invalid valid missing required optional unknown none null empty blank undefined
"""
TECH_WORDS: frozenset[str] = frozenset(_TECH.split())
_SUFFIXES = ("s", "es", "ed", "d", "ing", "er", "ers")


@functools.cache
def _vocabulary() -> frozenset[str]:
    from bastion.detect.entities.english import COMMON_WORDS

    return COMMON_WORDS | TECH_WORDS


def is_word(segment: str) -> bool:
    """``segment`` (lower case) is a known word, or one with a plain inflection."""
    words = _vocabulary()
    if segment in words:
        return True
    return any(
        segment.endswith(suffix) and segment[: -len(suffix)] in words
        for suffix in _SUFFIXES
        if len(segment) > len(suffix) + 2
    )


def segments(value: str) -> list[str]:
    """Split at separators and case changes: ``getAPIKey_v2`` → ``get``, ``API``, ``Key``,
    ``v`` (digits separate too)."""
    parts: list[str] = []
    start = -1
    for index, char in enumerate(value):
        if not char.isalpha():
            if start >= 0:
                parts.append(value[start:index])
            start = -1
            continue
        if start < 0:
            start = index
            continue
        previous = value[index - 1]
        following = value[index + 1] if index + 1 < len(value) else ""
        camel = previous.islower() and char.isupper()
        acronym_end = previous.isupper() and char.isupper() and following.islower()
        if camel or acronym_end:
            parts.append(value[start:index])
            start = index
    if start >= 0:
        parts.append(value[start:])
    return parts


def is_word_name(value: str) -> bool:
    """Letters only, two or more segments, each a known word of two or more letters:
    ``StagingServiceAccountKey``, ``refresh-token-expired``, ``Access_Token``."""
    if any(char.isdigit() for char in value):
        return False
    parts = segments(value)
    return len(parts) >= 2 and all(len(p) >= 2 and is_word(p.lower()) for p in parts)


def has_word_segment(value: str, min_length: int = 4) -> bool:
    """Some segment of ``min_length`` letters or more is a known word (``hmacDigest256``,
    ``userInputPwd2``): how variables are named. Random keys split into short humps
    (``Wq4Zt8Lm2Xv6``) and almost never spell a word that long."""
    return any(len(part) >= min_length and is_word(part.lower()) for part in segments(value))
