"""Credentials of the three large clouds: AWS, Google Cloud and Microsoft Azure.

Formats follow each vendor's documentation: AWS access key ids (``AKIA``/``ASIA``…
plus 16 base-32 characters) and 40-character secret keys, which have no prefix and so
need an ``aws``/``secret`` keyword; Amazon Bedrock API keys (long-term ``ABSK`` +
base64 of ``BedrockAPIKey-…``, short-term ``bedrock-api-key-`` + base64 of a presigned
``bedrock.amazonaws.com`` URL); Google API keys (``AIza`` + 35), OAuth secrets
(``GOCSPX-``), tokens (``ya29.``, ``1//``); Azure storage account keys (88-char base64),
shared access keys and SAS signatures, App Configuration connection strings, Entra
ID client secrets (``xxx8Q~…``) and Functions keys in an invoke URL (``?code=``).
Resource identifiers (ARNs, bucket names) live in ``infra``.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern
from bastion.detect.secrets.checks import b64decode_loose, keyed, vendor
from bastion.detect.secrets.dummies import DUMMY, is_known_dummy
from bastion.detect.secrets.entropy import char_classes, looks_random
from bastion.detect.secrets.rows import ASSIGN, END, END64, KEYNAME, OPEN, UUID, row


def _aws_secret(value: str) -> Mapping[str, str] | None:
    """A bare 40-char AWS secret: mixed case and digits (git SHAs are lower-case hex)."""
    if is_known_dummy(value):
        return DUMMY
    if char_classes(value) < 3 or not looks_random(value, min_length=40, min_entropy=4.0):
        return None
    return ACCEPT


def _bedrock_long_term(value: str) -> Mapping[str, str] | None:
    """``ABSK`` then base64 that decodes to ``BedrockAPIKey-…``."""
    return ACCEPT if b64decode_loose(value[4:]).startswith(b"BedrockAPIKey-") else None


def _entra_secret(value: str) -> Mapping[str, str] | None:
    """Entra ID secrets: three characters, a digit, ``Q~``, then 31 to 34 more."""
    if not 38 <= len(value) <= 40 or not value[3].isdigit() or value[4:6] != "Q~":
        return None
    return DUMMY if is_known_dummy(value) else ACCEPT


CLASSES: Mapping[str, str] = {
    "secret.aws_access_key": "AWS access key id (AKIA/ASIA…).",
    "secret.aws_secret_key": "AWS secret access key next to an AWS keyword.",
    "secret.aws_session_token": "AWS temporary session token.",
    "secret.aws_mws_token": "Amazon Marketplace Web Service auth token.",
    "secret.aws_appsync_key": "AWS AppSync API key (da2-…).",
    "secret.aws_bedrock_api_key": "Amazon Bedrock API key (ABSK…, bedrock-api-key-…).",
    "secret.azure_function_key": "Azure Functions key in an invoke URL (?code=…).",
    "secret.google_api_key": "Google Cloud / Maps / Gemini API key (AIza…).",
    "secret.gcp_service_account": "Google service-account key file (private_key_id).",
    "secret.google_oauth_secret": "Google OAuth client secret (GOCSPX-…).",
    "secret.google_oauth_token": "Google OAuth access or refresh token.",
    "secret.firebase_server_key": "Firebase Cloud Messaging legacy server key.",
    "secret.azure_storage_key": "Azure storage account key in a connection string.",
    "secret.azure_shared_access_key": "Azure Service Bus / Event Hubs / IoT shared key.",
    "secret.azure_sas_token": "Azure shared access signature (sig=…).",
    "secret.azure_app_config": "Azure App Configuration connection-string secret.",
    "secret.azure_client_secret": "Microsoft Entra ID (Azure AD) application secret.",
}

PATTERNS: tuple[Pattern, ...] = (
    row(
        "aws",
        "access_key",
        r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b",
        group=1,
        validator=vendor(4),
    ),
    row(
        "aws",
        "secret_key",
        r"(?i:aws)"
        + KEYNAME
        + r"(?i:secret|sk)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([A-Za-z0-9/+]{40})"
        + END64,
        group=1,
        validator=keyed(40),
    ),
    row(
        "aws",
        "secret_key",
        r"(?i:aws|secret)[^\r\n]{0,60}?[^A-Za-z0-9/+=]([A-Za-z0-9/+]{40})" + END64,
        group=1,
        validator=_aws_secret,
        score=0.6,
        context=("aws",),
        name="secret_key_nearby",
    ),
    row(
        "aws",
        "session_token",
        r"(?i:aws[_\-]?session[_\-]?token)" + ASSIGN + OPEN + r"([A-Za-z0-9/+=._\-]{100,})",
        group=1,
        validator=keyed(100),
    ),
    row(
        "aws",
        "mws_token",
        r"\bamzn\.mws\." + UUID + r"\b",
    ),
    row("aws", "appsync_key", r"\bda2-[a-z0-9]{26}\b"),
    row("google", "api_key", r"\b(AIza[0-9A-Za-z_\-]{35})" + END, group=1, validator=vendor(4)),
    row(
        "gcp",
        "service_account",
        r'"private_key_id"\s*:\s*"([a-f0-9]{40})"',
        group=1,
    ),
    row("google", "oauth_secret", r"\b(GOCSPX-[A-Za-z0-9_\-]{28})" + END, group=1),
    row(
        "google",
        "oauth_token",
        r"\b(ya29\.[0-9A-Za-z_\-]{20,})",
        group=1,
        validator=vendor(5),
        name="access_token",
    ),
    row(
        "google",
        "oauth_token",
        r"(?:^|[^A-Za-z0-9/])(1//0[0-9A-Za-z_\-]{30,})",
        group=1,
        name="refresh_token",
    ),
    row(
        "firebase",
        "server_key",
        r"\b(AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{100,})",
        group=1,
    ),
    row(
        "azure",
        "storage_key",
        r"(?i:AccountKey)\s*=\s*([A-Za-z0-9+/]{40,}={0,2})" + END64,
        group=1,
        validator=keyed(40),
    ),
    row(
        "azure",
        "shared_access_key",
        r"(?i:SharedAccessKey)\s*=\s*([A-Za-z0-9+/]{40,}={0,2})" + END64,
        group=1,
        validator=keyed(40),
    ),
    row(
        "azure",
        "sas_token",
        r"\bsv=\d{4}-\d\d-\d\d&[^\s\"'<>]*?\bsig=([A-Za-z0-9%+/]{30,}(?:%3[Dd]|=)*)",
        group=1,
    ),
    row(
        "azure",
        "app_config",
        r"\.azconfig\.io;Id=[^;\s\"']{4,};Secret=([A-Za-z0-9+/]{40,}={0,2})",
        group=1,
        validator=keyed(40),
    ),
    row(
        "aws",
        "bedrock_api_key",
        r"\b(ABSK[A-Za-z0-9+/]{100,300}={0,2})" + END64,
        group=1,
        validator=_bedrock_long_term,
    ),
    row(
        "aws",
        "bedrock_api_key",
        r"\b(bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{20,}={0,2})" + END64,
        group=1,
        name="bedrock_api_key_short_term",
    ),
    row(
        "azure",
        "function_key",
        r"\.azurewebsites\.net/api/[A-Za-z0-9_\-/]*\?(?:[^\s#&\"'<>]*&)*code="
        r"([A-Za-z0-9_\-]{40,}={0,2})",
        group=1,
        validator=keyed(40),
    ),
    row(
        "azure",
        "client_secret",
        r"([A-Za-z0-9_~.]*Q~[A-Za-z0-9_~.\-]{31,34})(?:$|[\s'\"`<),;])",
        group=1,
        validator=_entra_secret,
    ),
)
