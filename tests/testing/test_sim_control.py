"""Control API: scripted replies per model, times, directives, captures and stats."""

from __future__ import annotations

import httpx
import pytest

from bastion.testing import SimulatorOptions, create_app


def _chat(model: str, text: str = "echo me") -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


async def _content(client: httpx.AsyncClient, model: str, text: str = "echo me") -> str:
    response = await client.post("/v1/chat/completions", json=_chat(model, text))
    return str(response.json()["choices"][0]["message"]["content"])


async def test_script_is_fifo_then_back_to_echo(client: httpx.AsyncClient) -> None:
    replies = [{"content": "one"}, {"content": "two", "times": 2}]
    queued = await client.post("/_sim/script", json={"replies": replies})
    assert queued.json()["queued"] == 2
    answers = [await _content(client, "gpt-4o") for _ in range(4)]
    assert answers == ["one", "two", "two", "echo me"]


async def test_model_scoped_script_leaves_other_models_alone(client: httpx.AsyncClient) -> None:
    await client.post("/_sim/script", json={"replies": [{"content": "for 4o"}], "model": "gpt-4o"})
    assert await _content(client, "gpt-4o-mini") == "echo me"
    assert await _content(client, "gpt-4o") == "for 4o"
    assert await _content(client, "gpt-4o") == "echo me"


async def test_status_reply_with_times(client: httpx.AsyncClient) -> None:
    await client.post("/_sim/script", json={"replies": [{"status": 503, "times": 2}]})
    statuses = [
        (await client.post("/v1/chat/completions", json=_chat("gpt-4o"))).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]


@pytest.mark.parametrize(
    "replies",
    [
        [{"fault": "explode"}],
        [{"times": 0, "content": "x"}],
        [{"tool_calls": [{"name": "f", "arguments": {"not": "a string"}}]}],
        ["not an object"],
        [{}],
    ],
)
async def test_bad_script_is_refused_whole(
    client: httpx.AsyncClient, replies: list[object]
) -> None:
    response = await client.post("/_sim/script", json={"replies": [{"content": "ok"}, *replies]})
    assert response.status_code == 400
    assert await _content(client, "gpt-4o") == "echo me"


async def test_fault_directive_with_params(client: httpx.AsyncClient) -> None:
    text = "please fail [[sim:fault=status,status=400,code=context_length_exceeded]]"
    response = await client.post("/v1/chat/completions", json=_chat("gpt-4o", text))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert response.json()["error"]["param"] == "messages"


async def test_unknown_fault_directive_is_a_clear_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=_chat("gpt-4o", "[[sim:fault=nope]]"))
    assert response.status_code == 400
    assert "nope" in response.json()["error"]["message"]


async def test_captures_record_requests_newest_last_and_clear(client: httpx.AsyncClient) -> None:
    await client.post("/v1/chat/completions", json=_chat("gpt-4o", "first"))
    await client.post(
        "/v1/chat/completions", json=_chat("gpt-4o", "second"), headers={"X-Trace": "t1"}
    )
    captures = (await client.get("/_sim/captures")).json()["captures"]
    assert [c["body"]["messages"][0]["content"] for c in captures] == ["first", "second"]
    last = captures[-1]
    assert last["path"] == "/v1/chat/completions" and last["method"] == "POST"
    assert last["headers"]["x-trace"] == "t1"
    assert last["headers"]["authorization"] == "Bearer sk-test"
    assert isinstance(last["received_at"], float)
    await client.delete("/_sim/captures")
    assert (await client.get("/_sim/captures")).json()["captures"] == []


async def test_captures_are_bounded_and_keep_bad_json_as_null() -> None:
    app = create_app(SimulatorOptions(capture_limit=2))
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": "Bearer k"}
    async with httpx.AsyncClient(transport=transport, base_url="http://s", headers=headers) as http:
        for text in ("a", "b", "c"):
            await http.post("/v1/chat/completions", json=_chat("gpt-4o", text))
        await http.post("/v1/chat/completions", content=b"{broken")
        captures = (await http.get("/_sim/captures")).json()["captures"]
    assert len(captures) == 2
    assert captures[0]["body"]["messages"][0]["content"] == "c"
    assert captures[1]["body"] is None


async def test_stats_count_routes_statuses_and_faults(client: httpx.AsyncClient) -> None:
    await client.post("/v1/chat/completions", json=_chat("gpt-4o"))
    await client.post("/v1/chat/completions", json=_chat("gpt-4o", "[[sim:fault=rate_limit]]"))
    await client.get("/v1/models")
    stats = (await client.get("/_sim/stats")).json()
    assert stats["requests"] == 3
    assert stats["by_route"] == {"chat": 2, "models": 1}
    assert stats["by_status"] == {"200": 2, "429": 1}
    assert stats["faults"] == {"rate_limit": 1}
    await client.post("/_sim/reset")
    assert (await client.get("/_sim/stats")).json()["requests"] == 0
