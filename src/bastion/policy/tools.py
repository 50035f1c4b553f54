"""The policy's ``tools:`` section compiled: which tools a caller may offer, which calls
the model may make and with what arguments.

Everything is checked and compiled at load (tool globs, JSON Schemas with
fastjsonschema, RE2 patterns, domain allow-lists); deciding a call only picks the plan
of the first ``offer`` entry whose match holds for its principal and routed model. The
plans are built once per entry, so a decision hands out a shared, immutable object.

Argument values come from the model's answer: they are untrusted text, checked only
with RE2, sets of characters and ``urllib.parse``, and refusal reasons never quote them.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit

import fastjsonschema
import re2

from bastion.model import Principal
from bastion.model.controls import OnDisallowedCall, OnDisallowedOffer, ToolRefusal
from bastion.policy.document import ArgumentCheck, ToolConstraint, ToolMatch, ToolsSection

OFFER_RULE = "tools.offer"
"""The rule a tool is refused by when the policy has ``offer`` entries and none matches."""
CAP_RULE = "tools.max_calls"
"""The rule calls beyond ``max_calls_per_answer`` are refused by."""
ARGUMENTS_RULE = "tools.arguments"
"""The rule unreadable arguments are refused by when neither a constraint nor an offer
entry speaks for the tool."""
MAX_ARGUMENTS_BYTES = 64 * 1024
SHELL_METACHARACTERS = frozenset(";&|$`<>(){}[]*?!\\'\"\n\r\x00")
"""Characters ``no_shell`` refuses: command separators, pipes, redirection, expansion,
substitution, globbing, quoting and escapes, line breaks and NUL."""

_PRINCIPAL_FIELDS = ("key_id", "name", "user", "app", "team", "environment", "owner")
_CACHE_LIMIT = 4096
_UNSAFE_KEYWORDS = ("pattern", "patternProperties", "format")
"""JSON Schema keywords fastjsonschema checks with Python's backtracking ``re``."""
_SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"}
)
"""Keywords whose value maps names (not keywords) to subschemas."""
_SCHEMA_DATA = frozenset({"enum", "const", "default", "examples", "required"})
"""Keywords whose value is data, not schema."""
_DOMAIN = re.compile(r"(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*")  # allow-list entries (config)


