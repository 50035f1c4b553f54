"""``bastion simulate`` as a real process, driven by the official ``openai`` SDK."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bastion.cli.main import main; main()",
            "simulate",
            "--port",
            str(port),
            "--api-key",
            "sk-sim",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=15)
    assert line and line[0].strip() == f"bastion simulate listening on http://127.0.0.1:{port}/v1"
    yield f"http://127.0.0.1:{port}/v1", process
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdout.close()  # type: ignore[union-attr]
    process.stderr.close()  # type: ignore[union-attr]


def test_openai_sdk_against_the_simulator(simulator: tuple[str, subprocess.Popen[str]]) -> None:
    base_url, _ = simulator
    messages = [{"role": "user", "content": "Ping from the SDK"}]
    with OpenAI(base_url=base_url, api_key="sk-sim", max_retries=0) as client:
        chat = client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]
        assert chat.choices[0].message.content == "Ping from the SDK"
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
            "Ping from the SDK"
        )
        assert chunks[-1].usage is not None
        response = client.responses.create(model="gpt-4o", input="Hello responses")
        assert response.output_text == "Hello responses"
        with client.responses.stream(model="gpt-4o", input="Streamed answer here") as events:
            final = events.get_final_response()
        assert final.output_text == "Streamed answer here"
        embedding = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        assert len(embedding.data) == 2 and len(embedding.data[0].embedding) == 1536
        assert {m.id for m in client.models.list()} >= {"gpt-4o-mini", "text-embedding-3-small"}
        assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with (
        OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.models.list()


def test_disconnect_fault_drops_the_connection(
    simulator: tuple[str, subprocess.Popen[str]],
) -> None:
    base_url, _ = simulator
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "bye [[sim:fault=disconnect]]"}],
    }
    headers = {"authorization": "Bearer sk-sim"}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{base_url}/chat/completions", json=body, headers=headers) as reply,
    ):
        for _ in reply.iter_bytes():
            pass
    with httpx.Client() as http:
        captures = http.get(base_url.removesuffix("/v1") + "/_sim/captures").json()["captures"]
    assert captures[-1]["body"]["messages"][0]["content"].endswith("[[sim:fault=disconnect]]")


def test_sigterm_stops_cleanly(simulator: tuple[str, subprocess.Popen[str]]) -> None:
    _, process = simulator
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    assert "without completing response" not in stderr
