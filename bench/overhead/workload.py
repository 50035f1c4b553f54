"""The requests every target receives: a chat completion with a ~2 KB prompt.

The simulator echoes the last user message, so the answer is as long as the prompt
(2 KB in, 2 KB out, as in DESIGN.md's CPU budget). The text is plain prose with no
personal data or secrets in it, so no detector has anything to act on.

Every call's prompt is new: it starts with the call's number (``numbered``). Bastion
remembers the findings of texts it has scanned (conversations resend their history),
so one prompt sent over and over would be scanned once and measure nothing of the
detectors; real traffic brings a new message on every call.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

PROMPT_BYTES = 2048
MODEL = "gpt-4o-mini"

_SENTENCES = (
    "Summarise the quarterly planning notes for the platform team in plain language.",
    "The migration moved three services to the new cluster without downtime.",
    "Capacity reviews happen every second week and cover storage, compute and queues.",
    "Please keep the summary short and list the open questions at the end.",
    "The release train leaves on Thursdays; late changes wait for the next one.",
)


NUMBER = b"00000000 "
"""Where a prompt starts: the call's number goes here, 8 digits (``numbered``)."""


def prompt_text(size: int = PROMPT_BYTES) -> str:
    """Deterministic ASCII prose of exactly ``size`` bytes, starting with ``NUMBER``."""
    words: list[str] = [NUMBER.decode().strip()]
    length = len(NUMBER)
    index = 0
    while length < size:
        sentence = _SENTENCES[index % len(_SENTENCES)]
        words.append(sentence)
        length += len(sentence) + 1
        index += 1
    return " ".join(words)[:size]


@dataclass(frozen=True, slots=True)
class Workload:
    """Request bodies and headers for one target (its own key in ``authorization``)."""

    chat_body: bytes
    stream_body: bytes
    headers: tuple[tuple[str, str], ...]

    def chat(self, number: int) -> bytes:
        """The non-streaming body with call ``number``'s own prompt."""
        return numbered(self.chat_body, number)

    def stream(self, number: int) -> bytes:
        """The streaming body with call ``number``'s own prompt."""
        return numbered(self.stream_body, number)

    @property
    def header_dict(self) -> dict[str, str]:
        """The headers as a dict, for HTTP clients."""
        return dict(self.headers)


def workload_for(api_key: str, prompt_bytes: int = PROMPT_BYTES) -> Workload:
    """The non-streaming and streaming chat bodies, sent with ``api_key`` as Bearer token."""
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": prompt_text(prompt_bytes)},
    ]
    chat = {"model": MODEL, "messages": messages}
    stream = {**chat, "stream": True, "stream_options": {"include_usage": True}}
    return Workload(
        chat_body=orjson.dumps(chat),
        stream_body=orjson.dumps(stream),
        headers=(("content-type", "application/json"), ("authorization", f"Bearer {api_key}")),
    )


def numbered(body: bytes, number: int) -> bytes:
    """``body`` whose prompt starts with ``number`` (8 digits) instead of ``NUMBER``."""
    return body.replace(NUMBER, b"%08d " % (number % 100_000_000), 1)
