"""``pii.ip_address`` and ``pii.mac_address``: addresses, scopes, and the version strings,
OIDs and clock times that must not pass for them."""

from __future__ import annotations

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.pii import pii_patterns

REPORTED = 0.5  # the scanner's default class threshold


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(pii_patterns())


def hits(engine: Engine, text: str, data_class: str) -> list[Hit]:
    return [h for h in engine.scan(text) if h.data_class == data_class]


def reported(engine: Engine, text: str, data_class: str) -> list[Hit]:
    return [h for h in hits(engine, text, data_class) if h.score >= REPORTED]


@pytest.mark.parametrize(
    ("text", "expected", "version"),
    [
        pytest.param("client_ip = 81.2.69.160", "81.2.69.160", "4", id="v4"),
        pytest.param("from 81.2.69.160.", "81.2.69.160", "4", id="v4-end-of-sentence"),
        pytest.param("81.2.69.160:8080", "81.2.69.160", "4", id="v4-with-port"),
        pytest.param("version 1.2.3.4 (looks like an address; reported as one)", "1.2.3.4", "4",
                     id="v4-four-part-version-is-ambiguous"),
        pytest.param("via 2a00:1450:4001:82a::200e now", "2a00:1450:4001:82a::200e", "6",
                     id="v6-compressed"),
        pytest.param("2606:4700:4700:0:0:0:0:1111", "2606:4700:4700:0:0:0:0:1111", "6",
                     id="v6-full"),
        pytest.param("peer [2a00:1450:4001:82a::200e]:443", "2a00:1450:4001:82a::200e", "6",
                     id="v6-bracketed-with-port"),
        pytest.param("DNS server 8.8.4.4", "8.8.4.4", "4", id="small-octets-with-ip-word"),
    ],
)  # fmt: skip
def test_ip_positives(engine: Engine, text: str, expected: str, version: str) -> None:
    [hit] = reported(engine, text, "pii.ip_address")
    assert hit.value == expected
    assert hit.meta == {"version": version, "scope": "global"}


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        pytest.param("see 192.168.1.1", "private", id="private-192"),
        pytest.param("10.20.30.40", "private", id="private-10"),
        pytest.param("127.0.0.1", "loopback", id="loopback"),
        pytest.param("0.0.0.0", "unspecified", id="unspecified"),
        pytest.param("169.254.10.20", "link_local", id="link-local"),
        pytest.param("fe80::1:2:3", "link_local", id="v6-link-local"),
        pytest.param("fd12:3456:789a::1", "private", id="v6-unique-local"),
    ],
)
def test_internal_addresses_score_low_with_scope(engine: Engine, text: str, scope: str) -> None:
    [hit] = hits(engine, text, "pii.ip_address")
    assert hit.meta["scope"] == scope
    assert hit.score < REPORTED


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Python 3.11.7", id="three-part-version"),
        pytest.param("Windows 10.0.19045", id="windows-build"),
        pytest.param("build 10.0.19045.3803", id="four-part-build-with-large-part"),
        pytest.param("OID 1.3.6.1.4.1.311", id="oid"),
        pytest.param("256.1.1.1", id="octet-out-of-range"),
        pytest.param("010.001.001.001", id="leading-zeros"),
        pytest.param("see Section 8.2.1.1 of the agreement", id="clause-number"),
        pytest.param("v81.2.69.160", id="glued-to-a-word"),
        pytest.param("at 12:30:45 today", id="clock-time"),
        pytest.param("std::vector and a::b", id="cpp-scope"),
        pytest.param("::1", id="v6-loopback-too-short"),
        pytest.param("uuid 550e8400-e29b-41d4-a716-446655440000", id="uuid"),
    ],
)
def test_ip_near_misses(engine: Engine, text: str) -> None:
    assert reported(engine, text, "pii.ip_address") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("mac 00:1a:2b:3c:4d:5e", {"00:1a:2b:3c:4d:5e"}, id="colons"),
        pytest.param("HWaddr 00-1A-2B-3C-4D-5E", {"00-1A-2B-3C-4D-5E"}, id="dashes"),
        pytest.param("cisco 001a.2b3c.4d5e", {"001a.2b3c.4d5e"}, id="cisco-dotted"),
        pytest.param("12:34:56:78:90:12", {"12:34:56:78:90:12"}, id="all-digit-colons"),
        # near-misses
        pytest.param("00:00:00:00:00:00", set(), id="all-zero"),
        pytest.param("ff:ff:ff:ff:ff:ff", set(), id="broadcast"),
        pytest.param("aa:bb:cc:dd:ee", set(), id="five-octets"),
        pytest.param("aa:bb:cc:dd:ee:ff:11", set(), id="seven-octets"),
        pytest.param("12-34-56-78-90-12", set(), id="all-digit-dashes"),
        pytest.param("1234.5678.9012", set(), id="all-digit-dotted"),
        pytest.param("2a00:1450:4001:82a::200e", set(), id="ipv6-is-not-mac"),
        pytest.param("at 12:30:45", set(), id="clock-time"),
    ],
)
def test_mac(engine: Engine, text: str, expected: set[str]) -> None:
    assert {h.value for h in reported(engine, text, "pii.mac_address")} == expected
