"""Content retention in the pipeline: what a call's kept content is built from, and
where the gateway hands it over (docs/audit.md, "Content retention").

The gateway calls, for each call (all cheap no-ops for calls whose mode is ``none``):

1. ``content.draft(ctx, body, applied)`` once the body to forward is known;
2. ``ctx.content.answer_json(out)`` with a complete answer as the client gets it, or
   ``ctx.content.answer_chunk(chunk)`` with each streamed chunk the client gets;
3. ``content.keep(ctx)`` when the call ends, before its audit record is built: it
   seals the content, queues it for the store, and sets ``ctx.content_ref`` (mode and
   salted digest), which the completion record carries on the chain.

Calls refused before forwarding keep their original request in modes ``encrypted``
and ``full``; in ``redacted`` nothing was forwarded, so nothing is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import orjson

from bastion.audit import location as audit_location
from bastion.audit.checkpoints import Signer
from bastion.audit.content import (
    CallContent,
    ContentSealer,
    RetentionRules,
    check_keys,
    content_reference,
    unrestore,
)
from bastion.audit.retention import ContentPurger, ContentWriter
from bastion.config.schema import BastionConfig, ContentMode
from bastion.crypto.keyring import Keyring
from bastion.pipeline.answer_scan import answer_texts
from bastion.pipeline.context import CallContext
from bastion.pipeline.stream import StreamEvent
from bastion.pipeline.stream_hooks import TextKey, stream_text_fields
from bastion.storage.audit_content import AuditContentRepository, StoredContent
from bastion.storage.audit_events import AuditEventRepository
from bastion.storage.database import Database
from bastion.transform.base import AppliedTransform
from bastion.wire.sse import SseParser

log = logging.getLogger("bastion.pipeline")


class ContentCapture(Protocol):
    """What the gateway calls to keep content (``ContentKeeper``; ``NoContent`` keeps none)."""

    def draft(
        self, ctx: CallContext, body: Mapping[str, Any], applied: AppliedTransform | None
    ) -> None: ...

    def keep(self, ctx: CallContext) -> None: ...


class ContentSink(Protocol):
    """Where sealed content goes (``audit.retention.ContentWriter``)."""

    def submit(self, item: StoredContent) -> None: ...


class ContentDraft:
    """What one call's kept content is built from, gathered as the call goes (bounded
    by ``max_bytes`` of answer text)."""

    __slots__ = ("_parser", "_size", "_texts", "forwarded", "max_bytes", "mode", "restorations")

    def __init__(
        self,
        mode: ContentMode,
        max_bytes: int,
        forwarded: Mapping[str, Any] | None = None,
        restorations: Mapping[str, str] | None = None,
    ) -> None:
        self.mode = mode
        self.max_bytes = max_bytes
        self.forwarded = forwarded
        self.restorations: Mapping[str, str] = restorations or {}
        self._texts: dict[TextKey, list[str]] = {}
        self._size = 0
        self._parser: SseParser | None = None

    def answer_json(self, body: bytes) -> None:
        """A complete answer as the client receives it."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return
        if isinstance(payload, dict):
            for index, text in enumerate(answer_texts(payload)):
                self._add((index, 0), text)

    def answer_chunk(self, chunk: bytes) -> None:
        """One chunk of a streamed answer as the client receives it."""
        if self._size >= self.max_bytes:
            return
        if self._parser is None:
            self._parser = SseParser()
        for sse in self._parser.feed(chunk):
            event = StreamEvent(sse)
            payload = event.payload
            if isinstance(payload, dict):
                for key, target, name, _ in stream_text_fields(payload, event.event_type):
                    text = target.get(name)
                    if isinstance(text, str):
                        self._add(key, text)

    def _add(self, key: TextKey, text: str) -> None:
        if self._size < self.max_bytes and text:
            self._texts.setdefault(key, []).append(text)
            self._size += len(text)

    @property
    def answer(self) -> tuple[str, ...]:
        """The answer's texts, one per choice or tool call, in order of appearance."""
        return tuple("".join(parts) for parts in self._texts.values())


