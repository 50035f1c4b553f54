"""Content retention: which calls keep their text, in what form, and how it is sealed.

Modes (``audit.content``, per app, else per team, else the default):

* ``none`` — no text is kept, only the chained metadata (the default);
* ``redacted`` — the request as forwarded (after the policy's redactions) and the
  answer with this call's placeholders put back in place of the restored values:
  never the originals Bastion removed;
* ``encrypted`` — the original request and the answer as the caller received it,
  sealed with AES-256-GCM under the keyring's content key (key id stored beside it);
  readable only with ``bastion audit show ID --decrypt``;
* ``full`` — the same in plain text; for development and test deployments only.

Kept content is stored apart from the chained metadata under a *salted* digest:
HMAC-SHA256 under the deployment's fingerprint key over the request id, the mode and
the plain document. The completion record names the mode and digest, so the record
proves which content belonged to it, while purging or erasing content never breaks the
chain, and nobody without the key can test a guess (an SSN) against a digest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from bastion.config.schema import AuditContentConfig, ContentMode
from bastion.crypto.content import ContentUnreadable, seal, unseal
from bastion.crypto.keyring import Keyring
from bastion.errors import ConfigError
from bastion.model import Principal
from bastion.storage.audit_content import StoredContent

KEPT_MODES: tuple[ContentMode, ...] = ("redacted", "encrypted", "full")


class RetentionRules:
    """The content mode of a caller: its app's mode, else its team's, else the default."""

    def __init__(self, config: AuditContentConfig) -> None:
        self.default: ContentMode = config.default
        self._apps: dict[str, ContentMode] = dict(config.apps)
        self._teams: dict[str, ContentMode] = dict(config.teams)

    def mode_for(self, principal: Principal | None) -> ContentMode:
        if principal is None:
            return "none"
        if principal.app is not None and principal.app in self._apps:
            return self._apps[principal.app]
        if principal.team is not None and principal.team in self._teams:
            return self._teams[principal.team]
        return self.default

    @property
    def modes(self) -> frozenset[ContentMode]:
        """Every mode some caller can get."""
        return frozenset({self.default, *self._apps.values(), *self._teams.values()})


@dataclass(frozen=True, slots=True)
class CallContent:
    """The text of one call to keep: the request body (a JSON value) and the answer's
    texts (message content, tool-call arguments), each as one string."""

    request: Any
    answer: tuple[str, ...] = ()
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"request": self.request, "answer": list(self.answer), "truncated": self.truncated}

    def bounded(self, max_bytes: int) -> CallContent:
        """At most ``max_bytes`` bytes of text: the request first, then the answer; a
        request past the bound is kept as the start of its JSON text."""
        budget = max_bytes
        request: Any = self.request
        truncated = self.truncated
        encoded = orjson.dumps(request)
        if len(encoded) > budget:
            request = _cut(encoded.decode("utf-8"), budget)
            truncated = True
        budget -= min(len(encoded), budget)
        answer: list[str] = []
        for text in self.answer:
            size = len(text.encode("utf-8"))
            if size > budget:
                if budget:
                    answer.append(_cut(text, budget))
                truncated = True
                break
            answer.append(text)
            budget -= size
        return CallContent(request, tuple(answer), truncated)


def _cut(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


@dataclass(frozen=True, slots=True)
class OpenedContent:
    """Retained content made readable again, and whether it matches its digest."""

    mode: str
    document: dict[str, Any]
    intact: bool


class ContentSealer:
    """Seals content for storage (digest, and encryption in mode ``encrypted``) and opens it."""

    def __init__(self, ring: Keyring) -> None:
        self._ring = ring

    def seal(
        self,
        request_id: str,
        mode: ContentMode,
        content: CallContent,
        *,
        at: float,
        app: str | None = None,
        team: str | None = None,
        fingerprints: Iterable[str] = (),
    ) -> StoredContent:
        """The row to store for ``content`` kept under ``mode``."""
        if mode not in KEPT_MODES:
            raise ValueError(f"mode {mode!r} keeps no content")
        plain = orjson.dumps(content.to_json(), option=orjson.OPT_SORT_KEYS)
        digest = self._ring.content_digest(request_id, mode, plain.decode("utf-8"))
        key_id = None
        payload = plain.decode("utf-8")
        if mode == "encrypted":
            key_id, blob = seal(self._ring, plain, _associated(request_id, mode, digest))
            payload = base64.b64encode(blob).decode("ascii")
        return StoredContent(
            digest=digest,
            request_id=request_id,
            created_at=at,
            mode=mode,
            payload=payload,
            key_id=key_id,
            app=app,
            team=team,
            truncated=content.truncated,
            fingerprints=tuple(sorted(set(fingerprints))),
        )

    def open(self, stored: StoredContent) -> OpenedContent:
        """The readable document of stored content (decrypting ``encrypted`` content).

        Raises ``ContentUnreadable`` when the content key is missing or the blob was
        altered; ``intact`` says whether the document still matches its salted digest.
        """
        if stored.mode == "encrypted":
            if stored.key_id is None:
                raise ContentUnreadable("encrypted content without a content key id")
            try:
                blob = base64.b64decode(stored.payload, validate=True)
            except ValueError:
                raise ContentUnreadable("encrypted content is not valid base64") from None
            associated = _associated(stored.request_id, stored.mode, stored.digest)
            plain = unseal(self._ring, stored.key_id, blob, associated)
        else:
            plain = stored.payload.encode("utf-8")
        document = _document(plain)
        intact = self._ring.content_digest_matches(
            stored.digest, stored.request_id, stored.mode, plain.decode("utf-8")
        )
        return OpenedContent(stored.mode, document, intact)


def read_plain(stored: StoredContent) -> dict[str, Any]:
    """The document of plain (``redacted``, ``full``) content, unchecked: for a reader
    without the keyring, which the digest check needs."""
    if stored.mode == "encrypted":
        raise ContentUnreadable("encrypted content needs the content key: decrypt it")
    return _document(stored.payload.encode("utf-8"))


def _document(plain: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(plain)
    except orjson.JSONDecodeError:
        raise ContentUnreadable("stored content is not a JSON document") from None
    if not isinstance(document, dict):
        raise ContentUnreadable("stored content is not a JSON object")
    return document


def _associated(request_id: str, mode: str, digest: str) -> bytes:
    """AES-GCM associated data: a blob opens only on the record it was sealed for."""
    return "\x00".join((request_id, mode, digest)).encode("utf-8")


def content_reference(stored: StoredContent) -> dict[str, str]:
    """What the chained completion record says about its content: mode and digest."""
    return {"mode": stored.mode, "digest": stored.digest}


def check_keys(rules: RetentionRules, ring: Keyring) -> None:
    """ConfigError when a configured mode needs a key the keyring lacks (with
    PostgreSQL the ring is never extended automatically)."""
    if "encrypted" in rules.modes and not ring.has("content"):
        raise ConfigError(
            "audit.content uses mode encrypted but the keyring has no content key; add one "
            "with `bastion crypto rotate content` and give the file to every replica"
        )


def unrestore(texts: Iterable[str], restorations: Mapping[str, str]) -> tuple[str, ...]:
    """Texts with every restored original replaced by its placeholder again (longest
    first): the answer as the model wrote it, before placeholders were restored. Inside
    JSON (tool-call arguments, structured outputs) an original went back escaped as JSON
    string content, so that form is replaced too."""
    if not restorations:
        return tuple(texts)
    forms = []
    for placeholder, original in restorations.items():
        if not original:
            continue
        forms.append((original, placeholder))
        escaped = json.dumps(original, ensure_ascii=False)[1:-1]
        if escaped != original:
            forms.append((escaped, placeholder))
    pairs = sorted(forms, key=lambda pair: len(pair[0]), reverse=True)
    out = []
    for text in texts:
        for original, placeholder in pairs:
            if original in text:
                text = text.replace(original, placeholder)
        out.append(text)
    return tuple(out)
