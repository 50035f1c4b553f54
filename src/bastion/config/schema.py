"""The configuration file's shape (CONTRACT.md §2): pydantic models that reject typos."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import re2
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from bastion.config.exporters import AuditExporterConfig


class _Strict(BaseModel):
    # no setting means infinity or NaN (.inf, .nan in YAML): a limit or timeout that
    # large is "none", which has its own spelling (null) where it is allowed
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


MAX_BUDGET_USD = 1e12
"""Budgets are counted in picodollars (exact integers); a trillion USD is the most."""
MAX_BUDGET_TOKENS = 10**15
MAX_PRICE_USD = 1e6
"""USD per 1M tokens: no model costs a dollar a token."""


AdminRoleName = Literal["admin", "security", "auditor", "app_owner"]


class OidcConfig(_Strict):
    """Console login with an OpenID Connect provider (docs/console.md#oidc-login)."""

    issuer: str = Field(
        description="The provider's issuer URL; its /.well-known/openid-configuration is read "
        "at the first login. https, or http on a loopback address."
    )
    name: str = Field(
        "single sign-on",
        min_length=1,
        max_length=60,
        description="Shown on the login page as 'Sign in with <name>'.",
    )
    client_id: str = Field(min_length=1, description="The console's client id at the provider.")
    client_secret: SecretStr | None = Field(
        None, description="Its client secret (use ${VAR}); null: a public client (PKCE only)."
    )
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "profile", "email"],
        description="Scopes asked for; must include openid.",
    )
    redirect_url: str | None = Field(
        None,
        description="The callback URL registered at the provider. Default: "
        "<console origin>/console/oidc/callback, as the browser reached it.",
    )
    subject_claim: str = Field(
        "sub",
        min_length=1,
        description="ID token claim naming the person in audit events (and, for app owners, "
        "the key `owner` they own): sub, email, preferred_username, ...",
    )
    roles_claim: str = Field(
        "groups", min_length=1, description="ID token claim holding the groups or roles."
    )
    role_map: dict[str, AdminRoleName] = Field(
        default_factory=dict,
        description="Claim value -> Bastion role, e.g. bastion-admins: admin. With several "
        "matches the strongest role wins; with none the login is refused.",
    )
    apps_claim: str | None = Field(
        None,
        description="ID token claim listing the apps an app_owner owns (beside the apps of "
        "keys whose owner is its subject). null: keys only.",
    )
    timeout_s: float = Field(10.0, gt=0, le=60, description="Timeout of each provider request.")

    @field_validator("issuer", "redirect_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        loopback = url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost", "::1")
        if not (url.scheme == "https" and url.hostname) and not loopback:
            raise ValueError("must be an https:// URL (http:// only on a loopback address)")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include openid")
        return value


class AdminServerConfig(_Strict):
    host: str | None = Field(None, description="Admin bind address; defaults to server.host.")
    port: int = Field(8081, ge=0, le=65535, description="Admin API, /metrics and console.")
    oidc: OidcConfig | None = Field(
        None, description="Console login with an OpenID Connect provider (null: tokens only)."
    )


class CorsConfig(_Strict):
    enabled: bool = Field(False, description="Answer CORS pre-flights on the proxy port.")
    allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call from a browser, e.g. https://chat.example.com; "
        "'*' allows any.",
    )


