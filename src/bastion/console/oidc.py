"""Console login with an OpenID Connect provider: the authorization code flow with PKCE,
``state`` and ``nonce`` (Authlib builds the request and checks the ID token's claims;
joserfc checks its signature against the provider's JWKS).

Nothing secret is kept in the browser or server-side between the two legs: the login
cookie holds a random ``state`` and when it was issued, signed; the ``nonce`` and the
PKCE verifier are derived from the state with the console's key, so only this gateway
(any of its workers or replicas sharing the keyring) can finish a login it began, and
only in the browser that began it. The ID token is verified (signature, ``iss``,
``aud``/``azp``, ``exp``, ``nonce``) and mapped to a Bastion role by ``role_map``;
tokens and the client secret are never logged or stored.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from bastion.config.schema import OidcConfig
from bastion.errors import AuthenticationFailed, InvalidRequest, ServiceUnavailable

log = logging.getLogger("bastion.console")
STATE_COOKIE = "bastion_console_oidc"
STATE_TTL_S = 600.0
LEEWAY_S = 60
METADATA_TTL_S = 3600.0
JWKS_REFRESH_S = 30.0
"""Least time between two JWKS reads forced by an unknown key id."""
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
"""ID token algorithms accepted (never ``none`` or a shared-secret HMAC)."""
ROLE_STRENGTH = ("admin", "security", "auditor", "app_owner")
"""Bastion roles, strongest first: a user mapped to several gets the strongest."""
MAX_CLAIM_VALUES = 200


@dataclass(frozen=True, slots=True)
class OidcUser:
    """Who an ID token names, as the console sees them."""

    subject: str
    role: str
    apps: frozenset[str]

    def __post_init__(self) -> None:
        if not self.subject or self.role not in ROLE_STRENGTH:
            raise ValueError("an OIDC user has a subject and a Bastion role")


class UnmappedUser(Exception):
    """The provider vouched for someone whose groups map to no Bastion role."""

    def __init__(self, subject: str) -> None:
        super().__init__(subject)
        self.subject = subject


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _refused(reason: str) -> AuthenticationFailed:
    log.info("console: OIDC login refused (%s)", reason)
    return AuthenticationFailed(
        "The identity provider's answer could not be verified; sign in again.",
        code="oidc_login_failed",
    )


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The identity provider could not be reached; try again shortly or log in with a token.",
        code="oidc_unavailable",
    )


class OidcLogin:
    """One configured provider: begins logins and finishes them into an ``OidcUser``."""

    def __init__(self, config: OidcConfig, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the OIDC state key needs at least 32 bytes")
        self.config = config
        self._key = key
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._lock = asyncio.Lock()

    # --- state, nonce and PKCE verifier -------------------------------------------------

    def _mac(self, *parts: str) -> str:
        message = b"\x00".join(part.encode("utf-8") for part in parts)
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def new_state(self, now: float | None = None) -> tuple[str, str]:
        """A fresh ``state`` and the login cookie that binds it to this browser."""
        state = _b64(secrets.token_bytes(24))
        issued = str(int(now if now is not None else time.time()))
        return state, f"{state}.{issued}.{self._mac('oidc-state', state, issued)}"

    def state_matches(
        self, cookie: str | None, state: str | None, now: float | None = None
    ) -> bool:
        """Whether the callback's ``state`` is the one this browser's cookie holds, signed
        by this gateway and not older than ``STATE_TTL_S`` (constant time)."""
        if not cookie or not state or len(cookie) > 200 or len(state) > 64:
            return False
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return False
        held, issued, mac = parts
        if not hmac.compare_digest(mac, self._mac("oidc-state", held, issued)):
            return False
        age = (now if now is not None else time.time()) - int(issued)
        return 0 <= age <= STATE_TTL_S and hmac.compare_digest(held, state)

    def nonce(self, state: str) -> str:
        """The ``nonce`` sent with ``state`` (derived, so it need not be stored)."""
        return self._mac("oidc-nonce", state)

    def verifier(self, state: str) -> str:
        """The PKCE code verifier of ``state`` (43 characters, derived)."""
        return self._mac("oidc-pkce", state)

    # --- the provider --------------------------------------------------------------------

    async def _get_json(self, session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        async with session.get(url, headers={"accept": "application/json"}) as answer:
            if answer.status != 200:
                raise ServiceUnavailable(f"HTTP {answer.status}", code="oidc_unavailable")
            found = await answer.json(content_type=None)
        if not isinstance(found, dict):
            raise ServiceUnavailable("not a JSON object", code="oidc_unavailable")
        return found

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout_s))

    async def metadata(self, *, refresh: bool = False) -> dict[str, Any]:
        """The provider's discovery document (cached for an hour); its ``issuer`` must be
        the configured one."""
        fresh = time.monotonic() - self._metadata_at < METADATA_TTL_S
        if self._metadata is not None and fresh and not refresh:
            return self._metadata
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with self._session() as session:
                found = await self._get_json(session, url)
        except (aiohttp.ClientError, TimeoutError, ValueError, ServiceUnavailable) as exc:
            log.warning("console: OIDC discovery at %s failed: %s", url, type(exc).__name__)
            raise _unavailable() from None
        needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if found.get("issuer") != self.config.issuer or not all(
            isinstance(found.get(name), str) for name in needed
        ):
            log.warning("console: OIDC discovery at %s names another issuer or no endpoints", url)
            raise _unavailable()
        self._metadata, self._metadata_at = found, time.monotonic()
        return found

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            recent = time.monotonic() - self._keys_at < JWKS_REFRESH_S
            if self._keys is not None and (not refresh or recent):
                return self._keys
            metadata = await self.metadata()
            try:
                async with self._session() as session:
                    found = await self._get_json(session, metadata["jwks_uri"])
                self._keys = KeySet.import_key_set(found)  # type: ignore[arg-type]
                self._keys_at = time.monotonic()
            except (aiohttp.ClientError, TimeoutError, ValueError, ServiceUnavailable) as exc:
                log.warning("console: OIDC JWKS could not be read: %s", type(exc).__name__)
                raise _unavailable() from None
            except JoseError as exc:
                log.warning("console: OIDC JWKS holds no usable key: %s", exc.error)
                raise _unavailable() from None
            return self._keys

    async def authorization_url(self, state: str, redirect_uri: str) -> str:
        """Where to send the browser to sign in (code flow, PKCE S256, nonce)."""
        metadata = await self.metadata()
        url: str = prepare_grant_uri(
            metadata["authorization_endpoint"],
            self.config.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=self.config.scopes,
            state=state,
            nonce=self.nonce(state),
            code_challenge=create_s256_code_challenge(self.verifier(state)),
            code_challenge_method="S256",
        )
        return url

    async def finish(self, state: str, code: str, redirect_uri: str) -> OidcUser:
        """Exchange ``code`` for tokens, verify the ID token, map it to a Bastion role.
        AuthenticationFailed when anything does not verify, UnmappedUser when no role
        maps, ServiceUnavailable when the provider cannot be reached."""
        if not code or len(code) > 2048:
            raise InvalidRequest("the provider sent no usable code", param="code")
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": self.verifier(state),
        }
        headers = {"accept": "application/json"}
        secret = self.config.client_secret
        if secret is not None:  # client_secret_basic, both parts form-encoded (RFC 6749 2.3.1)
            pair = f"{quote(self.config.client_id, safe='')}:"
            pair += quote(secret.get_secret_value(), safe="")
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form["client_id"] = self.config.client_id
        try:
            async with (
                self._session() as session,
                session.post(metadata["token_endpoint"], data=form, headers=headers) as answer,
            ):
                status = answer.status
                tokens = await answer.json(content_type=None) if status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("console: OIDC token request failed: %s", type(exc).__name__)
            raise _unavailable() from None
        if not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
            raise _refused(f"token endpoint answered HTTP {status} without an ID token")
        claims = await self.verify_id_token(tokens["id_token"], self.nonce(state))
        return self.user_of(claims)

    async def verify_id_token(self, token: str, nonce: str) -> Mapping[str, Any]:
        """The ID token's claims once its signature (JWKS), ``iss``, ``aud``, ``azp``,
        ``exp``, ``iat`` and ``nonce`` hold; AuthenticationFailed otherwise."""
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported")
        algorithms = [a for a in ASYMMETRIC if not isinstance(offered, list) or a in offered]
        try:
            try:
                decoded = jwt.decode(token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:  # a key the cached set lacks: the provider rotated
                keys = await self._key_set(refresh=True)
                decoded = jwt.decode(token, keys, algorithms=algorithms)
        except (JoseError, ValueError) as exc:
            raise _refused(f"signature: {getattr(exc, 'error', type(exc).__name__)}") from None
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            options={
                "iss": {"essential": True, "value": self.config.issuer},
                "aud": {"essential": True, "value": self.config.client_id},
                "exp": {"essential": True},
            },
            params={"nonce": nonce, "client_id": self.config.client_id},
        )
        try:
            claims.validate(leeway=LEEWAY_S)
        except JoseError as exc:
            raise _refused(f"claims: {exc.error} {getattr(exc, 'claim', '')}".strip()) from None
        return dict(claims)

    def user_of(self, claims: Mapping[str, Any]) -> OidcUser:
        """The console user an ID token's claims name; UnmappedUser when no role maps."""
        subject = claims.get(self.config.subject_claim)
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
            raise _refused(f"no usable {self.config.subject_claim!r} claim")
        subject = subject.strip()
        mapped = {
            self.config.role_map[value]
            for value in _values(claims.get(self.config.roles_claim))
            if value in self.config.role_map
        }
        role = next((name for name in ROLE_STRENGTH if name in mapped), None)
        if role is None:
            raise UnmappedUser(subject)
        apps: frozenset[str] = frozenset()
        if role == "app_owner" and self.config.apps_claim is not None:
            apps = frozenset(v for v in _values(claims.get(self.config.apps_claim)) if v)
        return OidcUser(subject, role, apps)


MAX_APPS = 50


def encode_user(user: OidcUser) -> str:
    """The user as the session cookie carries it (url-safe base64 of JSON; signed there)."""
    body = {"s": user.subject, "r": user.role, "a": sorted(user.apps)[:MAX_APPS]}
    return _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))


def decode_user(text: str) -> OidcUser | None:
    """The user a session names, or None when it does not parse."""
    try:
        body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        apps = body["a"]
        if not isinstance(apps, list) or not all(isinstance(a, str) for a in apps):
            return None
        return OidcUser(str(body["s"]), str(body["r"]), frozenset(apps))
    except (ValueError, KeyError, TypeError):
        return None


def _values(claim: object) -> list[str]:
    """A claim's string values: a list of strings, or one string (space-separated)."""
    if isinstance(claim, str):
        return claim.split()[:MAX_CLAIM_VALUES]
    if isinstance(claim, list):
        return [v for v in claim[:MAX_CLAIM_VALUES] if isinstance(v, str) and len(v) <= 200]
    return []
