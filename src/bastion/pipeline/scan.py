"""The scan call (CONTRACT.md §8): one text in, its findings out."""

from __future__ import annotations

from bastion.errors import InvalidRequest
from bastion.model import Conversation, Decision, Endpoint, Segment, Source
from bastion.model.decision import Action
from bastion.wire.body import decode_json_object
from bastion.wire.extension import BastionExtension
from bastion.wire.request import ParsedRequest

SCAN = Decision(action=Action.SCAN)
_SOURCES = {s.value: s for s in (Source.USER, Source.SYSTEM, Source.RETRIEVED, Source.TOOL_RESULT)}


def parse_scan_request(raw: bytes) -> ParsedRequest:
    """``{"text": str, "source"?: str, "all_scores"?: bool}`` → a one-segment conversation."""
    body = decode_json_object(raw)
    unknown = set(body) - {"text", "source", "all_scores"}
    if unknown:
        name = sorted(unknown)[0][:64]
        raise InvalidRequest(
            f"Unrecognized field: {name}", code="unsupported_parameter", param=name
        )
    text = body.get("text")
    if not isinstance(text, str):
        raise InvalidRequest("text must be a string.", param="text")
    source_name = body.get("source", "user")
    source = _SOURCES.get(source_name) if isinstance(source_name, str) else None
    if source is None:
        raise InvalidRequest(
            "source must be one of user, system, retrieved, tool_result.", param="source"
        )
    if not isinstance(body.get("all_scores", False), bool):
        raise InvalidRequest("all_scores must be a boolean.", param="all_scores")
    segment = Segment(text, source, ("text",), message_index=0, role=source.value)
    conversation = Conversation(Endpoint.SCAN, "", (segment,))
    return ParsedRequest(body, conversation, BastionExtension())
