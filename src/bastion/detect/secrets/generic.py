"""Credentials recognised by where they sit rather than by a vendor format.

Connection URIs with a password (``postgres://user:pass@host``, any scheme), .netrc
and .pgpass entries, HTTP Basic and Bearer authorisation values, Docker ``config.json`` registry
logins (``"auth": base64(user:password)``), auth headers (``X-API-Key``, a bare
``Authorization`` value), session cookies,
command-line credentials (``curl -u user:pass``, ``--password x``, ``-u user -p x``
as in psexec, docker and mysql) and .NET credential constructors. Values pass the same
placeholder checks as keyword assignments, so ``user:${PASSWORD}@host`` and
``Bearer <token>`` are not reported.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern
from bastion.detect.secrets.checks import basic_credentials, generated, password
from bastion.detect.secrets.dummies import DUMMY, KNOWN_DUMMIES
from bastion.detect.secrets.rows import END, END64, row
from bastion.detect.secrets.values import human_secret, is_template, machine_secret

# userinfo password: may contain "@" (the last "@" before a host wins), never "/".
_URI_PW = r"([^\s'\"`<>@/]+(?:@[^\s'\"`<>@/]+)*?)"
_URI_HOST = r"@[A-Za-z0-9][A-Za-z0-9.\-_%]*(?:[:/?#,;\s'\"`\]]|$)"

_HEADERS = (
    r"x-api-key|api-key|x-apikey|x-api-token|x-auth-token|x-access-token|private-token|"
    r"x-figma-token|x-postmark-server-token|x-postmark-account-token|x-goog-api-key|"
    r"ocp-apim-subscription-key|x-rapidapi-key|x-vault-token|x-jfrog-art-api|x-gitlab-token|"
    r"x-shopify-access-token|x-dd-api-key|x-dd-application-key"
)


def _uri_password(value: str) -> Mapping[str, str] | None:
    if value in KNOWN_DUMMIES:
        return DUMMY
    if value.lower() in ("password", "pass", "passwd", "pwd", "pw", "xxx", "user"):
        return None
    return ACCEPT if human_secret(value) else None


def _bearer(value: str) -> Mapping[str, str] | None:
    if value in KNOWN_DUMMIES:
        return DUMMY
    return ACCEPT if machine_secret(value, min_length=12) else None


def _user_password(value: str) -> Mapping[str, str] | None:
    """``user:password`` from a command line: the password half must be a literal."""
    user, _, secret = value.partition(":")
    if not user or is_template(user) or is_template(secret):
        return None
    return ACCEPT if human_secret(secret) else None


CLASSES: Mapping[str, str] = {
    "secret.connection_string": "Password inside a connection URI (scheme://user:pass@host).",
    "secret.netrc_credentials": "Password in a .netrc machine entry.",
    "secret.pgpass_credentials": "Password in a PostgreSQL .pgpass line.",
    "secret.http_basic_auth": "HTTP Basic credentials (header or curl -u user:pass).",
    "secret.docker_registry_auth": "Registry login in a Docker config.json (auth entry).",
    "secret.http_session_cookie": "Session or auth cookie in a Cookie / Set-Cookie header.",
    "secret.bearer_token": "Token in an HTTP Bearer/Token authorization value.",
    "secret.auth_header": "API key in an authentication header (X-API-Key…).",
    "secret.cli_password": "Password passed on a command line (--password, -u … -p …).",
    "secret.dotnet_credentials": ".NET NetworkCredential / DirectoryEntry password.",
}

PATTERNS: tuple[Pattern, ...] = (
    row(
        "uri",
        "password",
        r"://[^\s:/@'\"`<>]*:" + _URI_PW + _URI_HOST,
        data_class="connection_string",
        group=1,
        validator=_uri_password,
    ),
    row(
        "odbc",
        "password",
        r"(?i:user ?id|uid|user(?:name)?)\s*=\s*[^;\"'\r\n]*;(?:[^;\"'\r\n=]*=[^;\"'\r\n]*;)*?"
        r"\s*(?i:password|pwd)\s*=\s*([^;\"'\r\n]+)(?:[;\"']|$)",
        data_class="connection_string",
        group=1,
        validator=password,
    ),
    row(
        "netrc",
        "credentials",
        r"\b(?:machine\s+\S+|default)\s+login\s+\S+\s+password\s+(\S+)",
        group=1,
        validator=password,
    ),
    # ~/.pgpass: hostname:port:database:username:password, one entry per line (the host
    # has a dot, is localhost or *, so colon-separated cache keys are not entries).
    row(
        "pgpass",
        "credentials",
        r"(?:^|\n)[ \t]*(?:\*|localhost|[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+):(?:\d{2,5}|\*):"
        r"[^:\s]+:[^:\s]+:([^:\s]{3,})[ \t]*(?:\r?\n|$)",
        group=1,
        validator=password,
    ),
    row(
        "http",
        "basic_auth",
        r"(?i:\bbasic)\s+([A-Za-z0-9+/]{8,}={0,2})" + END64,
        data_class="http_basic_auth",
        group=1,
        validator=basic_credentials,
    ),
    # ~/.docker/config.json: {"auths": {"<registry>": {"auth": "<base64 user:password>"}}}
    row(
        "docker",
        "registry_auth",
        r"\"auth\"\s*:\s*\"([A-Za-z0-9+/]{8,}={0,2})\"",
        group=1,
        validator=basic_credentials,
    ),
    row(
        "http",
        "basic_auth",
        r"(?:^|\s)(?:-u|--user)(?:\s+|=)[\"']?([^\s:\"']+:[^\s\"']{3,})",
        data_class="http_basic_auth",
        group=1,
        validator=_user_password,
        name="curl_user",
    ),
    row(
        "http",
        "bearer_token",
        r"(?i:\bbearer)\s*:?\s+([A-Za-z0-9_~+/.\-]{12,}=*)",
        data_class="bearer_token",
        group=1,
        validator=_bearer,
        score=0.8,
    ),
    row(
        "http",
        "bearer_token",
        r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:token|sso-key)\s+([A-Za-z0-9_\-.:]{16,})",
        data_class="bearer_token",
        group=1,
        validator=_bearer,
        score=0.8,
        name="token_scheme",
    ),
    # An Authorization header with no scheme word: the raw key (a "Bearer"/"Basic" value
    # has a space after a short word, which the 20-character run does not take).
    row(
        "http",
        "auth_header",
        r"(?i:\bauthorization)[\"']?\s*:\s*[\"']?([A-Za-z0-9_\-.+/=:]{20,})" + END,
        data_class="auth_header",
        group=1,
        validator=generated(20),
        score=0.8,
        name="raw_authorization",
    ),
    # Session cookies act as the login itself ("Copy as cURL" pastes carry them).
    row(
        "http",
        "session_cookie",
        r"(?i:\b(?:set-)?cookie)\s*:[^\r\n]{0,400}?[\s;](?i:[A-Za-z0-9_.\-]*sess(?:ion)?"
        r"(?:id)?|sid|[A-Za-z0-9_.\-]*auth[_\-]?token|remember[_\-]?(?:me|token)[A-Za-z0-9_\-]*)"
        r"=([^;\s\"']{16,})",
        data_class="http_session_cookie",
        group=1,
        validator=generated(16),
        score=0.8,
    ),
    row(
        "http",
        "auth_header",
        r"(?i:" + _HEADERS + r")[\"']?\s*:\s*[\"']?([A-Za-z0-9_\-.+/=:]{12,})" + END,
        data_class="auth_header",
        group=1,
        validator=generated(12),
        score=0.8,
    ),
    row(
        "cli",
        "password",
        r"(?:^|\s)-{1,2}(?i:password|passwd|pass)(?:=|\s+)[\"']?([^\s\"']{2,})",
        group=1,
        validator=password,
        score=0.8,
    ),
    row(
        "cli",
        "password",
        # mysql and mariadb read "-p <word>" as: prompt for the password, <word> is the
        # database; that command line is vetoed (leftmost-first, it captures nothing).
        r"(?:\b(?:mysql[a-z]*|mariadb[a-z\-]*)\s[^\r\n|;&]*?-u\s*\S+\s+-p\s"
        r"|(?:^|\s)-u\s+[\"']?[^\s\"']+[\"']?\s+-p\s*[\"']?([^\s\"'-][^\s\"']+))",
        group=1,
        validator=password,
        score=0.7,
        name="user_then_p",
    ),
    row(
        "dotnet",
        "credentials",
        r"(?i:NetworkCredential)\s*\(\s*\"[^\"\r\n]*\"\s*,\s*\"([^\"\r\n]+)\"",
        group=1,
        validator=password,
        name="network_credential",
    ),
    row(
        "dotnet",
        "credentials",
        r"(?i:DirectoryEntry)\s*\(\s*\"[^\"\r\n]*\"\s*,\s*\"[^\"\r\n]*\"\s*,\s*"
        r"\"([^\"\r\n]+)\"",
        group=1,
        validator=password,
        name="directory_entry",
    ),
)
