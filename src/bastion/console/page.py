"""What a console page is: a name and title in the navigation, the admin API routes a
role must be allowed to call to see it (the API's own permission table decides), and
its actions (GET views and POST forms), each handed a ``View`` of the request.

A new page is one module under ``console.views`` with a ``PAGE`` and one line in
``console.app.PAGES``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bastion.console.security import PAGE_HEADERS
from bastion.console.session import GATEWAY_KEY, Session
from bastion.errors import InvalidRequest, PermissionDenied
from bastion.identity.admin import AdminIdentity, AdminRole
from bastion.server.admin_api.context import AdminContext
from bastion.server.admin_api.permissions import PERMISSIONS

PREFIX = "/console"
"""Where the console is served on the admin port."""
MAX_FIELD_CHARS = 200


def may(role: AdminRole, route: str) -> bool:
    """Whether ``role`` may call the admin API route ``route`` (its permission table)."""
    return role in PERMISSIONS.get(route, frozenset())


@dataclass(frozen=True, slots=True)
class Action:
    """One URL of a page: ``path`` is relative to the page's, ``needs`` the admin API
    route it calls (checked before the handler runs; None: the page's own)."""

    method: str
    path: str
    handler: Callable[[View], Awaitable[Response]]
    needs: str | None = None

    def __post_init__(self) -> None:
        if self.method not in ("GET", "POST"):
            raise ValueError("console actions are GET or POST")
        if self.needs is not None and self.needs not in PERMISSIONS:
            raise ValueError(f"{self.needs!r} is not an admin API route")


@dataclass(frozen=True, slots=True)
class Page:
    """A page in the navigation and the actions under its path; ``employees``: also open
    to a session opened with a gateway key (the governed chat), which sees no other."""

    name: str
    title: str
    path: str
    needs: tuple[str, ...]
    actions: tuple[Action, ...]
    employees: bool = False

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or self.path.endswith("/"):
            raise ValueError("a page path starts with / and does not end with one")
        unknown = [route for route in self.needs if route not in PERMISSIONS]
        if unknown or not self.needs:
            raise ValueError(f"page {self.name!r} needs admin API routes; unknown: {unknown}")

    def visible_to(self, role: AdminRole) -> bool:
        """Whether ``role`` may call every route the page reads."""
        return all(may(role, route) for route in self.needs)

    @property
    def url(self) -> str:
        return PREFIX + self.path


@dataclass(slots=True)
class View:
    """One authenticated request to a page: who asks, the gateway's admin context, the
    form (POST) and how to answer."""

    request: Request
    page: Page
    context: AdminContext
    identity: AdminIdentity
    session: Session
    csrf: str
    templates: Environment
    pages: tuple[Page, ...]
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def employee(self) -> bool:
        """Whether the session was opened with a gateway key (chat only, no admin role)."""
        return self.session.kind == GATEWAY_KEY

    def may(self, route: str) -> bool:
        """Whether this identity may call the admin API route ``route`` (never, for a
        gateway-key session: it holds no admin role)."""
        return not self.employee and may(self.identity.role, route)

    def require(self, route: str) -> None:
        """PermissionDenied unless this identity may call ``route``."""
        if not self.may(route):
            raise PermissionDenied(
                f"{self.identity.subject!r} has the role {self.identity.role.value!r}, "
                f"which may not do this ({route}).",
                code="admin_role_required",
            )

    def query(self, name: str, *, max_chars: int = MAX_FIELD_CHARS) -> str | None:
        """A query parameter, stripped; None when absent or empty."""
        value = self.request.query_params.get(name, "").strip()
        if len(value) > max_chars:
            raise InvalidRequest(f"{name} is longer than {max_chars} characters", param=name)
        return value or None

    def field(self, name: str) -> str | None:
        """A form field, stripped; None when absent or empty."""
        value = self.form.get(name, "").strip()
        return value or None

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        """The page's template with the layout's values (navigation, identity, CSRF)."""
        nav = [
            page
            for page in self.pages
            if (page.employees if self.employee else page.visible_to(self.identity.role))
        ]
        html = self.templates.get_template(template).render(
            page=self.page,
            nav=nav,
            identity=self.identity,
            csrf=self.csrf,
            prefix=PREFIX,
            may=self.may,
            employee=self.employee,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=dict(PAGE_HEADERS))

    def redirect(self, path: str, **params: str) -> Response:
        """303 to ``path`` under the console (after a POST)."""
        target = PREFIX + path + (f"?{urlencode(params)}" if params else "")
        return RedirectResponse(target, status_code=303, headers=dict(PAGE_HEADERS))