class ServerConfig(_Strict):
    host: str = Field("127.0.0.1", description="Proxy bind address.")
    port: int = Field(8080, ge=0, le=65535, description="Proxy port (OpenAI-compatible API).")
    workers: int = Field(1, ge=1, le=64, description="Worker processes.")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest request body.")
    max_header_bytes: int = Field(16 * 1024, ge=1024, description="Largest total headers.")
    max_headers: int = Field(100, ge=8, description="Most request headers.")
    body_timeout_s: float = Field(
        30.0, gt=0, description="Time to receive the whole body, and the request headers."
    )
    drain_timeout_s: float = Field(30.0, ge=0, description="SIGTERM: time for calls to end.")
    admin: AdminServerConfig = Field(
        default_factory=AdminServerConfig, description="Admin API, /metrics and console listener."
    )
    cors: CorsConfig = Field(default_factory=CorsConfig, description="CORS on the proxy port.")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log lines on stderr: text, or json (one object per line with time, "
        "level, logger, message and the request id inside a call).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "names the client recorded in the call records; '*' trusts any. Others: the "
        "connection's own address is recorded.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _two_listeners(self) -> ServerConfig:
        hosts = {self.host, self.admin.host or self.host}
        shared = len(hosts) == 1 or bool(hosts & {"0.0.0.0", "::", ""})
        if self.port != 0 and self.port == self.admin.port and shared:
            raise ValueError(
                f"port and admin.port are both {self.port}: the proxy and the admin API "
                "need a port each"
            )
        return self


class StorageConfig(_Strict):
    url: str = Field(
        "sqlite:///.bastion/bastion.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+asyncpg://...",
    )
    poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often the store is polled for key/config changes."
    )

    @field_validator("url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        # the store's own check, at load time: `config validate` and reloads see it too
        from bastion.errors import StorageError
        from bastion.storage.database import normalise_url

        try:
            normalise_url(value)
        except StorageError as exc:
            raise ValueError(str(exc).removeprefix("storage.url ")) from None
        return value


class RedisConfig(_Strict):
    url: str | None = Field(None, description="redis://host:port/db, or null for none.")
    timeout_s: float = Field(
        1.0, gt=0, le=10, description="Longest wait for Redis (connect, one command)."
    )
    key_prefix: str = Field(
        "bastion:", min_length=1, max_length=64, description="Prefix of every Bastion key."
    )

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL (or null for none)")
        return value


class TimeoutsConfig(_Strict):
    connect_s: float = Field(5.0, gt=0, description="TCP/TLS connect.")
    first_byte_s: float = Field(60.0, gt=0, description="Request sent → first response byte.")
    idle_s: float = Field(60.0, gt=0, description="Longest pause between stream chunks.")
    total_s: float = Field(600.0, gt=0, description="Whole call, streaming included.")


class RetryConfig(_Strict):
    max_attempts: int = Field(3, ge=1, le=10, description="Attempts per target, first included.")
    backoff_base_s: float = Field(0.25, ge=0, description="First backoff; doubles, jittered.")
    backoff_max_s: float = Field(8.0, ge=0, description="Longest backoff (and Retry-After).")


class BreakerConfig(_Strict):
    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open it.")
    reset_s: float = Field(30.0, gt=0, description="Open time before one trial call.")


class ProviderConfig(_Strict):
    kind: Literal["openai", "azure", "openai_compatible"] = Field(
        description="openai, azure (Azure OpenAI) or openai_compatible (vLLM, Ollama, ...)."
    )
    base_url: str = Field(description="Base URL including the version path, e.g. .../v1.")
    api_key: SecretStr | None = Field(None, description="Upstream key (use ${VAR}).")
    api_key_file: Path | None = Field(None, description="File holding the upstream key.")
    api_version: str | None = Field(None, description="Azure api-version query parameter.")
    timeouts: TimeoutsConfig = Field(
        default_factory=TimeoutsConfig, description="Upstream timeouts."
    )
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retries per target.")
    breaker: BreakerConfig = Field(
        default_factory=BreakerConfig, description="Circuit breaker per target."
    )
    max_connections: int = Field(256, ge=1, description="Connection pool size.")
    max_response_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024,
        description="Largest non-streamed answer body read from this upstream (after "
        "decompression); a larger one is a failed attempt (502 upstream_error).",
    )
    proxy: SecretStr | None = Field(
        None,
        description="Egress HTTP proxy for this provider, e.g. http://proxy.internal:3128 "
        "(https upstreams are tunnelled with CONNECT); a password in the URL stays secret. "
        "null: connect directly (environment proxy variables are never read).",
    )
    ca_bundle: Path | None = Field(
        None,
        description="PEM file of the CAs trusted for this upstream instead of the system "
        "store (internal model servers with a private CA).",
    )
    client_cert: Path | None = Field(
        None, description="PEM client certificate for mutual TLS (with client_key)."
    )
    client_key: Path | None = Field(
        None, description="PEM private key of client_cert (unencrypted; omit if in client_cert)."
    )

    @field_validator("api_key")
    @classmethod
    def _empty_key_is_no_key(cls, value: SecretStr | None) -> SecretStr | None:
        """``api_key: "${KEY:-}"`` with KEY unset means: send no key (local servers).
        Whitespace around the key (a variable set from a file with its newline) is
        dropped; a control character inside could never be sent in a header."""
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
            raise ValueError(
                "the key holds a line break or control character; set it to the key alone"
            )
        return SecretStr(key) if key else None

    @model_validator(mode="after")
    def _one_key_source(self) -> ProviderConfig:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("set api_key or api_key_file, not both")
        if self.kind == "azure" and not self.api_version:
            raise ValueError("azure providers need api_version (e.g. 2024-10-21)")
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key needs client_cert")
        if self.proxy is not None and not self.proxy.get_secret_value().startswith(
            ("http://", "https://")
        ):
            raise ValueError("proxy must be an http:// or https:// URL")
        return self


