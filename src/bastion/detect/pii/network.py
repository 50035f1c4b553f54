"""``pii.ip_address`` (IPv4, IPv6) and ``pii.mac_address``: device and network identifiers.

IPv4 candidates are whole dotted-number runs, so ``10.0.19045.3803`` or an OID such as
``1.3.6.1.4.1`` is judged as a whole (and rejected) instead of yielding a four-part
slice; three-part versions (``3.11.7``) never match. A four-part version string such as
``1.2.3.4`` is indistinguishable from an address, and neither is clause ``8.2.1.1``: a
public address whose octets are all below 32 counts only next to an IP word. Addresses that
identify nobody outside the network (private, loopback, link-local, unspecified,
reserved) come from a separate row with a low score and ``meta.scope``; the stdlib
``ipaddress`` module does all parsing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.pii.fragments import MAX_CANDIDATE_CHARS, meta

IP_CONTEXT = (
    "ip", "ip address", "ipv4", "ipv6", "address", "host", "client", "server", "dns",
    "gateway", "ping", "nameserver", "resolver", "subnet", "router", "proxy",
)  # fmt: skip
SMALL_OCTET = 32
MAC_CONTEXT = ("mac", "mac address", "hwaddr", "ether", "bssid", "device", "hardware")

_IPV4 = r"\b(\d+(?:\.\d+){3,})\b"
_IPV6 = (
    r"(?:^|[^\w:.])([0-9A-Fa-f]{0,4}(?::{1,2}[0-9A-Fa-f]{1,4}){2,7}"
    r"(?:\.\d{1,3}){0,3}(?:::)?)"
)
_HEX2 = "[0-9A-Fa-f]{2}"
_MAC = (
    rf"(?:^|[^\w:.\-])({_HEX2}(?::{_HEX2})+|{_HEX2}(?:-{_HEX2})+"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})\b"
)


def _scope(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_global:
        return "global"
    return "reserved"


def _parse_ipv4(candidate: str) -> ipaddress.IPv4Address | None:
    parts = candidate.split(".")
    # exactly four octets, no leading zeros (those read as octal in some tools)
    if len(parts) != 4 or any(len(p) > 3 or (len(p) > 1 and p[0] == "0") for p in parts):
        return None
    try:
        return ipaddress.IPv4Address(candidate)
    except ValueError:
        return None


def _parse_ipv6(candidate: str) -> ipaddress.IPv6Address | None:
    if len(candidate) > MAX_CANDIDATE_CHARS:
        return None
    # at least three non-empty groups: drops C++ ``a::b`` and ``::1`` (clock times such
    # as ``12:30:45`` the parser rejects itself)
    if sum(1 for group in candidate.split(":") if group) < 3:
        return None
    try:
        return ipaddress.IPv6Address(candidate)
    except ValueError:
        return None


def _all_octets_small(candidate: str) -> bool:
    """``4.2.3.1``: how section and version numbers look; few public hosts do."""
    return all(int(part) < SMALL_OCTET for part in candidate.split("."))


def validate_public_ipv4(candidate: str) -> Mapping[str, str] | None:
    """Accept a four-octet, globally routable IPv4 address with an octet of 32 or more."""
    address = _parse_ipv4(candidate)
    if address is None or _scope(address) != "global" or _all_octets_small(candidate):
        return None
    return meta(version="4", scope="global")


def validate_small_public_ipv4(candidate: str) -> Mapping[str, str] | None:
    """Accept a globally routable IPv4 address whose octets are all below 32
    (``8.8.4.4``, but also clause ``8.2.1.1``); the row requires an IP word."""
    address = _parse_ipv4(candidate)
    if address is None or _scope(address) != "global" or not _all_octets_small(candidate):
        return None
    return meta(version="4", scope="global")


def validate_internal_ipv4(candidate: str) -> Mapping[str, str] | None:
    """Accept a four-octet IPv4 address that is not globally routable; ``meta.scope``."""
    address = _parse_ipv4(candidate)
    if address is None or (scope := _scope(address)) == "global":
        return None
    return meta(version="4", scope=scope)


def validate_public_ipv6(candidate: str) -> Mapping[str, str] | None:
    """Accept a globally routable IPv6 address."""
    address = _parse_ipv6(candidate)
    if address is None or _scope(address) != "global":
        return None
    return meta(version="6", scope="global")


def validate_internal_ipv6(candidate: str) -> Mapping[str, str] | None:
    """Accept an IPv6 address that is not globally routable; ``meta.scope``."""
    address = _parse_ipv6(candidate)
    if address is None or (scope := _scope(address)) == "global":
        return None
    return meta(version="6", scope=scope)


def validate_mac(candidate: str) -> Mapping[str, str] | None:
    """Accept six octets (``aa:bb:..``, ``aa-bb-..``) or Cisco ``aabb.ccdd.eeff``; refuse
    all-zero and broadcast, and all-digit dash/dot forms (numbers, not hardware)."""
    hex_digits = "".join(ch for ch in candidate if ch not in ":-.").lower()
    if len(hex_digits) != 12 or hex_digits in ("000000000000", "ffffffffffff"):
        return None
    if ":" not in candidate and hex_digits.isdigit():
        return None
    return meta()


IP_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.ip_address.v4",
        data_class="pii.ip_address",
        regex=_IPV4,
        group=1,
        score=0.8,
        validator=validate_public_ipv4,
        context=IP_CONTEXT,
    ),
    Pattern(
        id="pii.ip_address.v4_small",
        data_class="pii.ip_address",
        regex=_IPV4,
        group=1,
        score=0.5,
        validator=validate_small_public_ipv4,
        context=IP_CONTEXT,
        requires_context=True,
    ),
    Pattern(
        id="pii.ip_address.v4_internal",
        data_class="pii.ip_address",
        regex=_IPV4,
        group=1,
        score=0.3,
        validator=validate_internal_ipv4,
        context=IP_CONTEXT,
    ),
    Pattern(
        id="pii.ip_address.v6",
        data_class="pii.ip_address",
        regex=_IPV6,
        group=1,
        score=0.8,
        validator=validate_public_ipv6,
        context=IP_CONTEXT,
    ),
    Pattern(
        id="pii.ip_address.v6_internal",
        data_class="pii.ip_address",
        regex=_IPV6,
        group=1,
        score=0.3,
        validator=validate_internal_ipv6,
        context=IP_CONTEXT,
    ),
)

MAC_PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        id="pii.mac_address",
        data_class="pii.mac_address",
        regex=_MAC,
        group=1,
        score=0.7,
        validator=validate_mac,
        context=MAC_CONTEXT,
    ),
)
