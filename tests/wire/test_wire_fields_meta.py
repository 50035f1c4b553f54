"""CONTRACT.md §4 meta-test: every OpenAI request field is scanned, passed through or refused.

Walks the ``openai`` package's request TypedDicts (chat, responses, embeddings) and
compares their keys with ``bastion.wire.fields``: a field in neither table, in both, or
a table entry the SDK does not know (stale) fails the test, naming field and endpoint.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass
from typing import Any

import pytest
from openai.types import embedding_create_params
from openai.types.chat import completion_create_params
from openai.types.responses import response_create_params

from bastion.errors import InvalidRequest
from bastion.model import Endpoint
from bastion.wire.fields import FORBIDDEN, PASSTHROUGH, SCANNED
from bastion.wire.parse import parse_body
from bastion.wire.request import WireOptions


@dataclass(frozen=True, slots=True)
class RequestType:
    """An SDK request type for one endpoint, with its streaming/non-streaming variants."""

    endpoint: Endpoint
    base: Any
    variants: tuple[Any, ...]


REQUEST_TYPES = (
    RequestType(
        Endpoint.CHAT,
        completion_create_params.CompletionCreateParamsBase,
        (
            completion_create_params.CompletionCreateParamsStreaming,
            completion_create_params.CompletionCreateParamsNonStreaming,
        ),
    ),
    RequestType(
        Endpoint.RESPONSES,
        response_create_params.ResponseCreateParamsBase,
        (
            response_create_params.ResponseCreateParamsStreaming,
            response_create_params.ResponseCreateParamsNonStreaming,
        ),
    ),
    RequestType(Endpoint.EMBEDDINGS, embedding_create_params.EmbeddingCreateParams, ()),
)
IDS = [t.endpoint.value for t in REQUEST_TYPES]


def sdk_fields(typed_dict: Any) -> frozenset[str]:
    """The keys a request TypedDict declares (resolving its annotations must work too)."""
    hints = typing.get_type_hints(typed_dict, include_extras=True)
    keys = frozenset(typed_dict.__required_keys__ | typed_dict.__optional_keys__)
    assert keys == frozenset(hints), f"{typed_dict.__name__}: annotations and keys disagree"
    return keys


def sdk_fields_with_variants(request_type: RequestType) -> frozenset[str]:
    """Base fields plus those only the streaming/non-streaming variants add (``stream``)."""
    fields = sdk_fields(request_type.base)
    for variant in request_type.variants:
        fields |= sdk_fields(variant)
    return fields


@pytest.mark.parametrize("request_type", REQUEST_TYPES, ids=IDS)
def test_every_sdk_field_is_scanned_or_passed_through(request_type: RequestType) -> None:
    endpoint = request_type.endpoint
    known = SCANNED[endpoint] | PASSTHROUGH[endpoint]
    missing = sorted(sdk_fields_with_variants(request_type) - known)
    assert not missing, (
        f"{endpoint.value}: the openai SDK sends {missing} but bastion.wire.fields neither "
        "scans nor passes them through; add each to SCANNED (if a model reads its text) "
        "or PASSTHROUGH (numbers, booleans, enums)"
    )


@pytest.mark.parametrize("request_type", REQUEST_TYPES, ids=IDS)
def test_no_field_is_both_scanned_and_passed_through(request_type: RequestType) -> None:
    endpoint = request_type.endpoint
    both = sorted(SCANNED[endpoint] & PASSTHROUGH[endpoint])
    assert not both, f"{endpoint.value}: {both} are in both SCANNED and PASSTHROUGH"


@pytest.mark.parametrize("request_type", REQUEST_TYPES, ids=IDS)
def test_tables_name_no_field_the_sdk_lacks(request_type: RequestType) -> None:
    endpoint = request_type.endpoint
    stale = sorted(
        (SCANNED[endpoint] | PASSTHROUGH[endpoint]) - sdk_fields_with_variants(request_type)
    )
    assert not stale, (
        f"{endpoint.value}: bastion.wire.fields lists {stale}, which the openai SDK's "
        f"{request_type.base.__name__} does not have (stale entries)"
    )


@pytest.mark.parametrize("request_type", REQUEST_TYPES, ids=IDS)
def test_stream_comes_only_from_the_variant_types(request_type: RequestType) -> None:
    """The exemption above is only for ``stream``: the variants add nothing else."""
    extra = sdk_fields_with_variants(request_type) - sdk_fields(request_type.base)
    assert extra <= {"stream"}, f"{request_type.endpoint.value}: variants add {sorted(extra)}"


def test_forbidden_fields_are_never_accepted() -> None:
    for endpoint in (Endpoint.CHAT, Endpoint.RESPONSES, Endpoint.EMBEDDINGS):
        clash = sorted(FORBIDDEN & (SCANNED[endpoint] | PASSTHROUGH[endpoint]))
        assert not clash, f"{endpoint.value}: {clash} are both forbidden and accepted"


MINIMAL_BODIES: dict[Endpoint, dict[str, Any]] = {
    Endpoint.CHAT: {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    Endpoint.RESPONSES: {"model": "gpt-4o-mini", "input": "hi"},
    Endpoint.EMBEDDINGS: {"model": "text-embedding-3-small", "input": "hi"},
}


@pytest.mark.parametrize("endpoint", list(MINIMAL_BODIES), ids=lambda e: e.value)
def test_minimal_bodies_parse(endpoint: Endpoint) -> None:
    """The bodies the FORBIDDEN test extends are themselves accepted."""
    parsed = parse_body(json.dumps(MINIMAL_BODIES[endpoint]).encode(), endpoint, WireOptions())
    assert parsed.conversation.segments[0].text == "hi"


@pytest.mark.parametrize("endpoint", list(MINIMAL_BODIES), ids=lambda e: e.value)
@pytest.mark.parametrize("field", sorted(FORBIDDEN))
def test_forbidden_field_is_refused(field: str, endpoint: Endpoint) -> None:
    body = {**MINIMAL_BODIES[endpoint], field: "http://attacker.example/v1"}
    with pytest.raises(InvalidRequest) as caught:
        parse_body(json.dumps(body).encode(), endpoint, WireOptions())
    assert caught.value.status == 400
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == field


@pytest.mark.parametrize("field", sorted(FORBIDDEN))
def test_forbidden_field_cannot_be_allowed_by_configuration(field: str) -> None:
    """``wire.passthrough_fields`` extends the pass-through set but never unlocks these."""
    body = {**MINIMAL_BODIES[Endpoint.CHAT], field: "x"}
    options = WireOptions(extra_passthrough=frozenset({field}))
    with pytest.raises(InvalidRequest) as caught:
        parse_body(json.dumps(body).encode(), Endpoint.CHAT, options)
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == field