class ModelTarget(_Strict):
    provider: str = Field(description="A key of `providers`.")
    model: str = Field(description="Upstream model name (Azure: deployment name).")


class ModelConfig(_Strict):
    targets: list[ModelTarget] = Field(
        min_length=1, description="Ordered targets: the first healthy one serves, then fallbacks."
    )
    kind: Literal["chat", "embedding"] = Field("chat", description="What the model serves.")
    owned_by: str = Field("bastion", description="`owned_by` shown by /v1/models.")


class PolicyConfig(_Strict):
    file: Path | None = Field(None, description="Policy file seeding the store.")
    exception_webhook: SecretStr | None = Field(
        None,
        description="http(s) URL that receives a JSON POST for every exception request "
        "and decision (`bastion exceptions`); treated as a secret. null: none.",
    )

    @field_validator("exception_webhook")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("exception_webhook must be an http:// or https:// URL")
        return value


class WireConfig(_Strict):
    passthrough_fields: list[str] = Field(
        default_factory=list, description="Extra non-text request fields passed through as-is."
    )
    retrieved_tags: list[str] = Field(
        default_factory=lambda: ["retrieved"],
        description="Tags whose enclosed text counts as retrieved context.",
    )


class CustomClassConfig(_Strict):
    """One ``custom.<name>`` class: a pattern, exact terms, a dictionary file, or several."""

    regex: str | None = Field(
        None, description="RE2 pattern (no lookaround or backreferences) for the value."
    )
    validator: Literal["luhn", "iban", "mod97"] | None = Field(
        None, description="Checksum every regex match must pass."
    )
    terms: list[str] = Field(default_factory=list, description="Exact terms to find.")
    dictionary: Path | None = Field(
        None, description="File with one term per line (blank lines and # comments skipped)."
    )
    case_sensitive: bool = Field(False, description="Match terms with their exact case.")
    score: float = Field(0.9, ge=0, le=1, description="Score of a match.")
    context: list[str] = Field(
        default_factory=list, description="Words near a regex match that raise its score."
    )
    requires_context: bool = Field(False, description="Report regex matches only near context.")
    sensitivity: Literal["public", "internal", "confidential", "restricted"] = Field(
        "confidential", description="Sensitivity of the class (CONTRACT.md §7)."
    )

    @field_validator("regex")
    @classmethod
    def _re2_syntax(cls, regex: str | None) -> str | None:
        """Checked at load (``config validate``, ``serve``, ``scan``): RE2 refuses
        lookaround and backreferences, which other engines accept."""
        if regex is not None:
            options = re2.Options()
            options.log_errors = False
            try:
                re2.compile(regex, options)
            except re2.error as exc:
                detail = exc.args[0].decode() if isinstance(exc.args[0], bytes) else exc
                raise ValueError(
                    f"not an RE2 pattern ({detail}); RE2 has no lookaround or "
                    "backreferences: match the value itself, and use context words"
                ) from None
        return regex

    @model_validator(mode="after")
    def _has_a_source(self) -> CustomClassConfig:
        if self.regex is None and not self.terms and self.dictionary is None:
            raise ValueError("a custom class needs regex, terms or dictionary")
        if self.validator is not None and self.regex is None:
            raise ValueError("validator applies to regex matches; set regex too")
        return self


