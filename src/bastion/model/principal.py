"""Who is calling: the principal bound to a gateway key."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, with the field names used everywhere (CONTRACT.md §1)."""

    key_id: str
    name: str
    user: str | None = None
    app: str | None = None
    team: str | None = None
    environment: str = "dev"
    roles: tuple[str, ...] = ()
    owner: str | None = None

    def __post_init__(self) -> None:
        if not self.key_id:
            raise ValueError("a principal needs a key_id")
        if not self.environment:
            raise ValueError("a principal needs an environment")

    def with_user(self, user: str) -> Principal:
        """The same principal acting for an end user (keys marked trust_end_user)."""
        return replace(self, user=user)


@dataclass(frozen=True, slots=True)
class AuthenticatedKey:
    """A verified gateway key: the principal plus what the key itself permits."""

    principal: Principal
    models: tuple[str, ...] = ("*",)
    trust_end_user: bool = False

    def allows_model(self, model: str) -> bool:
        """Whether the key's model list names this public model (``*`` = every one)."""
        return "*" in self.models or model in self.models
