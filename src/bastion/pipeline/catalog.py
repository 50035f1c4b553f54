"""The model list a key sees: configured models the key may use (CONTRACT.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.config.schema import ModelConfig
from bastion.model import AuthenticatedKey

# A fixed creation time: the gateway's models are configuration, not upstream objects.
_CREATED = 1_700_000_000


def model_entry(name: str, model: ModelConfig) -> dict[str, Any]:
    """One ``model`` object in the OpenAI shape."""
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": model.owned_by}


def visible_models(models: Mapping[str, ModelConfig], key: AuthenticatedKey) -> list[str]:
    """Configured models in the key's list, in configuration order."""
    return [name for name in models if key.allows_model(name)]
