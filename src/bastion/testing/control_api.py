"""The simulator's control routes (no authentication; tests and demos call them).

* ``POST /_sim/script`` ``{"replies": [...], "model": "optional"}`` queue replies;
  ``DELETE /_sim/script`` drops them.
* ``GET /_sim/captures`` ``{"captures": [...]}`` newest last; ``DELETE`` clears them.
* ``GET /_sim/stats`` request counts; ``POST /_sim/reset`` clears everything;
  ``GET /_sim/health`` answers ``{"status": "ok"}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from bastion.testing.asgi import Receive, Scope, Send, read_body, send_json
from bastion.testing.control import SimulatorState


def _bad_request(message: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }


async def _script(state: SimulatorState, receive: Receive) -> tuple[int, Any]:
    try:
        payload = orjson.loads(await read_body(receive))
    except orjson.JSONDecodeError:
        return 400, _bad_request('body must be JSON: {"replies": [...], "model": optional}')
    if not isinstance(payload, dict) or not isinstance(payload.get("replies"), list):
        return 400, _bad_request('body must be {"replies": [...], "model": optional}')
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        return 400, _bad_request("'model' must be a string")
    try:
        queued = state.enqueue(payload["replies"], model)
    except ValueError as error:
        return 400, _bad_request(str(error))
    return 200, {"queued": queued, "model": model}


async def handle_control(state: SimulatorState, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one ``/_sim/...`` request."""
    route = (scope["method"], scope["path"].rstrip("/"))
    status: int = 200
    payload: Any
    if route == ("POST", "/_sim/script"):
        status, payload = await _script(state, receive)
    elif route == ("DELETE", "/_sim/script"):
        state.clear_script()
        payload = {"cleared": True}
    elif route == ("GET", "/_sim/captures"):
        payload = {"captures": list(state.captures)}
    elif route == ("DELETE", "/_sim/captures"):
        state.captures.clear()
        payload = {"cleared": True}
    elif route == ("GET", "/_sim/stats"):
        payload = state.stats()
    elif route == ("POST", "/_sim/reset"):
        state.clear_script()
        state.captures.clear()
        state.requests.clear()
        state.statuses.clear()
        state.faults.clear()
        payload = {"reset": True}
    elif route == ("GET", "/_sim/health"):
        payload = {"status": "ok"}
    else:
        status = 404
        payload = _bad_request(f"Invalid URL ({scope['method']} {scope['path']})")
    await send_json(send, status, payload)
