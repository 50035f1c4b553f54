"""TLS settings of a provider connection: a private CA bundle and a client certificate.

``ssl_context`` builds the context the provider's connection pool uses. The config
loader calls it once at load time too, so an unreadable or malformed PEM file is a load
error naming the key, not a failure on the first call.
"""

from __future__ import annotations

import ssl

from bastion.config.schema import ProviderConfig


def ssl_context(provider: ProviderConfig) -> ssl.SSLContext | None:
    """The provider's TLS context, or None for the defaults (system CAs, no client cert).

    Raises ``OSError`` for a file that cannot be read and ``ssl.SSLError`` for PEM
    content that is not a certificate or key (or a key that does not match).
    """
    if provider.ca_bundle is None and provider.client_cert is None:
        return None
    context = ssl.create_default_context(
        cafile=str(provider.ca_bundle) if provider.ca_bundle is not None else None
    )
    if provider.client_cert is not None:
        key = provider.client_key
        context.load_cert_chain(str(provider.client_cert), str(key) if key else None)
    return context
