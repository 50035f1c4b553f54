"""Provider connections through a private CA, with a client certificate (mutual TLS),
and through an egress HTTP proxy; bad TLS files are load errors naming the key."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from providers_fakes import CHAT_OK, bastion_config, provider, serve_fake

from bastion.config.loader import load_config
from bastion.errors import ConfigError, UpstreamFailed
from bastion.model import Endpoint

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Issued:
    cert: Path
    key: Path


@dataclass
class Pki:
    """A private CA and certificates it signed, written as PEM files."""

    directory: Path
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: _new_key())
    ca: Path = field(init=False)

    def __post_init__(self) -> None:
        self._cert = self._sign(_name("Bastion Test CA"), self.key.public_key(), ca=True)
        self.ca = self._write("ca.pem", self._cert.public_bytes(serialization.Encoding.PEM))

    def _sign(self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey, *, ca: bool,
              server: bool = False) -> x509.Certificate:  # fmt: skip
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(_name("Bastion Test CA"))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            ).add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        else:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(self.key, hashes.SHA256())

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def issue(self, name: str, *, server: bool = False) -> Issued:
        key = _new_key()
        cert = self._sign(_name(name), key.public_key(), ca=False, server=server)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Issued(
            self._write(f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM)),
            self._write(f"{name}.key", key_pem),
        )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def _server_context(pki: Pki, *, require_client_cert: bool) -> ssl.SSLContext:
    server = pki.issue("upstream", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.cert, server.key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    return context


async def test_private_ca_and_client_certificate_reach_a_mutual_tls_upstream(
    pki: Pki, make_router
) -> None:
    client = pki.issue("bastion-gateway")
    async with serve_fake(_server_context(pki, require_client_cert=True)) as upstream:
        config = provider(
            upstream.base_url, ca_bundle=str(pki.ca), client_cert=str(client.cert),
            client_key=str(client.key),
        )  # fmt: skip
        router = await make_router(bastion_config({"p": config}, [("p", "m")]))
        result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
        assert result.status == 200
        assert len(upstream.seen) == 1


@pytest.mark.parametrize("with_client_cert", [False, True])
async def test_an_upstream_the_gateway_cannot_trust_or_that_refuses_it_is_a_502(
    pki: Pki, make_router, with_client_cert: bool
) -> None:
    """Without the CA bundle the system store does not know the private CA; without the
    client certificate the upstream ends the handshake. Nothing reaches the upstream."""
    overrides: dict[str, str] = {}
    if with_client_cert:  # trusted CA, but no client certificate
        overrides = {"ca_bundle": str(pki.ca)}
    async with serve_fake(_server_context(pki, require_client_cert=True)) as upstream:
        router = await make_router(
            bastion_config({"p": provider(upstream.base_url, **overrides)}, [("p", "m")])
        )
        with pytest.raises(UpstreamFailed) as failed:
            await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
        assert (failed.value.status, failed.value.code) == (502, "upstream_error")
        assert upstream.seen == []


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTP proxy on loopback (its URL, and the absolute-form targets it was asked
    for) that answers every call itself."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        asked.append(str(request.url))
        await request.read()
        return web.Response(body=orjson.dumps(CHAT_OK), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", asked
    finally:
        await runner.cleanup()


async def test_calls_go_through_the_providers_egress_proxy(make_router) -> None:
    """The upstream's name only resolves on the proxy's side: the call succeeds only
    because it went through the proxy, which saw the full upstream URL."""
    async with forward_proxy() as (proxy_url, asked):
        config = provider("http://models.internal.invalid/v1", proxy=proxy_url)
        router = await make_router(bastion_config({"p": config}, [("p", "m")]))
        result = await router.send("gpt-4o-mini", Endpoint.CHAT, BODY, stream=False)
        assert result.status == 200
        assert asked == ["http://models.internal.invalid/v1/chat/completions"]


def _load(tmp_path: Path, provider_yaml: str) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text(
        "providers:\n  internal:\n    kind: openai_compatible\n"
        "    base_url: https://llm.internal/v1\n"
        + provider_yaml
        + "models:\n  m: {targets: [{provider: internal, model: m}]}\n"
    )
    load_config(config)


def test_tls_files_resolve_against_the_config_directory(pki: Pki, tmp_path: Path) -> None:
    client = pki.issue("gw")
    _load(
        tmp_path,
        f"    ca_bundle: {pki.ca.name}\n    client_cert: {client.cert.name}\n"
        f"    client_key: {client.key.name}\n",
    )


@pytest.mark.parametrize(
    ("provider_yaml", "reason"),
    [
        ("    ca_bundle: missing.pem\n", "No such file or directory"),
        ("    ca_bundle: not-pem.txt\n", ""),
        ("    client_key: k.pem\n", "client_key needs client_cert"),
        ("    proxy: socks5://proxy:1080\n", "proxy must be an http:// or https:// URL"),
    ],
)
def test_bad_tls_or_proxy_settings_are_load_errors_naming_the_provider(
    tmp_path: Path, provider_yaml: str, reason: str
) -> None:
    (tmp_path / "not-pem.txt").write_text("hello\n")
    with pytest.raises(ConfigError) as failed:
        _load(tmp_path, provider_yaml)
    assert "providers.internal" in str(failed.value)
    assert reason in str(failed.value)
