"""Which request fields are scanned, passed through as non-text parameters, or refused.

Every field of the OpenAI request types must be in exactly one set here; a meta-test
walks the ``openai`` package's request types to keep this honest (CONTRACT.md §4).
"""

from __future__ import annotations

from functools import cache

from bastion.model import Endpoint

# Fields a caller may never set: they would steer Bastion's own upstream connection.
FORBIDDEN = frozenset({"api_base", "base_url", "api_key", "headers", "extra_headers", "api_type"})

_COMMON_PASSTHROUGH = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "top_logprobs",
        "parallel_tool_calls",
        "tool_choice",
        "service_tier",
        "store",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "moderation",
    }
)

PASSTHROUGH: dict[Endpoint, frozenset[str]] = {
    Endpoint.CHAT: _COMMON_PASSTHROUGH
    | {
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "seed",
        "modalities",
        "reasoning_effort",
        "verbosity",
        "audio",
        "function_call",
        "web_search_options",
    },
    Endpoint.RESPONSES: _COMMON_PASSTHROUGH
    | {
        "background",
        "background_options",
        "context_management",
        "include",
        "max_output_tokens",
        "max_tool_calls",
        "reasoning",
        "truncation",
        "access_programs",
        "image",
        "previous_response_id",
        "conversation",
    },
    Endpoint.EMBEDDINGS: frozenset({"model", "dimensions", "encoding_format"}),
}

SCANNED: dict[Endpoint, frozenset[str]] = {
    Endpoint.CHAT: frozenset(
        {
            "messages",
            "tools",
            "functions",
            "prediction",
            "response_format",
            "metadata",
            "stop",
            "user",
            "safety_identifier",
        }
    ),
    Endpoint.RESPONSES: frozenset(
        {
            "input",
            "instructions",
            "tools",
            "text",
            "prompt",
            "metadata",
            "user",
            "safety_identifier",
        }
    ),
    Endpoint.EMBEDDINGS: frozenset({"input", "user"}),
}

# Passed-through fields whose value is a bounded number: (minimum, maximum).
NUMERIC_BOUNDS: dict[str, tuple[float, float]] = {
    "n": (1, 128),
    "max_tokens": (1, 1_000_000),
    "max_completion_tokens": (1, 1_000_000),
    "max_output_tokens": (1, 1_000_000),
    "max_tool_calls": (0, 10_000),
    "temperature": (0, 2),
    "top_p": (0, 1),
    "top_logprobs": (0, 20),
    "frequency_penalty": (-2, 2),
    "presence_penalty": (-2, 2),
    "seed": (-(2**63), 2**63 - 1),
    "dimensions": (1, 65_536),
}
# Of those, the ones OpenAI takes as integers only (2.5 choices or tokens is a 400 there).
INTEGER_FIELDS = frozenset(
    {
        "n",
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "max_tool_calls",
        "top_logprobs",
        "seed",
        "dimensions",
    }
)
BOOLEAN_FIELDS = frozenset({"stream", "store", "parallel_tool_calls", "logprobs", "background"})


@cache  # one set per endpoint and config: the unions cost ~1.5 µs a call otherwise
def allowed_fields(endpoint: Endpoint, extra_passthrough: frozenset[str]) -> frozenset[str]:
    """All fields accepted for an endpoint."""
    return SCANNED[endpoint] | PASSTHROUGH[endpoint] | extra_passthrough


@cache
def passthrough_fields(endpoint: Endpoint, extra_passthrough: frozenset[str]) -> frozenset[str]:
    """The fields an endpoint passes through unscanned, with the config's extra ones."""
    return PASSTHROUGH[endpoint] | extra_passthrough
