"""The model list a key sees: configured models the key may use (CONTRACT.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bastion.config.schema import ModelConfig
from bastion.model import AuthenticatedKey

# A fixed creation time: the gateway's models are configuration, not upstream objects.
_CREATED = 1_700_000_000


def model_entry(name: str, model: ModelConfig) -> dict[str, Any]:
    """One ``model`` object in the OpenAI shape."""
    return {"id": name, "object": "model", "created": _CREATED, "owned_by": model.owned_by}


def visible_models(
    models: Mapping[str, ModelConfig],
    key: AuthenticatedKey,
    approves: Callable[[str], bool] = lambda _: True,
) -> list[str]:
    """Configured models in the key's list that the policy approves, in config order
    (DESIGN.md: one model permission)."""
    return [name for name in models if key.allows_model(name) and approves(name)]
