"""Policy: the active version and the one this gateway enforces, the activation history,
any stored version's text, a diff between two versions, and the simulator (a prompt and
a principal in; findings, the rules' trace and the decision out), and replay results
(the recorded calls a version would decide differently)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from bastion.console.forms import build, split_list
from bastion.console.page import Action, Page, View
from bastion.errors import ConfigError, InvalidRequest, NotFound
from bastion.server.admin_api import keys, policies, replay, simulate
from bastion.server.admin_api.policy_models import ActivePolicyInfo, DiffRequest

PRINCIPAL_FIELDS = ("user", "app", "team", "environment", "owner")
REPLAY_FIELDS = ("replay", "window", "calls", "cursor")
REPLAY_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


async def _page(view: View, **values: Any) -> Response:
    actor, context = view.identity, view.context
    try:
        active: ActivePolicyInfo | None = await policies.active_policy(actor, context)
    except NotFound:
        active = None
    history = await policies.policy_history(actor, context, limit=20)
    shown = None
    ref = view.query("version")
    if ref is not None:
        shown = await policies.policy_version(actor, context, ref)
    diff = None
    new = view.query("new")
    if new is not None and view.may("policies.diff"):
        old = view.query("old")
        request = build(
            DiffRequest,
            {"old": {"version": old} if old else None, "new": {"version": new}},
        )
        diff = await policies.diff_policy(actor, context, request)
    replayed = values.pop("replayed", None)
    if replayed is None and view.may("policies.replay") and view.query("replay") is not None:
        replayed = await _replay(view, dict(view.request.query_params))
    key_list = await keys.list_keys(actor, context, limit=200) if view.may("keys.list") else None
    values.setdefault("simulation", None)
    values.setdefault("sim_form", {})
    return view.render(
        "policy.html",
        active=active,
        history=history,
        shown=shown,
        diff=diff,
        diff_old=view.query("old") or "",
        diff_new=new or "",
        keys=key_list.data if key_list is not None else [],
        replayed=replayed,
        replay_form=values.pop("replay_form", None) or _replay_form(view.request.query_params),
        windows=tuple(REPLAY_WINDOWS),
        **values,
    )


def _replay_form(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: fields.get(name, "").strip()[:200] for name in REPLAY_FIELDS} | {
        "candidate": fields.get("candidate", "")
    }


async def _replay(view: View, fields: Mapping[str, str]) -> replay.ReplayResult:
    """Replay ``active``, a stored version (``replay``) or a pasted text (``candidate``)
    over the newest recorded calls of the window (``window``, ``calls``, ``cursor``)."""
    form = _replay_form(fields)
    window = REPLAY_WINDOWS.get(form["window"] or "7d")
    if window is None:
        raise InvalidRequest("window is one of " + ", ".join(REPLAY_WINDOWS), param="window")
    calls = form["calls"] or "500"
    ref = form["replay"] or "active"
    policy: dict[str, str] | None = None if ref == "active" else {"version": ref}
    if form["candidate"].strip():
        policy = {"content": form["candidate"], "source": "pasted candidate"}
    if not calls.isdigit() or not 1 <= int(calls) <= replay.MAX_CALLS:
        raise InvalidRequest(f"calls is a number from 1 to {replay.MAX_CALLS}", param="calls")
    body = build(replay.ReplayRequest, {"policy": policy, "since": datetime.now(UTC) - window})
    try:
        return await replay.replay_policy(
            view.identity, view.context, body, int(calls), form["cursor"] or None
        )
    except ConfigError as exc:  # a pasted text that does not compile: say where
        raise InvalidRequest(str(exc), code="invalid_policy", param="candidate") from None


async def run_replay(view: View) -> Response:
    """Replay a pasted candidate (or a version) over recent calls; show what changes."""
    result = await _replay(view, view.form)
    return await _page(view, replayed=result, replay_form=_replay_form(view.form))


async def show(view: View) -> Response:
    """The policy page (``?version=`` shows a version's text, ``?old=&new=`` a diff)."""
    return await _page(view)


async def run_simulation(view: View) -> Response:
    """Decide the pasted prompt as the chosen key or principal, and show why."""
    actor, context = view.identity, view.context
    if not view.form.get("prompt", "").strip():
        raise InvalidRequest("paste a prompt to simulate", param="prompt")
    principal: dict[str, Any] = {}
    key_id = view.field("key_id")
    if key_id is not None:
        key = await keys.get_key(actor, context, key_id[:64])
        principal = {
            "key_id": key.id,
            "name": key.name,
            "user": key.user,
            "app": key.app,
            "team": key.team,
            "environment": key.environment,
            "roles": key.roles,
            "owner": key.owner,
        }
    else:
        principal = {name: view.field(name) for name in PRINCIPAL_FIELDS if view.field(name)}
        principal["roles"] = split_list(view.field("roles"))
    body = build(
        simulate.Simulation,
        {
            "principal": principal,
            "prompt": view.form.get("prompt", ""),
            "model": view.field("model"),
            "live_exceptions": view.field("live_exceptions") is not None,
        },
    )
    result = await simulate.simulate(actor, context, body)
    return await _page(view, simulation=result, sim_form=dict(view.form))


PAGE = Page(
    name="policy",
    title="Policy",
    path="/policy",
    needs=("policies.active", "policies.history", "policies.version"),
    actions=(
        Action("GET", "", show),
        Action("POST", "/simulate", run_simulation, "policies.simulate"),
        Action("POST", "/replay", run_replay, "policies.replay"),
    ),
)
