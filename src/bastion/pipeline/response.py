"""The answer side: finishing a JSON answer and the hooks that stream relays run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from bastion.errors import UpstreamFailed
from bastion.model import Endpoint, Usage
from bastion.pipeline.answer_scan import (
    AnswerScan,
    AnswerScanHook,
    answer_fields,
    free_text_fields,
)
from bastion.pipeline.context import CallContext
from bastion.pipeline.output_guard import OutputGuard, OutputGuardHook
from bastion.pipeline.stream import StreamEvent, StreamHook
from bastion.pipeline.stream_hooks import (
    ModelRewriteHook,
    ReplaceTextHook,
    UsageObserver,
    cited_annotations,
    shift_annotations,
    unreadable_content,
)
from bastion.pipeline.tool_call_stream import tool_call_hook
from bastion.pipeline.tool_calls import ToolCallGuard, enforce_json
from bastion.providers.upstream_errors import PASSTHROUGH_CODES, scrub_message
from bastion.transform.base import AppliedTransform
from bastion.wire.request import ParsedRequest
from bastion.wire.usage import usage_of

_CHARS_PER_TOKEN = 4  # conservative estimate when the upstream reports no usage
# a tuple, not ``dict | list``: the union is built anew each time it is evaluated, once
# per value of an answer in ``strip_logprobs`` (~2 µs of its ~5 µs on a chat answer)
_CONTAINERS = (dict, list)


def read_json_answer(raw: bytes, parsed: ParsedRequest | None) -> tuple[dict[str, Any], Usage]:
    """The upstream's complete answer and its usage (read first: whatever happens to the
    answer next, the tokens were billed and must be settled). An answer without a usable
    ``usage`` is estimated from the request and the whole body (an upper bound of its
    text), as a stream without usage is from the text relayed (B2)."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamFailed("The upstream answered with a body that is not JSON.") from None
    if not isinstance(payload, dict):
        raise UpstreamFailed("The upstream answered with an unexpected body.")
    return payload, usage_of(payload.get("usage")) or estimate_usage(parsed, len(raw))


def finish_json_body(
    raw: bytes,
    payload: dict[str, Any],
    public_model: str,
    applied: AppliedTransform | None,
    answer_scan: AnswerScan | OutputGuard | None = None,
    tool_guard: ToolCallGuard | None = None,
) -> bytes:
    """The body the client gets: the model's own text scanned (before placeholders are
    restored), the public model name shown, placeholders restored, then tool calls
    checked on the arguments the client will run. ``raw`` goes out unchanged when
    nothing changed. Raises :class:`PermissionDenied` when the answer is refused, and
    :class:`UpstreamFailed` when it holds content no scan can read."""
    _refuse_unreadable(payload.get("choices"), "message")
    changed = answer_scan is not None and answer_scan.apply_json(payload)
    if payload.get("model", public_model) != public_model:
        payload["model"] = public_model
        changed = True
    if applied is not None and applied.restorations:
        restorer = ReplaceTextHook(applied.restorations)
        changed = restore_answer(payload, restorer, json_text=applied.json_answer) or changed
    if tool_guard is not None and enforce_json(payload, tool_guard):
        changed = True
    if hides_logprobs(applied, answer_scan) and strip_logprobs(payload):
        changed = True
    if failed_response_code(payload) is not None:  # the upstream's words never pass (§5)
        UpstreamErrors(public_model).reword_response(payload)
        changed = True
    return orjson.dumps(payload) if changed else raw


def failed_response_code(payload: dict[str, Any]) -> str | None:
    """The error code of a complete Responses object whose ``status`` is ``failed`` (its
    tokens were billed, so it is an answer to settle, recorded as failed); else None."""
    if payload.get("object") != "response" or payload.get("status") != "failed":
        return None
    error = payload.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else "upstream_error"


def restore_answer(
    payload: dict[str, Any], restorer: ReplaceTextHook, *, json_text: bool = False
) -> bool:
    """Restore placeholders in a complete chat or Responses answer; True if any changed.
    ``json_text``: the answer's text is a JSON document (structured output), so the
    originals are escaped there as they are in tool-call arguments."""
    changed = False

    def restore(holder: dict[str, Any], key: str, json_string: bool) -> None:
        nonlocal changed
        text = holder.get(key)
        if not isinstance(text, str):
            return
        annotations = cited_annotations(holder, key)
        if annotations is not None:
            restored, edits = restorer.replace_with_edits(text, json_string=json_string)
            shift_annotations(annotations, edits)
        else:
            restored = restorer.replace(text, json_string=json_string)
        if restored != text:
            holder[key] = restored
            changed = True

    for holder, name in answer_fields(payload):
        restore(holder, name, json_text or name == "arguments")
    for holder, name in free_text_fields(payload):
        restore(holder, name, False)
    return changed


