"""Passwords handed to well-known commands and library calls as literals.

Where the keyword-assignment grammar sees no ``name = value``, the position of an
argument still says what it is, by the tool's own documentation:

* command lines: ``sshpass -p``, ``redis-cli -a``, the OpenLDAP clients' simple-bind
  ``-w`` (``ldapsearch``, ``ldapmodify``…) and the MySQL/MariaDB clients' ``-p<password>``
  (glued: with a space, ``-p`` prompts) take the password itself, and so do the
  ``requirepass`` and ``masterauth`` directives of ``redis.conf``; a ``--token`` or
  ``--api-key`` flag takes a key, which must look generated;
* PowerShell: ``ConvertTo-SecureString "…" -AsPlainText`` turns a literal into a
  credential;
* code: a setter named for a credential (``setPassword("…")``, ``set_password('…')``,
  ``setApiKey("…")``), the second literal of a login call (``smtp.login("me", "…")``,
  ``ftp.login``), HTTP client auth pairs (``auth=("user", "…")``,
  ``HTTPBasicAuth("user", "…")``), and the password argument of database connection
  calls by their documented signatures: the third of ``(host or DSN, user, password)``
  (PHP ``mysqli_connect``, ``new mysqli``, ``new PDO``, Perl and Ruby ``DBI connect``,
  JDBC ``DriverManager.getConnection``, ``new Sequelize``), the second of PHP
  ``oci_connect(user, password, …)`` and of LDAP ``simple_bind_s(dn, password)``, and
  the ``user:password@tcp(…)`` DSN of Go's MySQL driver.

Values pass the same checks as keyword assignments (``values``): variables, templates
and placeholders are dropped, and keys and tokens must look generated. Unlike a named
assignment, a call carries no name of its own, and snippets that show how to call it
fill the argument with its name (``s.login("you@example.com", "password")``), so
tutorial passwords (``password``, ``pwd``, ``P@ssw0rd``) are dropped here rather than
reported as ``known_dummy``.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.checks import generated, password
from bastion.detect.secrets.dummies import is_example_password
from bastion.detect.secrets.rows import row
from bastion.detect.secrets.values import strip_quotes

# One quoted literal, double or single (RE2 has no backreferences: the closing quote is
# either kind, and the value holds neither).
_LITERAL = r"""["']([^"'\r\n]+)["']"""
_OTHER_LITERAL = r"""["'][^"'\r\n]+["']"""
# A password argument: an optional quote, then a run without spaces or quotes.
_ARGUMENT = r"""["']?([^\s"'|;&]{2,})"""
# A value glued to its flag (``-pS3cret``, ``-p'S3cret'``), not the next flag.
_GLUED = r"""["']?([^\s"'|;&\-][^\s"'|;&]+)"""
# The rest of one command before a flag (no pipe, separator or new line).
_SAME_COMMAND = r"[^\r\n|;&]{0,200}?\s"
_PASSWORD_WORDS = r"(?:Password|Passwd|Pwd|Passphrase|Secret)"  # noqa: S105 (key names)
_KEY_WORDS = r"(?:ApiKey|APIKey|AccessKey|AccessToken|AuthToken|Token)"


def _chosen(value: str) -> Mapping[str, str] | None:
    """A password argument that is not the argument's name or a tutorial example."""
    return None if is_example_password(strip_quotes(value).strip()) else password(value)


CLASSES: Mapping[str, str] = {}  # cli_password and generic_password are described elsewhere

PATTERNS: tuple[Pattern, ...] = (
    row("cli", "password", r"\bsshpass\s+-p\s*" + _ARGUMENT, group=1, validator=_chosen,
        score=0.8, name="sshpass"),
    row("cli", "password", r"\bredis-cli\b" + _SAME_COMMAND + r"-a\s+" + _ARGUMENT, group=1,
        validator=_chosen, score=0.8, name="redis_cli"),
    row("cli", "password",
        r"\bldap(?:search|add|modify|delete|modrdn|compare|passwd|whoami|exop)\b"
        + _SAME_COMMAND + r"-w\s+" + _ARGUMENT,
        group=1, validator=_chosen, score=0.8, name="ldap_simple_bind"),
    row("cli", "password",
        r"\b(?:mysql(?:dump|admin|import|check|show|slap)?|mariadb(?:-dump|-admin)?)\b"
        + _SAME_COMMAND + r"-p" + _GLUED,
        group=1, validator=_chosen, score=0.8, name="mysql_glued"),
    row("redis", "password",
        r"(?:^|\n)[ \t]*(?:requirepass|masterauth)[ \t]+" + _ARGUMENT + r"[ \t]*(?:\r?\n|$)",
        data_class="generic_password", group=1, validator=password, score=0.8,
        name="redis_conf"),  # a config line like a named assignment: examples marked
    row("cli", "api_key",
        r"(?:^|\s)--?(?i:api[_\-]?(?:key|token)|access[_\-]?token|auth[_\-]?token|token)"
        r"(?:=|[ \t]+)[\"']?([A-Za-z0-9_\-.+/=:]{12,})[\"']?(?:\s|$)",
        data_class="generic_api_key", group=1, validator=generated(12), score=0.8,
        name="token_flag"),
    row("powershell", "password",
        r"(?i:ConvertTo-SecureString)\s+(?i:-String\s+)?" + _LITERAL + r"\s+(?i:-AsPlainText)",
        data_class="generic_password", group=1, validator=_chosen, score=0.8,
        name="secure_string"),
    row("generic", "password",
        r"\bset(?:[A-Z][A-Za-z]*)?" + _PASSWORD_WORDS + r"\s*\(\s*" + _LITERAL + r"\s*\)",
        data_class="generic_password", group=1, validator=_chosen, score=0.8,
        name="password_setter"),
    row("generic", "password",
        r"\bset_(?:[a-z]+_)*(?:password|passwd|pwd|passphrase|secret)\s*\(\s*" + _LITERAL
        + r"\s*\)",
        data_class="generic_password", group=1, validator=_chosen, score=0.8,
        name="password_setter_snake"),
    row("generic", "api_key",
        r"\bset(?:[A-Z][A-Za-z]*)?" + _KEY_WORDS + r"\s*\(\s*" + _LITERAL + r"\s*\)",
        data_class="generic_api_key", group=1, validator=generated(12), score=0.8,
        name="key_setter"),
    row("generic", "password",
        r"(?:\b(?:mysqli?_p?connect|DBI(?:->|\.)connect|getConnection)|\bnew\s+"
        r"(?:mysqli|PDO|Sequelize))\s*\(\s*" + _OTHER_LITERAL + r"\s*,\s*" + _OTHER_LITERAL
        + r"\s*,\s*" + _LITERAL + r"\s*[,)]",
        data_class="generic_password", group=1, validator=_chosen, score=0.8,
        name="db_connect_third"),
    row("generic", "password",
        r"\b(?:oci_p?connect|oci_new_connect|simple_bind(?:_s)?|bind_s)\s*\(\s*"
        + _OTHER_LITERAL + r"\s*,\s*" + _LITERAL + r"\s*[,)]",
        data_class="generic_password", group=1, validator=_chosen, score=0.8,
        name="db_connect_second"),
    row("uri", "password",
        r"[\"'`][^\"'`\s:@/]+:([^\"'`\s@]+)@(?:tcp|unix)\(",
        data_class="connection_string", group=1, validator=_chosen, score=0.8,
        name="go_mysql_dsn"),
    row("generic", "password",
        r"\.login\(\s*" + _OTHER_LITERAL + r"\s*,\s*" + _LITERAL + r"\s*[,)]",
        data_class="generic_password", group=1, validator=_chosen, score=0.8,
        name="login_call"),
    row("generic", "password",
        r"(?:\bauth\s*=\s*[(\[]|\bHTTP(?:Basic|Digest|Proxy)Auth\(|\bBasicAuth\()\s*"
        + _OTHER_LITERAL + r"\s*,\s*" + _LITERAL + r"\s*[)\]]",
        data_class="generic_password", group=1, validator=_chosen, score=0.8,
        name="auth_pair"),
)  # fmt: skip
