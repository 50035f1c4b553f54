"""Parsing a request body into a ``Conversation``: field checks common to every endpoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bastion.errors import InvalidRequest
from bastion.model import Conversation, Endpoint, Source
from bastion.wire.extension import BastionExtension, pop_extension
from bastion.wire.fields import (
    BOOLEAN_FIELDS,
    FORBIDDEN,
    INTEGER_FIELDS,
    NUMERIC_BOUNDS,
    allowed_fields,
    passthrough_fields,
)
from bastion.wire.segments import SegmentCollector
from bastion.wire.shapes import check_shape
from bastion.wire.sweep import sweep_strings
from bastion.wire.untrusted import UntrustedMarks


@dataclass(frozen=True, slots=True)
class WireOptions:
    """Settings of the wire layer (from config ``wire``)."""

    retrieved_tags: tuple[str, ...] = ("retrieved",)
    extra_passthrough: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """A request body ready to decide on: the body to forward and its conversation."""

    body: dict[str, Any]
    conversation: Conversation
    extension: BastionExtension


class ConversationBuilder:
    """Shared state while one endpoint's parser walks a body."""

    __slots__ = ("ext", "marks", "segments", "tools", "unscanned")

    def __init__(self, options: WireOptions, ext: BastionExtension) -> None:
        self.segments = SegmentCollector(options.retrieved_tags)
        self.tools: list[str] = []
        self.unscanned: list[str] = []
        self.ext = ext
        self.marks = UntrustedMarks(ext.untrusted)

    def add_message_text(
        self,
        text: str,
        source: Source,
        path: tuple[str | int, ...],
        *,
        message: int,
        part: int | None = None,
        role: str | None = None,
    ) -> None:
        """Add a text of message (input item) ``message``, applying the caller's marks."""
        ranges = self.marks.ranges(message, part, len(text)) if self.marks else []
        self.segments.add(text, source, path, message_index=message, role=role, untrusted=ranges)

    def unscannable(self, reason: str) -> None:
        if reason not in self.unscanned:
            self.unscanned.append(reason)

    def add_schema_texts(self, value: Any, path: tuple[str | int, ...]) -> None:
        """Scan the human-readable strings of a JSON schema (descriptions, titles, enums)."""
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("description", "title") and isinstance(item, str):
                    self.segments.add(item, Source.SYSTEM, (*path, key))
                elif key == "enum" and isinstance(item, list):
                    for i, choice in enumerate(item):
                        if isinstance(choice, str):
                            self.segments.add(choice, Source.SYSTEM, (*path, key, i))
                else:
                    self.add_schema_texts(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.add_schema_texts(item, (*path, i))

    def add_metadata(self, body: dict[str, Any]) -> None:
        """Scan the caller's metadata values and end-user identifiers (they leave too)."""
        metadata = body.get("metadata")
        if metadata is not None:
            if not isinstance(metadata, dict):
                raise InvalidRequest("metadata must be an object of strings.", param="metadata")
            for key, value in metadata.items():
                if not isinstance(value, str):
                    raise InvalidRequest("metadata values must be strings.", param="metadata")
                self.segments.add(value, Source.METADATA, ("metadata", key))
        for field in ("user", "safety_identifier"):
            value = body.get(field)
            if value is None:
                continue
            if not isinstance(value, str):
                raise InvalidRequest(f"{field} must be a string.", param=field)
            self.segments.add(value, Source.METADATA, (field,))


def check_fields(body: dict[str, Any], endpoint: Endpoint, options: WireOptions) -> None:
    """Refuse forbidden and unknown fields; bound the non-text parameters."""
    allowed = allowed_fields(endpoint, options.extra_passthrough)
    for name, value in body.items():
        if name in FORBIDDEN:
            raise InvalidRequest(
                f"{name} cannot be set by the caller: Bastion chooses the upstream.",
                code="unsupported_parameter",
                param=name,
            )
        if name not in allowed:
            raise InvalidRequest(
                f"Unrecognized request argument supplied: {name[:64]}",
                code="unsupported_parameter",
                param=name[:64],
            )
        if value is None:
            continue
        bounds = NUMERIC_BOUNDS.get(name)
        if bounds is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidRequest(f"{name} must be a number.", param=name)
            if name in INTEGER_FIELDS and isinstance(value, float) and not value.is_integer():
                raise InvalidRequest(f"{name} must be an integer.", param=name)
            low, high = bounds
            if not low <= value <= high:
                raise InvalidRequest(f"{name} must be between {low} and {high}.", param=name)
        elif name in BOOLEAN_FIELDS and not isinstance(value, bool):
            raise InvalidRequest(f"{name} must be a boolean.", param=name)
        else:
            check_shape(name, value)
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise InvalidRequest(  # OpenAI's own 400, before the upstream turns it into a 502
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    model = body.get("model")
    if not isinstance(model, str) or not model or len(model) > 256:
        raise InvalidRequest("model must be a non-empty string.", param="model")


Walker = Callable[[dict[str, Any], ConversationBuilder], None]


def parse_request(
    body: dict[str, Any], endpoint: Endpoint, options: WireOptions, walk: Walker
) -> ParsedRequest:
    """Run an endpoint's walker over a decoded body and build its conversation."""
    ext = pop_extension(body)
    check_fields(body, endpoint, options)
    builder = ConversationBuilder(options, ext)
    walk(body, builder)
    builder.marks.check_all_used()
    builder.add_metadata(body)
    sweep_strings(body, builder.segments, passthrough_fields(endpoint, options.extra_passthrough))
    conversation = Conversation(
        endpoint=endpoint,
        model=body["model"],
        segments=tuple(builder.segments.segments),
        stream=bool(body.get("stream", False)),
        tools=tuple(builder.tools),
        unscanned=tuple(builder.unscanned),
        end_user=ext.end_user,
        exception_id=ext.exception,
        untrusted_marks=len(ext.untrusted),
        params={name: body[name] for name in _LIMIT_PARAMS if name in body},
    )
    return ParsedRequest(body, conversation, ext)


# what the limits stage reads to bound a call's output (its worst case)
_LIMIT_PARAMS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "n")