class JsonAnswerRestorer(ReplaceTextHook):
    """Restores placeholders in an answer that is a JSON document (structured output):
    a placeholder stands inside a JSON string there, so its original goes back escaped
    (a raw newline or quote would leave the client a document that does not parse)."""

    def on_window(self, choice_index: int, text: str) -> str:
        return self.replace_window(text, json_string=True)


def answer_restorer(applied: AppliedTransform) -> ReplaceTextHook:
    """The hook restoring this call's placeholders, in prose or in a JSON answer."""
    if applied.json_answer:
        return JsonAnswerRestorer(applied.restorations)
    return ReplaceTextHook(applied.restorations)


def hides_logprobs(
    applied: AppliedTransform | None, answer_scan: AnswerScan | OutputGuard | None
) -> bool:
    """Whether the answer's logprobs must go: they repeat its text token by token as the
    model wrote it, so once output rules may redact that text, or placeholders are
    restored in it, they would show the client what was redacted, or the placeholders."""
    return isinstance(answer_scan, OutputGuard) or (
        applied is not None and bool(applied.restorations)
    )


def strip_logprobs(value: Any) -> bool:
    """Empty every ``logprobs`` of an answer or a stream event, in place (chat: null,
    Responses: ``[]``, the shapes of an answer without them); True if any changed."""
    changed = False
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "logprobs" and isinstance(item, dict):
                value[key] = None
                changed = True
            elif key == "logprobs" and isinstance(item, list):
                if item:
                    value[key] = []
                    changed = True
            elif isinstance(item, _CONTAINERS):
                changed = strip_logprobs(item) or changed
    elif isinstance(value, list):
        for item in value:
            changed = strip_logprobs(item) or changed
    return changed


class LogprobsStripHook:
    """Empties the logprobs of every event (see :func:`hides_logprobs` for when)."""

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        if strip_logprobs(event.payload):
            event.mark_changed()
        return (event,)

    def on_end(self) -> Sequence[StreamEvent]:
        return ()


