"""Provider dialects: where each upstream kind is reached and how it is authenticated.

An adapter turns one configured target (provider + upstream model) into a
`PreparedTarget`: the full URL for each endpoint and the exact headers to send,
built once at start-up so the hot path only looks them up. Client headers are
never forwarded; Bastion sends only what is built here.

* ``openai`` / ``openai_compatible``: ``{base_url}/chat/completions`` (``/responses``,
  ``/embeddings``) with ``Authorization: Bearer <key>``; no auth header when no key is
  configured (local vLLM, Ollama).
* ``azure``: ``{base_url}/openai/deployments/{deployment}/{path}?api-version=V`` with
  an ``api-key`` header; the target's ``model`` is the deployment name. The Responses
  API on Azure is not deployment-scoped: ``{base_url}/openai/responses?api-version=V``
  with the deployment carried in the body's ``model`` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol
from urllib.parse import quote, urlencode

from bastion import __version__
from bastion.config.schema import ProviderConfig
from bastion.model import Endpoint

USER_AGENT = f"bastion/{__version__}"

#: The path appended to an OpenAI-style base URL for each endpoint (CONTRACT.md §2).
ENDPOINT_PATHS: dict[Endpoint, str] = {
    Endpoint.CHAT: "chat/completions",
    Endpoint.RESPONSES: "responses",
    Endpoint.EMBEDDINGS: "embeddings",
}

_ACCEPT_JSON = "application/json"
_ACCEPT_SSE = "text/event-stream"


@dataclass(frozen=True, slots=True)
class PreparedTarget:
    """One upstream target with everything needed to call it, precomputed."""

    provider: str
    upstream_model: str
    urls: dict[Endpoint, str]
    json_headers: dict[str, str] = field(repr=False)
    stream_headers: dict[str, str] = field(repr=False)
    secret: str | None = field(repr=False)

    def url(self, endpoint: Endpoint) -> str:
        """The full URL for `endpoint`; raises KeyError for endpoints never forwarded."""
        return self.urls[endpoint]

    def headers(self, *, stream: bool) -> dict[str, str]:
        """The headers for a call (shared, do not mutate)."""
        return self.stream_headers if stream else self.json_headers

    @property
    def key(self) -> str:
        """`provider/model`: the name used for breaker state and metrics."""
        return f"{self.provider}/{self.upstream_model}"


class ProviderAdapter(Protocol):
    """Builds the URLs and auth headers of one provider kind.

    Implementations are stateless; `urls` returns an entry for every endpoint in
    `ENDPOINT_PATHS`, and `auth_headers` returns only authentication headers.
    """

    kind: ClassVar[str]

    def urls(self, config: ProviderConfig, upstream_model: str) -> dict[Endpoint, str]:
        """The full URL per endpoint for `upstream_model`."""
        ...

    def auth_headers(self, config: ProviderConfig) -> dict[str, str]:
        """The headers that authenticate Bastion to this provider."""
        ...


class OpenAIAdapter:
    """OpenAI and OpenAI-compatible servers: base URL + path, bearer token."""

    kind: ClassVar[str] = "openai"

    def urls(self, config: ProviderConfig, upstream_model: str) -> dict[Endpoint, str]:
        """`{base_url}/{path}` per endpoint (the model travels in the body)."""
        base = config.base_url.rstrip("/")
        return {endpoint: f"{base}/{path}" for endpoint, path in ENDPOINT_PATHS.items()}

    def auth_headers(self, config: ProviderConfig) -> dict[str, str]:
        """`Authorization: Bearer <key>`, or nothing when no key is configured."""
        if config.api_key is None:
            return {}
        return {"authorization": f"Bearer {config.api_key.get_secret_value()}"}


class AzureAdapter:
    """Azure OpenAI: deployment-scoped paths, `api-version` query, `api-key` header."""

    kind: ClassVar[str] = "azure"

    def urls(self, config: ProviderConfig, upstream_model: str) -> dict[Endpoint, str]:
        """Deployment URLs for chat and embeddings; the resource-level Responses URL."""
        base = config.base_url.rstrip("/")
        query = urlencode({"api-version": config.api_version or ""})
        deployment = quote(upstream_model, safe="")
        urls = {
            endpoint: f"{base}/openai/deployments/{deployment}/{path}?{query}"
            for endpoint, path in ENDPOINT_PATHS.items()
        }
        urls[Endpoint.RESPONSES] = f"{base}/openai/responses?{query}"
        return urls

    def auth_headers(self, config: ProviderConfig) -> dict[str, str]:
        """`api-key: <key>`, or nothing when no key is configured."""
        if config.api_key is None:
            return {}
        return {"api-key": config.api_key.get_secret_value()}


ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": OpenAIAdapter(),
    "openai_compatible": OpenAIAdapter(),
    "azure": AzureAdapter(),
}


def prepare_target(provider: str, config: ProviderConfig, upstream_model: str) -> PreparedTarget:
    """Build the URLs and headers for one (provider, upstream model) target."""
    adapter = ADAPTERS[config.kind]
    base_headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **adapter.auth_headers(config),
    }
    return PreparedTarget(
        provider=provider,
        upstream_model=upstream_model,
        urls=adapter.urls(config, upstream_model),
        json_headers={**base_headers, "accept": _ACCEPT_JSON},
        stream_headers={**base_headers, "accept": _ACCEPT_SSE},
        secret=config.api_key.get_secret_value() if config.api_key else None,
    )