class ContentKeeper:
    """Keeps the content of calls whose app or team has a retention mode."""

    def __init__(
        self,
        rules: RetentionRules,
        sealer: ContentSealer,
        sink: ContentSink,
        *,
        max_bytes: int = 1 << 20,
        writer: ContentWriter | None = None,
        purger: ContentPurger | None = None,
    ) -> None:
        self.rules = rules
        self._sealer = sealer
        self._sink = sink
        self._max_bytes = max_bytes
        self._writer = writer
        self._purger = purger

    def draft(
        self, ctx: CallContext, body: Mapping[str, Any], applied: AppliedTransform | None
    ) -> None:
        """Start gathering the call's content once its forwarded body is known."""
        mode = self.rules.mode_for(ctx.principal)
        if mode == "none":
            return
        if mode == "redacted":
            restorations = applied.restorations if applied is not None else None
            ctx.content = ContentDraft(mode, self._max_bytes, body, restorations)
        else:
            ctx.content = ContentDraft(mode, self._max_bytes)

    def keep(self, ctx: CallContext) -> None:
        """Seal and queue the call's content (never raises: content is secondary to the
        call's record, which is written whatever happens here)."""
        draft = ctx.content
        mode = draft.mode if draft is not None else self.rules.mode_for(ctx.principal)
        if mode == "none" or ctx.principal is None:
            return
        try:
            content = _content_of(ctx, mode, draft)
            if content is None:
                return
            findings = (*ctx.findings, *ctx.answer_findings)
            stored = self._sealer.seal(
                ctx.call.request_id,
                mode,
                content.bounded(self._max_bytes),
                at=time.time(),
                app=ctx.principal.app,
                team=ctx.principal.team,
                fingerprints=(f.fingerprint for f in findings if f.fingerprint),
            )
        except Exception as exc:  # a bug or a missing key: the record says so, no text
            log.error(
                "content of request %s not kept (%s)", ctx.call.request_id, type(exc).__name__
            )
            ctx.content_ref = {"mode": mode, "error": type(exc).__name__}
            return
        self._sink.submit(stored)
        ctx.content_ref = content_reference(stored)

    async def start(self) -> None:
        """Start the content writer and the purge job (the gateway's lifespan)."""
        if self._writer is not None:
            self._writer.start()
        if self._purger is not None:
            self._purger.start()

    async def close(self) -> None:
        """Stop purging; write what is queued (before the database closes)."""
        if self._purger is not None:
            await self._purger.close()
        if self._writer is not None:
            await self._writer.close()


def _content_of(
    ctx: CallContext, mode: ContentMode, draft: ContentDraft | None
) -> CallContent | None:
    answer = draft.answer if draft is not None else ()
    if mode == "redacted":
        if draft is None or draft.forwarded is None:
            return None  # nothing was forwarded: nothing "as forwarded" to keep
        return CallContent(draft.forwarded, unrestore(answer, draft.restorations))
    request = ctx.parsed.body if ctx.parsed is not None else None
    if request is None and not answer:
        return None
    return CallContent(request, answer)


class NoContent:
    """No content is kept for any call (tests; a gateway without retention)."""

    def draft(
        self, ctx: CallContext, body: Mapping[str, Any], applied: AppliedTransform | None
    ) -> None:
        return None

    def keep(self, ctx: CallContext) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def build_content_keeper(
    config: BastionConfig,
    database: Database,
    keyring: Keyring,
    signer: Signer | None = None,
    checkpoint_file: Path | None = None,
) -> ContentKeeper:
    """The gateway's content retention from ``audit.content`` (ConfigError when a mode
    needs a key the keyring lacks)."""
    settings = config.audit.content
    rules = RetentionRules(settings)
    check_keys(rules, keyring)
    repository = AuditContentRepository(database)
    writer = ContentWriter(repository)
    purger = ContentPurger(
        repository,
        database,
        retention_days=settings.retention_days,
        interval_s=settings.purge_interval_s,
        admin_chain=AuditEventRepository(database),
        signer=signer,
        checkpoint_file=checkpoint_file or audit_location.checkpoint_file(config),
    )
    return ContentKeeper(
        rules,
        ContentSealer(keyring),
        writer,
        max_bytes=settings.max_bytes,
        writer=writer,
        purger=purger,
    )
