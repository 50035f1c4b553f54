"""The console as an ASGI app under ``/console`` on the admin port: login with an admin
token, a signed session cookie, CSRF-checked forms, and the pages of ``PAGES``, each
shown only to roles the admin API's permission table lets read it.

An employee without an admin token logs in with their gateway key instead: a chat-only
session (pages marked ``employees``; every other page is refused). The key is sealed in
the chat's cookie, as when an admin gives one, never stored server-side; the session
cookie names its key id, and every chat request verifies the key again, so a revoked
key ends the session.

Pages call the admin API's own route functions with the session's identity, so a
console action is the same governed (and audited) change as the API call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, Router

from bastion.console.chat_key import (
    CHAT_KEY_COOKIE,
    ChatKeySealer,
    looks_like_gateway_key,
)
from bastion.console.chat_key import PURPOSE as CHAT_KEY_PURPOSE
from bastion.console.oidc import STATE_COOKIE as OIDC_STATE_COOKIE
from bastion.console.oidc import (
    STATE_TTL_S,
    OidcLogin,
    UnmappedUser,
    decode_user,
    encode_user,
)
from bastion.console.page import PREFIX, Page, View
from bastion.console.security import PAGE_HEADERS, check_same_origin, read_form
from bastion.console.session import (
    GATEWAY_KEY,
    LOGIN_COOKIE,
    LOGIN_TTL_S,
    OIDC,
    SESSION_COOKIE,
    ConsoleSessions,
    Session,
    SessionSigner,
)
from bastion.console.views import (
    audit,
    budgets,
    chat,
    exceptions,
    keys,
    overview,
    policy,
    sessions,
)
from bastion.errors import (
    ApiError,
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    StorageError,
)
from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.identity.keys import parse_key, secret_matches
from bastion.identity.verifier import authenticated_key
from bastion.model import Principal
from bastion.server.admin_api.context import AdminContext
from bastion.storage.admin_tokens import AdminTokenRepository
from bastion.storage.console_sessions import ConsoleSessionRepository
from bastion.storage.keys import KeyStatus

log = logging.getLogger("bastion.console")
PAGES: tuple[Page, ...] = (
    overview.PAGE,
    audit.PAGE,
    policy.PAGE,
    keys.PAGE,
    budgets.PAGE,
    exceptions.PAGE,
    sessions.PAGE,
    chat.PAGE,
)
"""Every console page, in navigation order."""
SESSION_KEY_PURPOSE = "bastion.console.session"
OIDC_KEY_PURPOSE = "bastion.console.oidc"
OIDC_CALLBACK = PREFIX + "/oidc/callback"
MAX_FORM_BYTES = 256 * 1024
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
Endpoint = Callable[[Request], Awaitable[Response]]


def _when(value: datetime | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _remaining(value: datetime) -> str:
    """How long until ``value``, roughly: ``ends in 6 d 23 h``, ``ends in 42 min``."""
    left = (value - datetime.now(UTC)).total_seconds()
    if left <= 0:
        return "ended"
    days, rest = divmod(int(left), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"ends in {days} d {hours} h"
    if hours:
        return f"ends in {hours} h {rest // 60} min"
    return f"ends in {max(1, rest // 60)} min"


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("bastion.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["remaining"] = _remaining
    env.filters["usd"] = lambda v: "—" if v is None else f"${v:,.2f}"
    env.filters["pct"] = lambda v: "—" if v is None else f"{v * 100:.0f} %"
    env.filters["svg"] = Markup  # only for chart markup built by bastion.charts (escaped)
    return env


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("bastion.console").joinpath("static")
    found: dict[str, tuple[bytes, str]] = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in _STATIC_TYPES:
            found[item.name] = (item.read_bytes(), _STATIC_TYPES[suffix])
    return found


class Console:
    """The console's ASGI app on one admin context."""

    def __init__(
        self,
        context: AdminContext,
        *,
        pages: tuple[Page, ...] = PAGES,
        secure_cookies: bool | None = None,
        session_ttl_s: float | None = None,
    ) -> None:
        self.context = context
        self.pages = pages
        self.secure_cookies = secure_cookies
        self.templates = _templates()
        self.static = _static_files()
        signing = context.runtime.guardrails.keyring.active("signing")
        key = signing.digest(SESSION_KEY_PURPOSE)
        self.chat_keys = ChatKeySealer(signing.digest(CHAT_KEY_PURPOSE))
        self.signer = (
            SessionSigner(key) if session_ttl_s is None else SessionSigner(key, ttl_s=session_ttl_s)
        )
        self.sessions = ConsoleSessions(
            self.signer, ConsoleSessionRepository(context.runtime.database)
        )
        self.tokens = AdminTokenRepository(context.runtime.database)
        oidc = context.runtime.config.server.admin.oidc
        self.oidc = None if oidc is None else OidcLogin(oidc, signing.digest(OIDC_KEY_PURPOSE))
        routes = [
            Route(PREFIX, self._home, methods=["GET"]),
            Route(PREFIX + "/", self._home, methods=["GET"]),
            Route(PREFIX + "/login", self._login_form, methods=["GET"]),
            Route(PREFIX + "/login", self._login, methods=["POST"]),
            Route(PREFIX + "/logout", self._logout, methods=["POST"]),
            Route(PREFIX + "/oidc/login", self._oidc_login, methods=["GET"]),
            Route(OIDC_CALLBACK, self._oidc_callback, methods=["GET"]),
            Route(PREFIX + "/static/{name}", self._static_file, methods=["GET"]),
        ]
        for page in pages:
            for action in page.actions:
                routes.append(
                    Route(
                        page.url + action.path,
                        self._endpoint(page, action.handler, action.needs),
                        methods=[action.method],
                    )
                )
        self.router = Router(routes, default=self._not_found)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.router(scope, receive, send)

    # --- sessions ---------------------------------------------------------------------

    def _secure(self, request: Request) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return request.url.scheme == "https"

    def _set_cookie(
        self,
        response: Response,
        request: Request,
        name: str,
        value: str,
        *,
        max_age: float,
        path: str = PREFIX,
        samesite: Literal["strict", "lax"] = "strict",
    ) -> None:
        """An HttpOnly cookie of the console, Secure when the console is reached by https."""
        response.set_cookie(
            name,
            value,
            max_age=int(max_age),
            path=path,
            secure=self._secure(request),
            httponly=True,
            samesite=samesite,
        )

    async def _identity(self, session: Session) -> AdminIdentity:
        """The token behind the session, looked up again: revoked tokens end sessions.
        An OIDC session names its user (and ends when OIDC is no longer configured)."""
        if session.kind == OIDC:
            user = decode_user(session.token_id) if self.oidc is not None else None
            if user is None:
                raise AuthenticationFailed("The console session ended; log in again.")
            return AdminIdentity(user.subject, AdminRole(user.role), None, user.apps)
        stored = await self.tokens.get(session.token_id)
        if stored is None or not stored.is_active(datetime.now(UTC)):
            raise AuthenticationFailed("The console session ended; log in again.")
        try:
            role = AdminRole(stored.role)
        except ValueError as exc:
            raise AuthenticationFailed("The console session ended; log in again.") from exc
        return AdminIdentity(subject=stored.subject, role=role, token_id=stored.token_id)

    async def _gateway_key(self, presented: str | None) -> Principal:
        """The principal of a gateway key, read from the store now (not the proxy's
        cache, so a revoked key ends its console session at once, as a token does);
        AuthenticationFailed for any key that would not authenticate."""
        parsed = parse_key(presented)
        stored = None if parsed is None else await self.context.runtime.keys.get(parsed[0])
        now = datetime.now(UTC)
        usable = stored is not None and stored.status(now) in (KeyStatus.ACTIVE, KeyStatus.GRACE)
        secret = parsed[1] if parsed is not None else ""
        matched = secret_matches(secret, None if stored is None else stored.secret_hash)
        if stored is None or not usable or not matched:
            raise AuthenticationFailed("The console session ended; log in again.")
        return authenticated_key(stored).principal

    async def _employee(self, request: Request, session: Session, page: Page) -> AdminIdentity:
        """Who holds a gateway-key session. On its pages the key sealed in the chat cookie
        is verified again (AuthenticationFailed when it is gone, another key's, revoked or
        expired: the session ends). The identity carries no admin power: ``View.may`` is
        False for these sessions and only ``employees`` pages admit them (its role is a
        placeholder the layout does not show)."""
        subject = f"key {session.token_id}"
        if page.employees:
            key = self.chat_keys.open(session.session_id, request.cookies.get(CHAT_KEY_COOKIE))
            principal = await self._gateway_key(key)
            if principal.key_id != session.token_id:
                raise AuthenticationFailed("The console session ended; log in again.")
            subject = principal.user or principal.name
        return AdminIdentity(subject=subject, role=AdminRole.APP_OWNER, token_id=None)

    def _to_login(self, request: Request) -> Response:
        response = RedirectResponse(PREFIX + "/login", status_code=303, headers=dict(PAGE_HEADERS))
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    async def _home(self, request: Request) -> Response:
        try:
            session = await self.sessions.read(request.cookies.get(SESSION_COOKIE))
        except StorageError as exc:
            return self._error(request, exc)
        if session is None:
            return self._to_login(request)
        if session.kind == GATEWAY_KEY:
            for page in self.pages:
                if page.employees:
                    return RedirectResponse(page.url, status_code=303, headers=dict(PAGE_HEADERS))
            return self._to_login(request)
        try:
            identity = await self._identity(session)
        except AuthenticationFailed:
            return self._to_login(request)
        except StorageError as exc:
            return self._error(request, exc)
        for page in self.pages:
            if page.visible_to(identity.role):
                return RedirectResponse(page.url, status_code=303, headers=dict(PAGE_HEADERS))
        return self._error(request, PermissionDenied("No console page is open to this role."))

    async def _login_form(self, request: Request, *, failed: str | None = None) -> Response:
        nonce = self.signer.login_nonce()
        html = self.templates.get_template("login.html").render(
            prefix=PREFIX,
            csrf=self.signer.login_token(nonce),
            failed=failed,
            oidc_name=self.oidc.config.name if self.oidc is not None else None,
            page=None,
            nav=[],
            identity=None,
        )
        response = HTMLResponse(
            html, status_code=401 if failed else 200, headers=dict(PAGE_HEADERS)
        )
        self._set_cookie(response, request, LOGIN_COOKIE, nonce, max_age=LOGIN_TTL_S)
        return response

    async def _login(self, request: Request) -> Response:
        try:
            check_same_origin(request)
            form = await read_form(request, MAX_FORM_BYTES)
        except ApiError as exc:
            return self._error(request, exc)
        if not self.signer.login_matches(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            return await self._login_form(
                request, failed="The login form expired; enter the token again."
            )
        presented = form.get("token", "").strip()
        if looks_like_gateway_key(presented):
            return await self._employee_login(request, presented)
        try:
            identity = await self.context.runtime.admin_auth.verify(presented)
        except AuthenticationFailed:
            log.info("console: login refused")
            return await self._login_form(request, failed=_LOGIN_REFUSED)
        except StorageError as exc:
            return self._error(request, exc)
        assert identity.token_id is not None
        try:
            _, cookie = await self.sessions.open(
                identity.token_id, identity.token_id, role=identity.role.value
            )
        except StorageError as exc:
            return self._error(request, exc)
        log.info("console: %s (%s) logged in", identity.subject, identity.role.value)
        response = RedirectResponse(PREFIX + "/", status_code=303, headers=dict(PAGE_HEADERS))
        self._set_cookie(response, request, SESSION_COOKIE, cookie, max_age=self.sessions.ttl_s)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    async def _employee_login(self, request: Request, presented: str) -> Response:
        """A chat-only session for a valid gateway key, the key sealed in the chat's
        cookie (the only place it is kept)."""
        chat = next((page for page in self.pages if page.employees), None)
        try:
            if chat is None:
                raise AuthenticationFailed("no console page is open to gateway keys")
            principal = await self._gateway_key(presented)
            session, cookie = await self.sessions.open(
                principal.key_id, principal.key_id, kind=GATEWAY_KEY
            )
        except AuthenticationFailed:
            log.info("console: login refused")
            return await self._login_form(request, failed=_LOGIN_REFUSED)
        except StorageError as exc:
            return self._error(request, exc)
        log.info("console: gateway key %s logged in to the chat", principal.key_id)
        response = RedirectResponse(chat.url, status_code=303, headers=dict(PAGE_HEADERS))
        sealed_key = self.chat_keys.seal(session.session_id, presented)
        ttl_s = self.sessions.ttl_s
        self._set_cookie(response, request, SESSION_COOKIE, cookie, max_age=ttl_s)
        self._set_cookie(
            response, request, CHAT_KEY_COOKIE, sealed_key, max_age=ttl_s, path=chat.url
        )
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    # --- OIDC -----------------------------------------------------------------------------

    def _redirect_uri(self, request: Request) -> str:
        """The callback URL the provider sends the browser back to."""
        assert self.oidc is not None
        configured = self.oidc.config.redirect_url
        if configured is not None:
            return configured
        scheme = "https" if self._secure(request) else request.url.scheme
        return f"{scheme}://{request.url.netloc}{OIDC_CALLBACK}"

    async def _oidc_login(self, request: Request) -> Response:
        """Send the browser to the provider, with a fresh state bound to it by a cookie."""
        if self.oidc is None:
            return self._error(
                request, NotFound("OIDC login is not configured.", code="unknown_url")
            )
        state, cookie = self.oidc.new_state()
        try:
            target = await self.oidc.authorization_url(state, self._redirect_uri(request))
        except ApiError as exc:
            return self._error(request, exc)
        response = RedirectResponse(target, status_code=303, headers=dict(PAGE_HEADERS))
        # it must come back on the provider's top-level redirect
        self._set_cookie(
            response,
            request,
            OIDC_STATE_COOKIE,
            cookie,
            max_age=STATE_TTL_S,
            path=OIDC_CALLBACK,
            samesite="lax",
        )
        return response

    async def _oidc_callback(self, request: Request) -> Response:
        """Finish a login: check the state, exchange the code, verify the ID token, map
        the user to a role, open a session."""
        if self.oidc is None:
            return self._error(
                request, NotFound("OIDC login is not configured.", code="unknown_url")
            )
        query = request.query_params
        state = query.get("state")
        if query.get("error"):
            log.info("console: the OIDC provider refused a login (%s)", query["error"][:60])
            failed = f"The identity provider did not sign you in ({query['error'][:60]})."
            return await self._login_form(request, failed=failed)
        if not self.oidc.state_matches(request.cookies.get(OIDC_STATE_COOKIE), state):
            log.info("console: OIDC login refused (state does not match the browser's)")
            return await self._login_form(request, failed=_OIDC_STATE)
        assert state is not None
        try:
            user = await self.oidc.finish(state, query.get("code", ""), self._redirect_uri(request))
        except UnmappedUser as exc:
            log.info("console: OIDC user %s has no mapped role", exc.subject[:200])
            refused = PermissionDenied(
                f"You signed in as {exc.subject!r}, but none of your groups or roles gives "
                "you a Bastion role. Ask an administrator to map one "
                "(server.admin.oidc.role_map).",
                code="oidc_no_role",
            )
            return self._forget_state(self._error(request, refused))
        except AuthenticationFailed as exc:
            return self._forget_state(await self._login_form(request, failed=exc.message))
        except ApiError as exc:
            return self._error(request, exc)
        try:
            _, cookie = await self.sessions.open(
                encode_user(user), user.subject, kind=OIDC, role=user.role
            )
        except StorageError as exc:
            return self._forget_state(self._error(request, exc))
        except ValueError:
            too_long = PermissionDenied(
                "Your sign-in names more apps than a console session can hold; ask an "
                "administrator to narrow server.admin.oidc.apps_claim.",
                code="oidc_session_too_large",
            )
            return self._forget_state(self._error(request, too_long))
        log.info("console: %s (%s) signed in with OIDC", user.subject, user.role)
        html = self.templates.get_template("signed_in.html").render(
            prefix=PREFIX, page=None, nav=[], identity=None, subject=user.subject, role=user.role
        )
        # a page, not a redirect: a SameSite=Strict cookie set while arriving from the
        # provider's site is not sent on a redirect in the same navigation
        response = HTMLResponse(html, headers=dict(PAGE_HEADERS))
        self._set_cookie(response, request, SESSION_COOKIE, cookie, max_age=self.sessions.ttl_s)
        return self._forget_state(response)

    @staticmethod
    def _forget_state(response: Response) -> Response:
        response.delete_cookie(OIDC_STATE_COOKIE, path=OIDC_CALLBACK)
        return response

    async def _logout(self, request: Request) -> Response:
        try:
            session = await self.sessions.read(request.cookies.get(SESSION_COOKIE))
            if session is None:
                return self._to_login(request)
            check_same_origin(request)
            form = await read_form(request, MAX_FORM_BYTES)
            if not self.signer.csrf_matches(session, form.get("csrf")):
                raise _csrf_refused()
            await self.sessions.close(session)
        except (ApiError, StorageError) as exc:
            return self._error(request, exc)
        response = self._to_login(request)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    async def _not_found(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        page = self._error(request, NotFound("There is no such console page.", code="unknown_url"))
        await page(scope, receive, send)

    async def _static_file(self, request: Request) -> Response:
        found = self.static.get(request.path_params["name"])
        if found is None:
            return Response(b"not found", status_code=404, headers=dict(PAGE_HEADERS))
        body, media_type = found
        headers = {**PAGE_HEADERS, "cache-control": "public, max-age=300"}
        return Response(body, media_type=media_type, headers=headers)

    # --- pages --------------------------------------------------------------------------

    def _endpoint(
        self, page: Page, handler: Callable[[View], Awaitable[Response]], needs: str | None
    ) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                session = await self.sessions.read(request.cookies.get(SESSION_COOKIE))
                if session is None:
                    return self._to_login(request)
                if session.kind == GATEWAY_KEY:
                    identity = await self._employee(request, session, page)
                else:
                    identity = await self._identity(session)
            except AuthenticationFailed:
                return self._to_login(request)
            except StorageError as exc:
                return self._error(request, exc)
            csrf = self.signer.csrf_token(session)
            view = View(
                request, page, self.context, identity, session, csrf, self.templates, self.pages
            )
            started = time.perf_counter()
            try:
                if view.employee and not page.employees:
                    raise PermissionDenied(
                        f"The {page.title} page needs an admin token; a gateway key opens"
                        " only the chat.",
                        code="admin_role_required",
                    )
                if not view.employee and not page.visible_to(identity.role):
                    raise PermissionDenied(
                        f"The {page.title} page is not open to the role {identity.role.value!r}.",
                        code="admin_role_required",
                    )
                if needs is not None:
                    view.require(needs)
                if request.method == "POST":
                    check_same_origin(request)
                    view.form = await read_form(request, MAX_FORM_BYTES)
                    if not self.signer.csrf_matches(session, view.form.get("csrf")):
                        raise _csrf_refused()
                return await handler(view)
            except ApiError as exc:
                return self._error(request, exc, view)
            except StorageError as exc:
                log.error("console: %s on %s %s", exc, request.method, page.url)
                return self._error(request, exc, view)
            except Exception:
                log.exception("console: unexpected error on %s %s", request.method, page.url)
                return self._error(request, None, view)
            finally:
                log.debug(
                    "console: %s %s in %.1f ms",
                    request.method,
                    page.url,
                    (time.perf_counter() - started) * 1000,
                )

        return endpoint

    def _error(
        self, request: Request, exc: ApiError | StorageError | None, view: View | None = None
    ) -> Response:
        if isinstance(exc, ApiError):
            status, message, code = exc.status, exc.message, exc.code
        elif isinstance(exc, StorageError):
            status, message, code = 503, "The store is unavailable; try again shortly.", "storage"
        else:
            status, message, code = 500, "The console failed unexpectedly; see the logs.", "error"
        values = {"error_status": status, "message": message, "code": code}
        if view is not None:
            return view.render("error.html", status=status, **values)
        html = self.templates.get_template("error.html").render(
            prefix=PREFIX,
            page=None,
            nav=[],
            identity=None,
            csrf="",
            may=lambda _: False,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=dict(PAGE_HEADERS))


_LOGIN_REFUSED = (
    "That admin token (bat_<id>_<secret>) or gateway key (bst_<id>_<secret>) is not valid."
)


_OIDC_STATE = "The sign-in expired or was started in another browser; sign in again."


def _csrf_refused() -> PermissionDenied:
    return PermissionDenied(
        "The form's security token did not match this session; reload the page and try again.",
        code="console_csrf",
    )
