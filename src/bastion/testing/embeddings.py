"""Embeddings and models endpoints: deterministic vectors and a fixed model list.

A vector is derived from SHAKE-256 of the input text (token arrays are joined as
decimal text), mapped to [-1, 1] and L2-normalised, so the same input always gives
the same vector and different inputs give different ones. ``dimensions`` shortens it;
``encoding_format: base64`` packs little-endian float32 as OpenAI does.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from bastion.testing.tokens import count_tokens

MODEL_CREATED = 1715367049
DEFAULT_DIMENSIONS = 1536
_DIMENSIONS = {"text-embedding-3-large": 3072}
KNOWN_MODELS = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o3-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
)


class EmbeddingInputError(ValueError):
    """The ``input`` of an embeddings request has an unsupported shape."""


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """The deterministic unit vector for ``text`` with ``dimensions`` components."""
    raw = hashlib.shake_256(text.encode()).digest(dimensions * 2)
    values = [value / 32767.5 - 1.0 for value in struct.unpack(f"<{dimensions}H", raw)]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [value / norm for value in values]


def _inputs(raw: Any) -> list[tuple[str, int]]:
    """Each input as (text to hash, token count)."""
    if isinstance(raw, str):
        return [(raw, count_tokens(raw))]
    if isinstance(raw, list) and raw:
        if all(isinstance(item, int) for item in raw):
            return [(" ".join(map(str, raw)), len(raw))]
        result = []
        for item in raw:
            if isinstance(item, str):
                result.append((item, count_tokens(item)))
            elif isinstance(item, list) and all(isinstance(token, int) for token in item):
                result.append((" ".join(map(str, item)), len(item)))
            else:
                raise EmbeddingInputError("input items must be strings or token arrays")
        return result
    raise EmbeddingInputError("input must be a string, a list of strings or token arrays")


def render_embeddings(body: Mapping[str, Any], model: str) -> bytes:
    """The ``list`` of embeddings for an embeddings request body."""
    dimensions = body.get("dimensions")
    if not isinstance(dimensions, int) or dimensions <= 0:
        dimensions = _DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    prompt_tokens = 0
    for index, (text, tokens) in enumerate(_inputs(body.get("input"))):
        prompt_tokens += tokens
        vector = embedding_vector(text, dimensions)
        encoded: Any = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )


def model_object(model_id: str) -> dict[str, Any]:
    """The ``model`` object for any model id (the simulator accepts every model)."""
    return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": "system"}


def render_models() -> bytes:
    """The ``list`` of the simulator's advertised models."""
    return orjson.dumps({"object": "list", "data": [model_object(m) for m in KNOWN_MODELS]})