class SecondTierConfig(_Strict):
    enabled: bool = Field(
        True, description="Find names, places and street addresses (Bastion's own tagger)."
    )
    ner: bool = Field(
        False, description="Add a spaCy NER model to the tagger (extra [ner]; ~40 ms per 2 KB)."
    )
    model: str = Field("en_core_web_sm", description="spaCy model package for `ner`.")


InjectionSource = Literal["user", "system", "retrieved", "tool_result"]


class InjectionConfig(_Strict):
    enabled: bool = Field(
        True, description="Find prompt injection (injection.direct / injection.indirect)."
    )
    thresholds: dict[InjectionSource, float] = Field(
        default_factory=dict,
        description="Reporting threshold per source in [0, 1], e.g. retrieved: 0.3 "
        "(stricter for retrieved text); default: the shipped model's calibrated 0.5.",
    )

    @field_validator("thresholds")
    @classmethod
    def _in_range(cls, value: dict[InjectionSource, float]) -> dict[InjectionSource, float]:
        for source, threshold in value.items():
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold of {source} must be within [0, 1]")
        return value


class OutputDetectorsConfig(_Strict):
    """Detectors that only read the model's answer (``output.*`` classes)."""

    canaries: list[SecretStr] = Field(
        default_factory=list,
        description="Canary strings planted in system prompts (use ${VAR}); one in an "
        "answer is output.system_prompt_leak. Matched case-sensitively, also through "
        "invisible characters, look-alikes and encodings; 8-40 characters each.",
    )
    exfil_link: bool = Field(
        True,
        description="Find links and images to hosts not on link_allow_domains (output.exfil_link).",
    )
    link_allow_domains: list[str] = Field(
        default_factory=list,
        description="Hosts answers may link to: docs.example.com, or *.example.org for "
        "any subdomain (not the apex). Empty: no host is allowed.",
    )

    @field_validator("canaries")
    @classmethod
    def _canary_lengths(cls, value: list[SecretStr]) -> list[SecretStr]:
        for index, canary in enumerate(value):
            length = len(canary.get_secret_value())
            if not 8 <= length <= 40:  # never the value itself in the message
                raise ValueError(f"canary {index} has {length} characters; use 8 to 40")
        return value

    @field_validator("link_allow_domains")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        for entry in value:
            host = entry.removeprefix("*.")
            if not host or any(c in host for c in "*/:@?#\\ ") or host.startswith("."):
                raise ValueError(
                    f"link_allow_domains entry {entry!r}: write a host name "
                    "(docs.example.com) or *.example.org, without scheme, port or path"
                )
        return value


