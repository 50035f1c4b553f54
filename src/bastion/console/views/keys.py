"""Keys: the gateway keys this identity may see (app owners: their own), a form to
create one (its secret shown once, on the answer to that form) and revocation."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from bastion.console.forms import build, parse_time, split_list
from bastion.console.page import Action, Page, View
from bastion.identity.admin import AdminRole
from bastion.server.admin_api import keys

NEW_KEY_FIELDS = ("name", "user", "app", "team", "environment", "owner")


async def _page(view: View, *, status: int = 200, **values: Any) -> Response:
    include_revoked = view.query("all") is not None
    found = await keys.list_keys(
        view.identity, view.context, limit=500, include_revoked=include_revoked
    )
    values.setdefault("issued", None)
    return view.render(
        "keys.html",
        status=status,
        keys=found.data,
        more=found.has_more,
        include_revoked=include_revoked,
        notice=view.query("notice"),
        **values,
    )


async def show(view: View) -> Response:
    """Keys, oldest first (``?all`` adds revoked and replaced ones)."""
    return await _page(view)


async def create(view: View) -> Response:
    """Create a key and show its secret this once (the page is never cached)."""
    values: dict[str, Any] = {name: view.field(name) for name in NEW_KEY_FIELDS}
    values = {name: value for name, value in values.items() if value is not None}
    if view.identity.role is AdminRole.APP_OWNER:
        values.setdefault("owner", view.identity.subject)  # an app owner's keys are its own
    values["models"] = split_list(view.field("models")) or ["*"]
    values["roles"] = split_list(view.field("roles"))
    values["expires_at"] = parse_time(view.field("expires_at"), "expires_at")
    issued = await keys.create_key(view.identity, view.context, build(keys.NewKey, values))
    return await _page(view, status=201, issued=issued)


async def revoke(view: View) -> Response:
    """Revoke a key now."""
    key_id = view.request.path_params["key_id"][:64]
    await keys.revoke_key(view.identity, view.context, key_id)
    return view.redirect("/keys", notice="revoked")


PAGE = Page(
    name="keys",
    title="Keys",
    path="/keys",
    needs=("keys.list",),
    actions=(
        Action("GET", "", show),
        Action("POST", "", create, "keys.create"),
        Action("POST", "/{key_id}/revoke", revoke, "keys.revoke"),
    ),
)
