"""The worst case a call may use, estimated locally before it leaves.

Prompt tokens: ``ceil(code points / 2) + (UTF-8 bytes - code points)`` per text
segment, plus 4 per segment and 3 for the reply. No tokenizer runs on the hot path:
``tiktoken`` downloads its encodings at run time, and a real tokenizer costs more than
the whole limits budget. Measured against OpenAI's ``o200k_base`` (bench/limits,
docs/limits.md): 2-2.5x the real count at the median for English prose and code,
1.3x for CJK, 1.6x for emoji; below the real count only for short random
alphanumeric strings (keys, base64: ~0.7x) — so a prompt made mostly of such strings
can settle above its reservation (RELIABILITY.md B1 allows usage beyond a
reservation; it never lets concurrency overspend).

Output tokens: the call's ``max_tokens`` / ``max_completion_tokens`` /
``max_output_tokens`` (times ``n``), else the model's cap.
"""

from __future__ import annotations

from bastion.model import Conversation, Endpoint

_PER_SEGMENT = 4
_PER_REPLY = 3
_PER_UNSCANNED = 1_000  # an image or file part: high-detail images cost up to ~1k tokens


def prompt_tokens(conversation: Conversation) -> int:
    """A conservative count of the tokens the upstream will bill for the prompt."""
    total = _PER_REPLY
    for segment in conversation.segments:
        text = segment.text
        chars = len(text)
        extra = len(text.encode("utf-8", "surrogatepass")) - chars if not text.isascii() else 0
        total += (chars + 1) // 2 + extra + _PER_SEGMENT
    return total + _PER_UNSCANNED * len(conversation.unscanned)


def output_tokens(conversation: Conversation, cap: int) -> int:
    """The most output tokens the call may produce: what it asked for, else ``cap``."""
    if conversation.endpoint is Endpoint.EMBEDDINGS:
        return 0
    params = conversation.params
    asked = None
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            asked = value
            break
    tokens = cap if asked is None else asked
    choices = params.get("n")
    if isinstance(choices, int) and not isinstance(choices, bool) and choices > 1:
        tokens *= choices
    return tokens
