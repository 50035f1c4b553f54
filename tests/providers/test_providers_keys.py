"""Provider keys as operators set them: from a variable or a file, newline and all."""

from __future__ import annotations

from pathlib import Path

import pytest
from providers_fakes import CHAT_OK

from bastion.config import load_config
from bastion.errors import ConfigError
from bastion.model import Endpoint

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}


def config_file(tmp_path: Path, base_url: str, key_line: str) -> Path:
    path = tmp_path / "bastion.yaml"
    path.write_text(
        "providers:\n"
        "  p1:\n"
        "    kind: openai\n"
        f"    base_url: {base_url}\n"
        f"    {key_line}\n"
        "models:\n"
        "  gpt-4o-mini: {targets: [{provider: p1, model: m}]}\n"
    )
    return path


async def test_a_key_variable_with_its_trailing_newline_still_authenticates(
    tmp_path: Path, upstream, make_router
) -> None:
    # KEY=$(cat key.txt) keeps no newline, but an env file or a secret mount often does;
    # sending it broke the request inside the HTTP client (a 500 internal_error)
    path = config_file(tmp_path, upstream.base_url, 'api_key: "${KEY}"')
    config = load_config(path, environ={"KEY": "sk-provider-123\n"})
    router = await make_router(config)
    result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
    assert result.status == 200 and CHAT_OK["id"] in result.body.decode()
    assert upstream.seen[0].headers["authorization"] == "Bearer sk-provider-123"


def test_a_key_with_a_line_break_inside_is_a_load_error(tmp_path: Path) -> None:
    path = config_file(tmp_path, "http://up/v1", 'api_key: "${KEY}"')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"KEY": "sk-canary-77\r\nx-evil: 1"})
    message = str(caught.value)
    assert f"{path}:5: providers.p1.api_key:" in message and "line break" in message
    assert "canary" not in message


def test_a_key_file_of_two_lines_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("sk-canary-88\nsk-second-line\n")
    path = config_file(tmp_path, "http://up/v1", "api_key_file: key.txt")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "providers.p1.api_key_file" in message and "canary" not in message
