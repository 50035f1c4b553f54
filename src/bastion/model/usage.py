"""Token usage of one call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens billed by the upstream (or estimated when it did not say)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    cached_prompt_tokens: int = 0  # the part of prompt_tokens served from the prompt cache

    def __post_init__(self) -> None:
        if self.prompt_tokens < 0 or self.completion_tokens < 0:
            raise ValueError("token counts cannot be negative")
        if not 0 <= self.cached_prompt_tokens <= self.prompt_tokens:
            raise ValueError("cached prompt tokens must be within the prompt tokens")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