class DetectorsConfig(_Strict):
    """Which detectors run and how findings are scored."""

    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Per-class reporting threshold in [0, 1] (default 0.5), e.g. pii.person: 0.7.",
    )
    custom: dict[str, CustomClassConfig] = Field(
        default_factory=dict, description="custom.<name> classes, keyed by <name>."
    )
    second_tier: SecondTierConfig = Field(
        default_factory=SecondTierConfig,
        description="Names, places and addresses: the tagger, optionally with a NER model.",
    )
    injection: InjectionConfig = Field(
        default_factory=InjectionConfig,
        description="Prompt injection in prompts, retrieved text and tool results.",
    )
    output: OutputDetectorsConfig = Field(
        default_factory=OutputDetectorsConfig,
        description="What only the model's answers are scanned for: canaries, links.",
    )

    @field_validator("thresholds")
    @classmethod
    def _thresholds_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for name, threshold in value.items():
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold of {name} must be within [0, 1]")
        return value

    @field_validator("custom")
    @classmethod
    def _custom_names(cls, value: dict[str, CustomClassConfig]) -> dict[str, CustomClassConfig]:
        for name in value:
            if not name or not all(c.islower() or c.isdigit() or c == "_" for c in name):
                raise ValueError(f"custom class name {name!r}: use lower-case letters, digits, _")
        return value


class CryptoConfig(_Strict):
    keyring_file: Path | None = Field(
        None,
        description="Keyring (pseudonym, fingerprint, signing and content keys). Default with "
        "SQLite: keyring.json beside the database, generated on first start; required with "
        "PostgreSQL.",
    )


# ``key_id`` is the principal field's name (CONTRACT.md §1); ``key`` is its short form,
# the one scopes are labelled with (``key=ab12cd34``).
ScopeField = Literal["key", "key_id", "user", "app", "team", "environment", "model"]


class BudgetConfig(_Strict):
    """Spend allowed per calendar period (in ``limits.timezone``) or rolling window."""

    period: Literal["day", "week", "month"] | None = Field(
        None, description="Calendar period (weeks start on Monday); or set rolling_s."
    )
    rolling_s: float | None = Field(
        None, gt=0, le=31 * 86400, description="Rolling window in seconds instead of a period."
    )
    usd: float | None = Field(
        None, ge=0, le=MAX_BUDGET_USD, description="Most USD spent in the period."
    )
    tokens: int | None = Field(
        None, ge=0, le=MAX_BUDGET_TOKENS, description="Most tokens (prompt + output)."
    )
    soft: float | None = Field(
        0.8, gt=0, lt=1, description="Share of the limit that alerts once per period; null: none."
    )

    @model_validator(mode="after")
    def _one_window_and_a_limit(self) -> BudgetConfig:
        if (self.period is None) == (self.rolling_s is None):
            raise ValueError("a budget needs exactly one of period (day/week/month) or rolling_s")
        if self.usd is None and self.tokens is None:
            raise ValueError("a budget needs usd, tokens or both")
        return self


