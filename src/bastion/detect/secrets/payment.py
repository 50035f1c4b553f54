"""Payment and commerce: Stripe, Square, PayPal/Braintree, Shopify, Plaid, Flutterwave,
shipping APIs.

Stripe secret (``sk_``) and restricted (``rk_``) keys say ``live`` or ``test`` in their
prefix (reported as ``environment`` meta); publishable ``pk_`` keys are public by
design and not reported. Square (``sq0atp-``, ``sq0csp-``, ``EAAA``), Braintree
(``access_token$production$…``) and Shopify (``shpat_``, ``shpca_``, ``shppa_``,
``shpss_``) prefix their credentials too.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern, Validator
from bastion.detect.secrets.checks import keyed, vendor
from bastion.detect.secrets.rows import ASSIGN, END, KEYNAME, OPEN, UUID, row


def _environment(skip: int) -> Validator:
    """Stripe-style keys: ``environment`` from the prefix, plus the dummy check."""
    inner = vendor(skip)

    def check(value: str) -> Mapping[str, str] | None:
        meta = inner(value)
        if meta is None:
            return None
        return {**meta, "environment": "live" if "_live_" in value else "test"}

    return check


CLASSES: Mapping[str, str] = {
    "secret.stripe_secret_key": "Stripe secret API key (sk_live_/sk_test_).",
    "secret.stripe_restricted_key": "Stripe restricted API key (rk_live_/rk_test_).",
    "secret.stripe_webhook_secret": "Stripe webhook signing secret (whsec_).",
    "secret.square_access_token": "Square access token (sq0atp-, EAAA…).",
    "secret.square_oauth_secret": "Square OAuth application secret (sq0csp-).",
    "secret.braintree_access_token": "PayPal Braintree access token.",
    "secret.paypal_client_secret": "PayPal REST client secret next to a PayPal keyword.",
    "secret.shopify_token": "Shopify admin, custom-app or private-app access token.",
    "secret.shopify_app_secret": "Shopify app shared secret (shpss_).",
    "secret.plaid_access_token": "Plaid item access token.",
    "secret.flutterwave_secret_key": "Flutterwave secret key (FLWSECK-).",
    "secret.flutterwave_encryption_key": "Flutterwave test encryption key (FLWSECK_TEST…).",
    "secret.shippo_api_token": "Shippo API token.",
    "secret.easypost_api_key": "EasyPost production or test API key.",
    "secret.duffel_api_token": "Duffel API token.",
}

PATTERNS: tuple[Pattern, ...] = (
    row(
        "stripe",
        "secret_key",
        r"\b(sk_live_[A-Za-z0-9]{10,})\b",
        group=1,
        validator=_environment(8),
        name="secret_key_live",
    ),
    row(
        "stripe",
        "secret_key",
        r"\b(sk_test_[A-Za-z0-9]{10,})\b",
        group=1,
        validator=_environment(8),
        score=0.8,
        name="secret_key_test",
    ),
    row(
        "stripe",
        "restricted_key",
        r"\b(rk_(?:live|test)_[A-Za-z0-9]{10,})\b",
        group=1,
        validator=_environment(8),
    ),
    row("stripe", "webhook_secret", r"\b(whsec_[A-Za-z0-9+/]{32,})", group=1, validator=vendor(6)),
    row(
        "square",
        "access_token",
        r"\b((?:sandbox-)?sq0at[pb]-[A-Za-z0-9_\-]{22})" + END,
        group=1,
        validator=vendor(7),
    ),
    row(
        "square",
        "access_token",
        r"\b(EAAA[A-Za-z0-9_\-+=]{60})" + END,
        group=1,
        name="access_token_v2",
    ),
    row(
        "square",
        "oauth_secret",
        r"\b((?:sandbox-)?sq0csp-[A-Za-z0-9_\-]{43})" + END,
        group=1,
        validator=vendor(7),
    ),
    row(
        "braintree",
        "access_token",
        r"\baccess_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}\b",
    ),
    row(
        "paypal",
        "client_secret",
        r"(?i:paypal)"
        + KEYNAME
        + r"(?i:secret)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([A-Za-z0-9_\-]{80})"
        + END,
        group=1,
        validator=keyed(80),
    ),
    row(
        "shopify",
        "token",
        r"\b(shp(?:at|ca|pa)_[a-fA-F0-9]{32})\b",
        group=1,
        validator=vendor(6),
    ),
    row(
        "shopify",
        "app_secret",
        r"\b(shpss_[a-fA-F0-9]{32})\b",
        group=1,
        validator=vendor(6),
    ),
    row(
        "plaid",
        "access_token",
        r"\baccess-(?:sandbox|development|production)-" + UUID + r"\b",
    ),
    row("flutterwave", "secret_key", r"\bFLWSECK(?:_TEST)?-[a-h0-9]{32}-X\b"),
    row("flutterwave", "encryption_key", r"\bFLWSECK_TEST-?[a-h0-9]{12}\b"),
    row("shippo", "api_token", r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b"),
    row("easypost", "api_key", r"\bEZ[AT]K[a-zA-Z0-9]{54}\b"),
    row("duffel", "api_token", r"\b(duffel_(?:test|live)_[A-Za-z0-9_\-=]{43})" + END, group=1),
)
