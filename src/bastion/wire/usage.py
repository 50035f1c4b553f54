"""The ``usage`` object of an upstream answer, as the upstream billed it.

Chat completions say ``prompt_tokens`` / ``completion_tokens`` with
``prompt_tokens_details.cached_tokens``; the Responses API says ``input_tokens`` /
``output_tokens`` with ``input_tokens_details.cached_tokens``. Cached prompt tokens are
priced on their own (``limits.pricing``), so they are read too. Anything malformed is
``None``: the caller estimates instead of trusting it. A count beyond what one call can
bill (:data:`MAX_CALL_TOKENS`) is malformed too: a broken or hostile compatible server
saying 9e18 tokens would otherwise empty every budget of the caller at once.
"""

from __future__ import annotations

from typing import Any

from bastion.model import Usage

MAX_CALL_TOKENS = 100_000_000
"""The most tokens one count of one call may report (100x the largest context windows)."""


def usage_of(raw: Any) -> Usage | None:
    """The usage an answer (or a stream's usage chunk) reports; ``None`` when absent or
    malformed."""
    if not isinstance(raw, dict):
        return None
    if "prompt_tokens" in raw or "completion_tokens" in raw:
        prompt, completion = raw.get("prompt_tokens", 0), raw.get("completion_tokens", 0)
        details = raw.get("prompt_tokens_details")
    else:
        prompt, completion = raw.get("input_tokens"), raw.get("output_tokens", 0)
        details = raw.get("input_tokens_details")
    if not _count(prompt) or not _count(completion):
        return None
    cached: Any = details.get("cached_tokens") if isinstance(details, dict) else None
    if not _count(cached) or cached > prompt:
        cached = 0  # absent, null or nonsense: the whole prompt at the input price
    return Usage(prompt, completion, cached_prompt_tokens=cached)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_CALL_TOKENS