class LimitRuleConfig(_Strict):
    """One set of limits, counted separately for each value of its scope fields."""

    name: str | None = Field(
        None, description="Id in messages and metrics; default: the scope fields joined by x."
    )
    scope: list[ScopeField] = Field(
        default_factory=list,
        description="Principal fields (and model) whose values each get their own counters, "
        "e.g. [team, environment]; [] counts everything together.",
    )
    match: dict[ScopeField, str | list[str]] = Field(
        default_factory=dict,
        description="Apply only to calls whose fields have these values, e.g. {team: finance}.",
    )
    requests_per_minute: int | None = Field(None, ge=1, description="Sliding 60 s window.")
    tokens_per_minute: int | None = Field(
        None, ge=1, description="Sliding 60 s window; reserved worst case, settled to usage."
    )
    concurrent_requests: int | None = Field(
        None, ge=1, description="Calls in flight at once (leases with limits.lease_ttl_s)."
    )
    budgets: list[BudgetConfig] = Field(
        default_factory=list, description="USD and token budgets per period."
    )

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str | None) -> str | None:
        if value is not None and not (
            value and len(value) <= 64 and all(c.isalnum() or c in "_.-" for c in value)
        ):
            raise ValueError("a limit name uses letters, digits, '_', '.', '-' (at most 64)")
        return value

    @field_validator("scope")
    @classmethod
    def _scope_key_id_is_key(cls, value: list[ScopeField]) -> list[ScopeField]:
        return list(dict.fromkeys("key" if name == "key_id" else name for name in value))

    @field_validator("match")
    @classmethod
    def _match_key_id_is_key(
        cls, value: dict[ScopeField, str | list[str]]
    ) -> dict[ScopeField, str | list[str]]:
        if "key_id" in value and "key" in value:
            raise ValueError("match names the key twice (key and key_id); keep one")
        return {("key" if name == "key_id" else name): v for name, v in value.items()}

    @model_validator(mode="after")
    def _limits_something(self) -> LimitRuleConfig:
        if not (
            self.requests_per_minute
            or self.tokens_per_minute
            or self.concurrent_requests
            or self.budgets
        ):
            raise ValueError(
                "a limit rule needs requests_per_minute, tokens_per_minute, "
                "concurrent_requests or budgets"
            )
        if len(set(self.scope)) != len(self.scope):
            raise ValueError("scope lists a field twice")
        return self

    @property
    def rule_id(self) -> str:
        """The rule's name, or its scope fields joined by ``x`` (``all`` for none)."""
        return self.name or "x".join(self.scope) or "all"


class ModelPriceConfig(_Strict):
    """A model's price in USD per 1M tokens; overrides the built-in table."""

    input: float = Field(ge=0, le=MAX_PRICE_USD, description="USD per 1M prompt tokens.")
    cached_input: float | None = Field(
        None,
        ge=0,
        le=MAX_PRICE_USD,
        description="USD per 1M cached prompt tokens (default: input).",
    )
    output: float = Field(0.0, ge=0, le=MAX_PRICE_USD, description="USD per 1M output tokens.")
    max_output_tokens: int | None = Field(
        None, ge=0, description="Output reserved when a call sets no max_tokens."
    )


