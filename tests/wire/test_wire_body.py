"""Strict body decoding: the duplicate-key check's fast and exact paths agree."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import InvalidRequest
from bastion.wire.body import decode_json_object


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"a":1,"a":2}', id="compact"),
        pytest.param(b'{"a" : 1, "b": {"c": 1, "c" : 2}}', id="spaced-nested"),
        pytest.param(b'{"x":"say \\":\\" twice","a":1,"a":1}', id="escaped-quote-colon-too"),
        pytest.param(b'{"m":[{"k":1},{"k":1,"k":2}]}', id="in-a-list"),
        pytest.param(b'{"a\\u0062":1,"ab":2}', id="escaped-spelling"),
    ],
)
def test_duplicate_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_json_object(raw)
    assert caught.value.code == "invalid_json" and "appears twice" in caught.value.message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"x":"a \\": b","y":"\\":"}', id="escaped-quote-colon-in-values"),
        pytest.param(b'{ "a" :\n1 , "b"\t: [ {"a": 1} ] }', id="spaced"),
        pytest.param(b'{"k":{"k":{"k":1}}}', id="same-name-other-objects"),
    ],
)
def test_unique_keys_are_accepted(raw: bytes) -> None:
    assert decode_json_object(raw) == json.loads(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='ab":\\ ', max_size=3), children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(st.text(alphabet='ab":\\ ', max_size=3), json_values, max_size=4),
    st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]),
)
def test_any_valid_object_decodes_to_what_json_reads(
    value: dict[str, object], separators: tuple[str, str]
) -> None:
    raw = json.dumps(value, separators=separators).encode()
    assert decode_json_object(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1e400}',
        b'{"a":123456789012345678901234}',
        b'{"a":NaN}',
        b'{"a":"\\ud800"}',
        b"\xff",
        b"[1]",
        b"[" * 70 + b"]" * 70,
        b'{"a":' + b"[" * 70 + b"]" * 70 + b"}",
    ],
)
def test_what_a_strict_reader_refuses(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_json_object(raw)
    assert caught.value.code == "invalid_json"
