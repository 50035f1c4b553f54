"""Stripping disallowed tools from chat, legacy-functions and Responses bodies."""

from __future__ import annotations

import copy
from fnmatch import fnmatchcase
from typing import Any, Literal

import pytest

from bastion.model.controls import ToolRefusal, tool_name
from bastion.transform.tools import strip_tools


class AllowPlan:
    """A tool plan allowing the tools that match ``globs`` (rule ``tools.test``)."""

    on_disallowed_offer: Literal["strip"] = "strip"
    on_disallowed_call: Literal["remove"] = "remove"
    max_calls = None
    cap_rule = "tools.max_calls"

    def __init__(self, *globs: str) -> None:
        self.globs = globs

    def offer(self, name: str) -> ToolRefusal | None:
        if any(fnmatchcase(name, glob) for glob in self.globs):
            return None
        return ToolRefusal(name, "tools.test", "not allowed")

    def call(self, name: str, arguments: str) -> ToolRefusal | None:
        return self.offer(name)


def _fn(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


def _chat(*tools: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": list(tools),
        **fields,
    }


def _strip(body: dict[str, Any], *globs: str) -> Any:
    before = copy.deepcopy(body)
    result = strip_tools(body, AllowPlan(*globs))
    assert body == before, "the input body was changed"
    return result


# -- chat completions ------------------------------------------------------------------


def test_disallowed_chat_tools_are_removed_and_the_rest_kept_in_order() -> None:
    body = _chat(_fn("search_docs"), _fn("run_shell"), _fn("fetch_url"))
    result = _strip(body, "search_docs", "fetch_url")
    assert [t["function"]["name"] for t in result.body["tools"]] == ["search_docs", "fetch_url"]
    assert result.stripped == (ToolRefusal("run_shell", "tools.test", "not allowed"),)
    assert result.offered == {"search_docs", "fetch_url"}
    assert result.body["messages"] is body["messages"]


def test_nothing_to_strip_returns_the_same_body() -> None:
    body = _chat(_fn("search_docs"), tool_choice="required", parallel_tool_calls=False)
    result = _strip(body, "*")
    assert result.body is body
    assert result.stripped == ()
    assert result.offered == {"search_docs"}


def test_a_body_without_tools_is_left_alone() -> None:
    body = {"model": "gpt-4o", "messages": [], "tool_choice": "none"}
    result = _strip(body)
    assert result.body is body
    assert result.offered == frozenset()


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        pytest.param(
            {"type": "function", "function": {"name": "run_shell"}}, "auto", id="named-stripped"
        ),
        pytest.param(
            {"type": "function", "function": {"name": "search_docs"}},
            {"type": "function", "function": {"name": "search_docs"}},
            id="named-kept",
        ),
        pytest.param("required", "required", id="required"),
        pytest.param("none", "none", id="none"),
        pytest.param(
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [
                        {"type": "function", "function": {"name": "run_shell"}},
                        {"type": "function", "function": {"name": "search_docs"}},
                    ],
                },
            },
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "search_docs"}}],
                },
            },
            id="allowed-tools-filtered",
        ),
        pytest.param(
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "run_shell"}}],
                },
            },
            "auto",
            id="allowed-tools-emptied",
        ),
    ],
)
def test_a_tool_choice_naming_a_stripped_tool_becomes_auto(choice: Any, expected: Any) -> None:
    body = _chat(_fn("search_docs"), _fn("run_shell"), tool_choice=choice)
    result = _strip(body, "search_docs")
    assert result.body["tool_choice"] == expected


def test_stripping_the_last_tool_drops_the_tool_fields() -> None:
    body = _chat(
        _fn("run_shell"),
        tool_choice={"type": "function", "function": {"name": "run_shell"}},
        parallel_tool_calls=True,
        temperature=0.2,
    )
    result = _strip(body, "search_*")
    for name in ("tools", "tool_choice", "parallel_tool_calls"):
        assert name not in result.body
    assert result.body["temperature"] == 0.2
    assert result.offered == frozenset()


def test_chat_custom_tools_are_named_by_their_custom_name() -> None:
    custom = {"type": "custom", "custom": {"name": "sql", "format": {"type": "text"}}}
    body = _chat(
        custom, _fn("search_docs"), tool_choice={"type": "custom", "custom": {"name": "sql"}}
    )
    result = _strip(body, "search_docs")
    assert [r.tool for r in result.stripped] == ["sql"]
    assert result.body["tool_choice"] == "auto"