class LimitsConfig(_Strict):
    """Rate limits and budgets: admit, reserve, settle (docs/limits.md)."""

    timezone: str = Field(
        "UTC", description="IANA time zone of calendar periods, e.g. Europe/Berlin."
    )
    rules: list[LimitRuleConfig] = Field(
        default_factory=list, description="Limits by scope; a call must fit every rule."
    )
    pricing: dict[str, ModelPriceConfig] = Field(
        default_factory=dict,
        description="Prices per public or upstream model name, over the built-in table.",
    )
    default_max_output_tokens: int = Field(
        4096, ge=0, description="Output reserved when neither the call nor the price sets one."
    )
    lease_ttl_s: float = Field(
        900.0, gt=0, description="A concurrency slot not released by then frees itself."
    )
    store: Literal["memory", "sqlite", "redis"] = Field(
        "memory",
        description="Where counters and idempotent answers live: memory (one process; with "
        "server.workers > 1 the sqlite store is used), sqlite (a file shared by the gateway "
        "processes of one machine, sqlite_file) or redis (shared by every worker and replica; "
        "needs redis.url).",
    )
    sqlite_file: Path | None = Field(
        None,
        description="The shared counter file of the sqlite store (idempotent answers go to a "
        "sibling -idempotency file); default limits.db beside the SQLite database, else in "
        "the audit log's parent directory. Local disk only (never NFS).",
    )
    on_store_down: Literal["degrade", "closed", "open"] = Field(
        "degrade",
        description="Redis unreachable: degrade checks rate and concurrency limits in each "
        "process at floor(limit / N) and refuses budgeted calls (503 limits_unavailable); "
        "closed refuses every call (503); open lets calls through unlimited. All counted.",
    )
    replicas: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="N for on_store_down: degrade: gateway processes (replicas x workers); "
        "the larger of this and the count last seen in Redis is used.",
    )
    idempotency: bool = Field(
        True,
        description="Honour the Idempotency-Key request header (false: ignore it); answers "
        "are kept where store says.",
    )
    idempotency_ttl_s: float = Field(
        86400.0, gt=0, le=7 * 86400, description="How long a finished call's answer is replayed."
    )
    idempotency_in_flight_ttl_s: float = Field(
        900.0,
        gt=0,
        description="A claimed key whose call never finished (a crashed process) frees itself.",
    )
    idempotency_max_answer_bytes: int = Field(
        1 << 20,
        ge=1024,
        description="Largest answer kept for replay; a larger one frees its key when done.",
    )
    idempotency_max_memory_bytes: int = Field(
        256 << 20,
        ge=1 << 20,
        description="Memory and sqlite stores: answers held at most; the oldest are dropped "
        "past it.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from exc
        return value

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> LimitsConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.rule_id in seen:
                raise ValueError(f"two limit rules are named {rule.rule_id!r}; give one a name")
            seen.add(rule.rule_id)
        return self


ContentMode = Literal["none", "redacted", "encrypted", "full"]


class AuditContentConfig(_Strict):
    """Which calls keep their prompt and answer text, and for how long (docs/audit.md)."""

    default: ContentMode = Field(
        "none",
        description="Content kept for calls no app or team entry names: none (metadata only),"
        " redacted (the text as forwarded), encrypted (the original, AES-GCM under the content"
        " key), full (plain text; not for production).",
    )
    apps: dict[str, ContentMode] = Field(
        default_factory=dict, description="Mode per app (wins over teams), e.g. billing: redacted."
    )
    teams: dict[str, ContentMode] = Field(
        default_factory=dict, description="Mode per team, e.g. research: encrypted."
    )
    retention_days: float = Field(
        30.0, gt=0, description="Content older than this is purged (unless under legal hold)."
    )
    purge_interval_s: float = Field(
        3600.0, gt=0, description="How often the gateway purges expired content."
    )
    max_bytes: int = Field(
        1 << 20, ge=1024, description="Most bytes of request and answer kept per call."
    )


class AuditConfig(_Strict):
    flush_interval_s: float = Field(0.05, gt=0, le=10, description="Group-commit interval.")
    max_batch: int = Field(512, ge=1, description="Most records per commit.")
    durability: Literal["process", "fsync"] = Field(
        "process",
        description="process: intents written with write(2) before forwarding (survive kill -9);"
        " fsync: forwarding waits for the group fsync (survive power loss).",
    )
    wal_dir: Path | None = Field(
        None,
        description="Write-ahead log directory. Default: audit-wal beside the SQLite database;"
        " .bastion/audit-wal in the working directory with PostgreSQL.",
    )
    max_spool_bytes: int = Field(
        1 << 30, ge=1 << 16, description="Unshipped log bytes past which new calls are refused."
    )
    segment_bytes: int = Field(
        8 << 20, ge=1 << 12, description="Size at which the log starts a new segment file."
    )
    intents: Literal["local", "database"] = Field(
        "local",
        description="local: a call goes upstream once its intent is in the write-ahead log"
        " (keep the log on a persistent volume); database: also once the intent is committed"
        " to the database (replicas without a persistent volume; adds one group commit).",
    )
    writer_lease_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="Lease of this process's audit writer, renewed every third of it; once it"
        " lapses another replica closes the writer's open intents as unknown_after_crash.",
    )
    checkpoint_file: Path | None = Field(
        None,
        description="Append-only file of signed chain checkpoints. Default: "
        "audit-checkpoints.jsonl beside the write-ahead log directory.",
    )
    checkpoint_every: int = Field(1000, ge=1, description="Checkpoint after this many records.")
    checkpoint_interval_s: float = Field(
        60.0, gt=0, description="Checkpoint at least this often while records arrive."
    )
    verify_at_start: int = Field(
        1000,
        ge=0,
        description="At start-up, verify this many of the writer's newest chained records"
        " (hashes, links, head, call records, newest checkpoint) and run SQLite's quick_check;"
        " on a problem the gateway refuses to start. 0 skips the check.",
    )
    content: AuditContentConfig = Field(
        default_factory=AuditContentConfig,
        description="Content retention: none, redacted, encrypted or full, per app or team.",
    )
    decrypt_roles: list[Literal["admin", "security", "auditor"]] = Field(
        ["admin", "security"],
        description="Admin roles that may decrypt `encrypted` retained content; every "
        "decryption is an admin event. Add auditor to let auditors read it too.",
    )
    admin_api_decrypts: bool = Field(
        False,
        description="Let the admin API (and console) decrypt `encrypted` content with this "
        "process's content key. Off: only `bastion audit show --decrypt` can.",
    )
    exporters: list[AuditExporterConfig] = Field(
        default_factory=list,
        description="Sinks that receive every audit record (OTLP, webhook, Splunk HEC, syslog).",
    )

    @field_validator("exporters")
    @classmethod
    def _unique_exporter_names(cls, value: list[AuditExporterConfig]) -> list[AuditExporterConfig]:
        names = [exporter.name for exporter in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"exporter names must be unique; repeated: {', '.join(repeated)}")
        return value


