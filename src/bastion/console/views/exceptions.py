"""Exceptions queue: requests and their state, a form to request one, and approve,
deny (with a note saying why) or revoke; each goes through the governance service,
which checks who may and records an admin event."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from bastion.console.forms import build, parse_time
from bastion.console.page import Action, Page, View
from bastion.errors import InvalidRequest
from bastion.model.exceptions import ExceptionState
from bastion.server.admin_api import exceptions

SCOPE_FIELDS = ("app", "team", "user", "key_id")


async def _page(view: View, *, status: int = 200, **values: Any) -> Response:
    state_name = view.query("state")
    state = None
    if state_name is not None:
        try:
            state = ExceptionState(state_name)
        except ValueError:
            raise InvalidRequest(
                "state is requested, approved, denied, revoked or expired", param="state"
            ) from None
    found = await exceptions.list_exceptions(view.identity, view.context, limit=500, state=state)
    return view.render(
        "exceptions.html",
        status=status,
        items=sorted(found.data, key=lambda item: item.created_at, reverse=True),
        more=found.has_more,
        states=[s.value for s in ExceptionState],
        state=state_name or "",
        notice=view.query("notice"),
        warn=view.query("warn"),
        **values,
    )


async def show(view: View) -> Response:
    """Exceptions, newest first (``?state=`` narrows)."""
    return await _page(view)


async def request(view: View) -> Response:
    """Ask for an exception to a rule, for a scope, until a time."""
    scope = {name: view.field(name) for name in SCOPE_FIELDS if view.field(name)}
    body = build(
        exceptions.ExceptionRequest,
        {
            "rule": view.field("rule"),
            "scope": scope,
            "justification": view.field("justification"),
            "expires_at": parse_time(view.field("expires_at"), "expires_at"),
            "owner": view.field("owner"),
        },
    )
    info = await exceptions.request_exception(view.identity, view.context, body)
    return view.redirect("/exceptions", notice="requested", **_warned(info))


def _warned(info: exceptions.ExceptionInfo) -> dict[str, str]:
    """A fixed warning name for the page after the redirect (never the warning's text:
    a link could carry any text to show as the console's own)."""
    return {"warn": "no_such_rule"} if info.warnings else {}


def _decision(view: View) -> exceptions.ExceptionDecision:
    return build(exceptions.ExceptionDecision, {"note": view.field("note")})


def _id(view: View) -> str:
    return str(view.request.path_params["exception_id"])[:64]


def _approval(view: View) -> exceptions.ExceptionApproval:
    """The note and the expiry the approver set: a duration from now (``7d``, ``12h``)
    or a date or time (UTC unless it names a zone); empty keeps the requested one."""
    values: dict[str, Any] = {"note": view.field("note")}
    expires = view.field("expires")
    if expires is not None and expires[-1:] in ("m", "h", "d", "w") and expires[:-1].isdigit():
        values["expires_in"] = expires
    elif expires is not None:
        values["expires_at"] = parse_time(expires, "expires")
    return build(exceptions.ExceptionApproval, values)


async def approve(view: View) -> Response:
    """Approve a requested exception (not one's own), until the expiry the approver set."""
    info = await exceptions.approve_exception(
        view.identity, view.context, _id(view), _approval(view)
    )
    return view.redirect("/exceptions", notice="approved", **_warned(info))


async def deny(view: View) -> Response:
    """Deny a requested exception (its requester may withdraw it so)."""
    await exceptions.deny_exception(view.identity, view.context, _id(view), _decision(view))
    return view.redirect("/exceptions", notice="denied")


async def revoke(view: View) -> Response:
    """End an approved exception now."""
    await exceptions.revoke_exception(view.identity, view.context, _id(view), _decision(view))
    return view.redirect("/exceptions", notice="revoked")


PAGE = Page(
    name="exceptions",
    title="Exceptions",
    path="/exceptions",
    needs=("exceptions.list",),
    actions=(
        Action("GET", "", show),
        Action("POST", "", request, "exceptions.request"),
        Action("POST", "/{exception_id}/approve", approve, "exceptions.approve"),
        Action("POST", "/{exception_id}/deny", deny, "exceptions.deny"),
        Action("POST", "/{exception_id}/revoke", revoke, "exceptions.revoke"),
    ),
)