def test_legacy_functions_and_function_call() -> None:
    body = {
        "model": "gpt-4o",
        "messages": [],
        "functions": [{"name": "search_docs"}, {"name": "run_shell"}],
        "function_call": {"name": "run_shell"},
    }
    result = _strip(body, "search_docs")
    assert result.body["functions"] == [{"name": "search_docs"}]
    assert result.body["function_call"] == "auto"
    emptied = _strip(body, "nothing")
    assert "functions" not in emptied.body
    assert "function_call" not in emptied.body
    assert [r.tool for r in emptied.stripped] == ["search_docs", "run_shell"]


# -- responses -------------------------------------------------------------------------


def _responses(*tools: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "input": "hi", "tools": list(tools), **fields}


RESPONSES_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": "search_docs", "parameters": {"type": "object"}},
    {"type": "custom", "name": "sql"},
    {"type": "web_search"},
    {"type": "file_search", "vector_store_ids": ["vs_1"]},
    {"type": "code_interpreter", "container": {"type": "auto"}},
    {"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.deepwiki.com/mcp"},
]


def test_responses_tools_are_named_by_name_type_or_mcp_label() -> None:
    assert [tool_name(t) for t in RESPONSES_TOOLS] == [
        "search_docs",
        "sql",
        "web_search",
        "file_search",
        "code_interpreter",
        "mcp:deepwiki",
    ]


def test_disallowed_responses_tools_are_removed() -> None:
    body = _responses(*RESPONSES_TOOLS, tool_choice={"type": "mcp", "server_label": "deepwiki"})
    result = _strip(body, "search_docs", "file_search")
    assert [tool_name(t) for t in result.body["tools"]] == ["search_docs", "file_search"]
    assert [r.tool for r in result.stripped] == [
        "sql",
        "web_search",
        "code_interpreter",
        "mcp:deepwiki",
    ]
    assert result.body["tool_choice"] == "auto"
    assert result.offered == {"search_docs", "file_search"}


def test_an_mcp_server_cannot_pass_for_an_allowed_function() -> None:
    server = {"type": "mcp", "server_label": "search_docs", "server_url": "https://evil.test/"}
    result = _strip(_responses(server), "search_docs")
    assert [r.tool for r in result.stripped] == ["mcp:search_docs"]
    assert "tools" not in result.body


def test_an_allowed_mcp_server_is_kept_by_label() -> None:
    result = _strip(_responses(*RESPONSES_TOOLS), "mcp:deep*")
    assert result.offered == {"mcp:deepwiki"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        pytest.param({"type": "function", "name": "sql"}, "auto", id="function-stripped"),
        pytest.param({"type": "custom", "name": "sql"}, "auto", id="custom-stripped"),
        pytest.param({"type": "web_search"}, "auto", id="hosted-stripped"),
        pytest.param(
            {"type": "function", "name": "search_docs"},
            {"type": "function", "name": "search_docs"},
            id="kept",
        ),
        pytest.param(
            {
                "type": "allowed_tools",
                "mode": "auto",
                "tools": [
                    {"type": "function", "name": "search_docs"},
                    {"type": "mcp", "server_label": "deepwiki"},
                    {"type": "image_generation"},
                ],
            },
            {
                "type": "allowed_tools",
                "mode": "auto",
                "tools": [{"type": "function", "name": "search_docs"}],
            },
            id="allowed-tools",
        ),
    ],
)
def test_a_responses_tool_choice_naming_a_stripped_tool_becomes_auto(
    choice: Any, expected: Any
) -> None:
    body = _responses(*RESPONSES_TOOLS, {"type": "image_generation"}, tool_choice=choice)
    result = _strip(body, "search_docs")
    assert result.body["tool_choice"] == expected


def test_stripping_every_responses_tool_drops_the_tool_fields() -> None:
    body = _responses(*RESPONSES_TOOLS, tool_choice="required", parallel_tool_calls=False)
    result = _strip(body)
    assert {"tools", "tool_choice", "parallel_tool_calls"}.isdisjoint(result.body)
    assert len(result.stripped) == len(RESPONSES_TOOLS)