class TracingConfig(_Strict):
    """OpenTelemetry traces of calls (docs/operations.md#tracing); spans carry no content."""

    enabled: bool = Field(
        False, description="Export a trace per call (needs the `bastion-gateway[tracing]` extra)."
    )
    endpoint: str = Field(
        "http://127.0.0.1:4318",
        description="OTLP/HTTP collector base URL; `/v1/traces` is appended.",
    )
    service_name: str = Field("bastion", min_length=1, description="`service.name` of spans.")
    sample_ratio: float = Field(
        1.0, ge=0, le=1, description="Share of new traces kept; a caller's sampled flag wins."
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Headers sent to the collector (use ${VAR})."
    )
    export_timeout_s: float = Field(10.0, gt=0, description="Timeout of one export request.")


class BastionConfig(_Strict):
    """The whole configuration file."""

    server: ServerConfig = Field(
        default_factory=ServerConfig, description="Proxy and admin listeners, request limits."
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Database for keys, policy versions, audit."
    )
    redis: RedisConfig = Field(
        default_factory=RedisConfig, description="Shared counters for several replicas."
    )
    providers: dict[str, ProviderConfig] = Field(
        default_factory=dict, description="Upstream APIs by name, referenced by model targets."
    )
    models: dict[str, ModelConfig] = Field(
        default_factory=dict, description="Models callers may request, by the name they use."
    )
    policy: PolicyConfig = Field(
        default_factory=PolicyConfig, description="Where the policy comes from (rules live there)."
    )
    wire: WireConfig = Field(
        default_factory=WireConfig, description="How OpenAI request formats are read."
    )
    detectors: DetectorsConfig = Field(
        default_factory=DetectorsConfig, description="Detector settings."
    )
    limits: LimitsConfig = Field(
        default_factory=LimitsConfig, description="Rate limits and budgets."
    )
    audit: AuditConfig = Field(
        default_factory=AuditConfig, description="Audit log writing and retention."
    )
    crypto: CryptoConfig = Field(
        default_factory=CryptoConfig, description="Where the keyring lives."
    )
    tracing: TracingConfig = Field(
        default_factory=TracingConfig, description="OpenTelemetry traces of calls (off)."
    )

    @model_validator(mode="after")
    def _targets_name_providers(self) -> BastionConfig:
        for name, model in self.models.items():
            for target in model.targets:
                if target.provider not in self.providers:
                    known = ", ".join(sorted(self.providers)) or "none"
                    raise ValueError(
                        f"models.{name}: target provider {target.provider!r} is not defined "
                        f"under providers (defined: {known})"
                    )
        return self