class ToolRulesError(ValueError):
    """An inconsistent ``tools:`` section; ``where`` is the key path inside it."""

    def __init__(self, where: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.where = where


# -- argument checks -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArgumentRule:
    """The checks on one top-level argument, compiled."""

    name: str
    domains: tuple[str, ...] | None
    no_shell: bool
    pattern: Any  # a compiled RE2 expression (the binding ships no type stubs), or None
    max_length: int | None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused (free of the value itself); None: it passes."""
        if isinstance(value, list):
            for item in value:
                problem = self._one(item)
                if problem is not None:
                    return problem
            return None
        return self._one(value)

    def _one(self, value: Any) -> str | None:
        label = f"argument {self.name!r}"
        if not isinstance(value, str):
            needs_text = self.domains is not None or self.pattern is not None
            if needs_text or isinstance(value, dict | list):
                return f"{label} is not a string"
            return None  # numbers, booleans and null carry no URL, command or text
        if self.max_length is not None and len(value) > self.max_length:
            return f"{label} is longer than {self.max_length} characters"
        if self.no_shell and not SHELL_METACHARACTERS.isdisjoint(value):
            return f"{label} contains shell metacharacters"
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            return f"{label} does not match its pattern"
        if self.domains is not None:
            host = url_host(value)
            if host is None:
                return f"{label} is not a plain http(s) URL"
            if not host_allowed(host, self.domains):
                return f"{label} points to a host not on the allow-list"
        return None


def url_host(value: str) -> str | None:
    """The host of an http(s) URL, lower-case ASCII (IDNA), or None when ``value`` is not
    one a tool could fetch unambiguously: other schemes, userinfo (``a.com@b.com``),
    whitespace, control characters, backslashes, percent-encoded or empty hosts."""
    if not value or any(c.isspace() or c < " " or c in "\\\x7f" for c in value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return None
    netloc = parts.netloc
    if parts.scheme not in ("http", "https") or "@" in netloc or "%" in netloc or not host:
        return None
    if host.endswith("."):
        host = host[:-1]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host.lower() or None


def host_allowed(host: str, domains: Sequence[str]) -> bool:
    """Whether ``host`` is one of ``domains`` (``*.example.com``: any subdomain of it)."""
    for domain in domains:
        if domain.startswith("*."):
            if host.endswith(domain[1:]):
                return True
        elif host == domain:
            return True
    return False


def normalise_domain(entry: str) -> str | None:
    """An allow-list entry as hosts compare to it (lower-case, IDNA); None: not a host
    name or ``*.`` followed by one."""
    wild = entry.startswith("*.")
    name = entry[2:] if wild else entry
    name = name.rstrip(".").lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    result = f"*.{name}" if wild else name
    return result if _DOMAIN.fullmatch(result) is not None else None


def parse_arguments(arguments: str) -> tuple[dict[str, Any] | None, str]:
    """The arguments object of a tool call, or None and why it is refused."""
    if len(arguments) * 4 > MAX_ARGUMENTS_BYTES and (
        len(arguments.encode("utf-8", "surrogatepass")) > MAX_ARGUMENTS_BYTES
    ):
        return None, f"arguments are larger than {MAX_ARGUMENTS_BYTES // 1024} KiB"
    try:
        value = json.loads(
            arguments, object_pairs_hook=_object_without_repeats, parse_constant=_no_constant
        )
    except (ValueError, RecursionError):
        return None, "arguments are not valid JSON"
    if not isinstance(value, dict):
        return None, "arguments are not a JSON object"
    return value, ""


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key reads differently in different parsers: the checked value might
    # not be the one the tool uses.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("repeated key")
    return result


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


# -- constraints -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledConstraint:
    """One ``constraints`` entry: the tools it names, its schema and argument rules."""

    id: str
    tools: tuple[str, ...]
    validate: Callable[[Any], Any] | None
    declared: frozenset[str]
    """Property names the schema declares (a refusal may name a path made of them)."""
    arguments: tuple[ArgumentRule, ...]

    def names(self, tool: str) -> bool:
        return any(fnmatch.fnmatchcase(tool, glob) for glob in self.tools)

    def problem(self, arguments: dict[str, Any]) -> str | None:
        """Why these parsed arguments break the constraint; None: they do not."""
        if self.validate is not None:
            try:
                self.validate(arguments)
            except fastjsonschema.JsonSchemaValueException as exc:
                return f"arguments do not match the schema ({exc.rule} at {self._path(exc)})"
            except RecursionError:
                return "arguments are nested too deeply"
        for rule in self.arguments:
            if rule.name in arguments:
                problem = rule.problem(arguments[rule.name])
                if problem is not None:
                    return problem
        return None

    def _path(self, exc: fastjsonschema.JsonSchemaValueException) -> str:
        parts = [str(p) for p in (exc.path or ["data"])[1:]]
        if all(p.isdigit() or p in self.declared for p in parts):
            return ".".join(["arguments", *parts])
        return "arguments"  # a name the schema does not declare came from the answer


def compile_constraint(index: int, entry: ToolConstraint) -> CompiledConstraint:
    """Compile one constraint; ``ToolRulesError`` names what is wrong and where."""
    where: tuple[str | int, ...] = ("constraints", index)
    validate = None
    declared: frozenset[str] = frozenset()
    if entry.schema_ is not None:
        unsafe = next(unsafe_schema_keywords(entry.schema_), None)
        if unsafe is not None:
            path, keyword = unsafe
            raise ToolRulesError(
                (*where, "schema", *path), _unsafe_message(entry.id, path, keyword)
            )
        try:
            validate = fastjsonschema.compile(
                entry.schema_, handlers=_NO_REMOTE_REFS, use_default=False, use_formats=False
            )
        except Exception as exc:  # fastjsonschema raises several kinds for a bad schema
            raise ToolRulesError(
                (*where, "schema"), f"constraint {entry.id!r}: the schema does not compile: {exc}"
            ) from exc
        declared = frozenset(_declared_names(entry.schema_))
    rules = []
    for name, check in entry.arguments.items():
        rules.append(_argument_rule(entry.id, name, check, (*where, "arguments", name)))
    return CompiledConstraint(entry.id, tuple(entry.tool), validate, declared, tuple(rules))


def _unsafe_message(constraint: str, path: tuple[str | int, ...], keyword: str) -> str:
    if keyword == "$ref":
        return (
            f"constraint {constraint!r}: a schema may refer only to its own parts ($ref: '#/...')"
        )
    name = path[1] if len(path) > 2 and path[0] == "properties" else "<name>"
    return (
        f"constraint {constraint!r}: the schema keyword {keyword!r} would run Python's "
        "backtracking regular expressions on the model's output; check strings with "
        f"arguments.{name}.pattern (RE2) or arguments.{name}.domains (URLs) instead"
    )


def _argument_rule(
    constraint: str, name: str, check: ArgumentCheck, where: tuple[str | int, ...]
) -> ArgumentRule:
    pattern = None
    if check.pattern is not None:
        options = re2.Options()
        options.log_errors = False
        try:
            pattern = re2.compile(check.pattern, options)
        except re2.error as exc:
            detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ToolRulesError(
                (*where, "pattern"),
                f"constraint {constraint!r}: not an RE2 expression: {detail}",
            ) from exc
    domains = None
    if check.domains is not None:
        normalised = []
        for entry in check.domains:
            domain = normalise_domain(entry)
            if domain is None:
                raise ToolRulesError(
                    (*where, "domains"),
                    f"constraint {constraint!r}: {entry!r} is not a host name "
                    "(example.com) or *. and one (*.example.com)",
                )
            normalised.append(domain)
        domains = tuple(normalised)
    return ArgumentRule(name, domains, check.no_shell, pattern, check.max_length)


def _refuse_remote(uri: str) -> NoReturn:
    raise ValueError("a schema may refer only to its own parts ($ref: '#/...')")


_NO_REMOTE_REFS: Mapping[str, Callable[[str], Any]] = {
    scheme: _refuse_remote for scheme in ("http", "https", "file", "ftp", "data", "")
}


def unsafe_schema_keywords(schema: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, keyword) of each keyword the gateway will not run on answer text: regular
    expressions (``pattern``, ``patternProperties``, ``format``) and references outside
    the schema (``$ref`` not starting with ``#``)."""
    yield from _walk(schema, ())


def _walk(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, (*path, index))
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in _UNSAFE_KEYWORDS:
            yield (*path, key), key
        elif key == "$ref" and not (isinstance(value, str) and value.startswith("#")):
            yield (*path, key), "$ref"
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for name, subschema in value.items():
                yield from _walk(subschema, (*path, key, name))
        elif key not in _SCHEMA_DATA:
            yield from _walk(value, (*path, key))


def _declared_names(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _declared_names(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            if key not in _SCHEMA_DATA:
                yield from _declared_names(value)


# -- plans -----------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class ResolvedToolPlan:
    """The tool rules of calls one ``offer`` entry decided (a :class:`ToolPlan`).

    ``rule`` is that entry's id (``tools.offer`` when entries exist and none matched;
    None when the policy has no ``offer``), ``allow`` its tool globs (None: every tool).
    Compared and hashed by identity: a policy builds each plan once.
    """

    rule: str | None
    allow: tuple[str, ...] | None
    constraints: tuple[CompiledConstraint, ...]
    on_disallowed_offer: OnDisallowedOffer
    on_disallowed_call: OnDisallowedCall
    max_calls: int | None
    cap_rule: str = CAP_RULE
    _offers: dict[str, ToolRefusal | None] = field(default_factory=dict, repr=False)
    _named: dict[str, tuple[CompiledConstraint, ...]] = field(default_factory=dict, repr=False)

    def offer(self, name: str) -> ToolRefusal | None:
        """Whether the tool ``name`` may be offered to the model; None: it may."""
        try:
            return self._offers[name]
        except KeyError:
            pass
        refusal = None
        if self.allow is not None and not any(fnmatch.fnmatchcase(name, g) for g in self.allow):
            reason = (
                "no tool may be offered to this caller"
                if self.rule == OFFER_RULE
                else "this tool is not allowed for this caller"
            )
            refusal = ToolRefusal(name[:128], self.rule or OFFER_RULE, reason)
        if len(self._offers) < _CACHE_LIMIT:
            self._offers[name] = refusal
        return refusal

    def call(self, name: str, arguments: str) -> ToolRefusal | None:
        """Whether the model may call ``name`` with these JSON ``arguments``: the tool is
        allowed, the arguments are a JSON object of at most 64 KiB without repeated
        keys, and every constraint naming the tool holds; None: it may."""
        refusal = self.offer(name)
        if refusal is not None:
            return refusal
        constraints = self._constraints(name)
        parsed, problem = parse_arguments(arguments)
        if parsed is None:
            rule = constraints[0].id if constraints else self.rule or ARGUMENTS_RULE
            return ToolRefusal(name[:128], rule, problem)
        for constraint in constraints:
            problem_ = constraint.problem(parsed)
            if problem_ is not None:
                return ToolRefusal(name[:128], constraint.id, problem_)
        return None

    def _constraints(self, name: str) -> tuple[CompiledConstraint, ...]:
        named = self._named.get(name)
        if named is None:
            named = tuple(c for c in self.constraints if c.names(name))
            if len(self._named) < _CACHE_LIMIT:
                self._named[name] = named
        return named


@dataclass(frozen=True, slots=True)
class _Offer:
    """An ``offer`` entry's conditions (None: no condition on that field)."""

    principal: tuple[tuple[str, tuple[str, ...]], ...]
    roles: tuple[str, ...] | None
    models: tuple[str, ...] | None

    @classmethod
    def of(cls, match: ToolMatch) -> _Offer:
        principal = tuple(
            (name, tuple(getattr(match, name)))
            for name in _PRINCIPAL_FIELDS
            if getattr(match, name) is not None
        )
        roles = tuple(match.roles) if match.roles is not None else None
        models = tuple(match.models) if match.models is not None else None
        return cls(principal, roles, models)

    def holds_for(self, principal: Principal) -> bool:
        for name, globs in self.principal:
            value = getattr(principal, name)
            if value is None or not any(fnmatch.fnmatchcase(value, g) for g in globs):
                return False
        if self.roles is not None:
            globs = self.roles
            return any(fnmatch.fnmatchcase(role, g) for role in principal.roles for g in globs)
        return True

    def takes(self, model: str) -> bool:
        return self.models is None or any(fnmatch.fnmatchcase(model, g) for g in self.models)


class ToolRules:
    """A compiled ``tools:`` section: resolves the plan for a principal and model."""

    def __init__(self, section: ToolsSection) -> None:
        self.section = section
        ids: dict[str, tuple[str | int, ...]] = {}
        for index, offer in enumerate(section.offer or ()):
            _unique(ids, offer.id, ("offer", index, "id"))
        for index, constraint in enumerate(section.constraints):
            _unique(ids, constraint.id, ("constraints", index, "id"))
        self.ids = frozenset(ids)
        """Every rule id the section defines (offer entries and constraints)."""
        constraints = tuple(compile_constraint(i, c) for i, c in enumerate(section.constraints))

        def plan(rule: str | None, allow: Sequence[str] | None) -> ResolvedToolPlan:
            return ResolvedToolPlan(
                rule=rule,
                allow=tuple(allow) if allow is not None else None,
                constraints=constraints,
                on_disallowed_offer=section.on_disallowed_offer,
                on_disallowed_call=section.on_disallowed_call,
                max_calls=section.max_calls_per_answer,
            )

        entries = section.offer
        self._offers = tuple(_Offer.of(entry.match) for entry in entries or ())
        self.plans = tuple(plan(entry.id, entry.allow) for entry in entries or ())
        """One plan per ``offer`` entry, in order."""
        self.fallback = plan(OFFER_RULE, ()) if entries is not None else plan(None, None)
        """The plan when no entry matches: nothing allowed (entries given) or anything."""
        self._principals: dict[Principal, dict[str, ResolvedToolPlan]] = {}

    def plan_for(self, principal: Principal, model: str) -> ResolvedToolPlan:
        """The plan of the first ``offer`` entry whose match holds (cached per principal
        and model: a key's principal is the same object call after call)."""
        if not self._offers:
            return self.fallback
        by_model = self._principals.get(principal)
        if by_model is None:
            by_model = {}
            if len(self._principals) < _CACHE_LIMIT:
                self._principals[principal] = by_model
        resolved = by_model.get(model)
        if resolved is None:
            resolved = next(
                (
                    self.plans[i]
                    for i, offer in enumerate(self._offers)
                    if offer.holds_for(principal) and offer.takes(model)
                ),
                self.fallback,
            )
            if len(by_model) < _CACHE_LIMIT:
                by_model[model] = resolved
        return resolved


def _unique(
    ids: dict[str, tuple[str | int, ...]], value: str, where: tuple[str | int, ...]
) -> None:
    if value in ids:
        raise ToolRulesError(where, f"id {value!r} is repeated in tools")
    ids[value] = where