def estimate_usage(parsed: ParsedRequest | None, answer_chars: int) -> Usage:
    """A conservative estimate (4 characters a token) when the upstream reported none."""
    prompt_chars = parsed.conversation.text_chars if parsed else 0
    return Usage(
        prompt_tokens=-(-prompt_chars // _CHARS_PER_TOKEN),
        completion_tokens=-(-answer_chars // _CHARS_PER_TOKEN),
        estimated=True,
    )


def _strip_usage(event: StreamEvent) -> bool:
    """Remove usage the client did not ask for; True when the whole event goes."""
    payload = event.payload
    if isinstance(payload, dict) and "usage" in payload:
        if payload.get("choices") == [] and payload["usage"] is not None:
            return True
        del payload["usage"]
        event.mark_changed()
    return False


class UpstreamErrors:
    """Upstream error events mid-stream reach the client in Bastion's words (CONTRACT §5).

    The upstream's message passes only for allow-listed codes, scrubbed like any
    upstream message; the call is then recorded as failed with that code.
    """

    def __init__(self, public_model: str) -> None:
        self.public_model = public_model
        self.error_code: str | None = None

    def reword(self, event: StreamEvent) -> None:
        """Rewrite an error event in place; other events are left alone."""
        payload = event.payload
        if not isinstance(payload, dict):
            return
        if isinstance(payload.get("error"), dict) and "choices" not in payload:
            payload["error"] = self._safe(payload["error"])  # chat dialect
        elif payload.get("type") == "error":
            payload.update(self._safe(payload, keys=("code", "message", "param")))  # Responses
        elif payload.get("type") == "response.failed" and isinstance(payload.get("response"), dict):
            self.reword_response(payload["response"])
        else:
            return
        event.mark_changed()

    def reword_response(self, response: dict[str, Any]) -> None:
        """A failed Responses object's ``error`` in Bastion's words."""
        response["error"] = self._safe(response.get("error") or {}, keys=("code", "message"))

    def _safe(self, error: dict[str, Any], keys: Sequence[str] = ()) -> dict[str, Any]:
        code = error.get("code")
        message = error.get("message")
        if isinstance(code, str) and code in PASSTHROUGH_CODES and isinstance(message, str):
            safe = {
                "message": scrub_message(
                    message, secret=None, upstream_model="", public_model=self.public_model
                ),
                "code": code,
            }
        else:
            code = "upstream_error"
            safe = {"message": "The upstream provider failed while streaming.", "code": code}
        self.error_code = code
        full = {**safe, "type": "server_error", "param": None}
        return {k: full[k] for k in keys} if keys else full


class AnswerShaper:
    """The hook every stream runs, in one pass per event (it is on the per-chunk path).

    It refuses unreadable events (nothing unscannable reaches the client), observes
    usage and finish reasons, rewords upstream errors, shows the public model name, and
    hides the usage Bastion asked for when the client did not. It then answers what the
    stream reported: usage (or an estimate), whether it finished, an upstream error.
    """

    def __init__(self, public_model: str, *, hide_usage: bool) -> None:
        self.observer = UsageObserver()
        self.errors = UpstreamErrors(public_model)
        self.model = ModelRewriteHook(public_model)
        self.hide_usage = hide_usage

    def on_event(self, event: StreamEvent) -> Sequence[StreamEvent]:
        if event.garbled:
            raise UpstreamFailed("The upstream sent a stream event that is not a JSON object.")
        payload = event.payload
        if isinstance(payload, dict) and "choices" in payload:
            _refuse_unreadable(payload["choices"], "delta")
        self.observer.on_event(event)
        self.errors.reword(event)
        self.model.on_event(event)
        if self.hide_usage and _strip_usage(event):
            return ()
        return (event,)

    def on_end(self) -> Sequence[StreamEvent]:
        return ()

    @property
    def upstream_error(self) -> str | None:
        """The code of an error the upstream reported inside the stream, if any."""
        return self.errors.error_code

    @property
    def finished(self) -> bool:
        """Whether the upstream finished its answer (finish reason or terminal event)."""
        return bool(self.observer.finish_reasons) or self.observer.response_status is not None

    def usage_or_estimate(self, parsed: ParsedRequest | None) -> Usage:
        """The usage the stream reported, or an estimate when it ended without one."""
        if self.observer.usage is not None:
            return self.observer.usage
        return estimate_usage(parsed, self.observer.text_chars)


def _refuse_unreadable(choices: Any, field: str) -> None:
    """Refuse a chat answer (``message``) or chunk (``delta``) whose content comes in
    parts Bastion cannot read (only text and refusal parts are scanned and restored)."""
    for choice in choices if isinstance(choices, list) else ():
        if isinstance(choice, dict) and unreadable_content(choice.get(field)):
            raise UpstreamFailed(
                "The upstream answered with content parts other than text, which "
                "Bastion cannot scan."
            )


def stream_hooks(
    ctx: CallContext,
    client_body: dict[str, Any],
    applied: AppliedTransform | None,
    answer_scan: AnswerScan | OutputGuard | None = None,
) -> tuple[list[StreamHook], AnswerShaper]:
    """The hooks for one stream, in order, and the shaper that reports on it."""
    hide_usage = False
    if ctx.call.endpoint is Endpoint.CHAT:
        options = client_body.get("stream_options")
        hide_usage = not (isinstance(options, dict) and options.get("include_usage"))
    shaper = AnswerShaper(ctx.model_used or "", hide_usage=hide_usage)
    hooks: list[StreamHook] = [shaper]
    if hides_logprobs(applied, answer_scan):  # before any hook reads or splits the text
        hooks.append(LogprobsStripHook())
    if isinstance(answer_scan, OutputGuard):  # before restoration: the model's own text
        hooks.append(OutputGuardHook(answer_scan))
    elif answer_scan is not None:
        hooks.append(AnswerScanHook(answer_scan))
    if applied is not None and applied.restorations:
        hooks.append(answer_restorer(applied))
    if ctx.tool_guard is not None:  # last: it checks the arguments the client will run
        hooks.append(tool_call_hook(ctx.tool_guard, ctx.dialect))
    return hooks, shaper
