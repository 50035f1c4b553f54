"""Password hashes in crypt(3) and cracking-tool formats.

A hash is not the password, but a leaked salted hash can be cracked offline (and an
AS-REP or TGS blob is exactly what Kerberoasting extracts), so a hash in a prompt is a
credential leak. The formats are self-describing (``$2b$``, ``$6$``, ``$krb5asrep$``,
LDAP's ``{SSHA}``), which keeps these patterns precise.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.rows import row

_B = r"[./A-Za-z0-9]"

CLASSES: Mapping[str, str] = {
    "secret.password_hash": "Password hash (bcrypt, crypt, Cisco, argon2, Kerberos…).",
}


def _hash(kind: str, regex: str) -> Pattern:
    return row("hash", kind, regex, data_class="password_hash", score=0.8)


PATTERNS: tuple[Pattern, ...] = (
    _hash("bcrypt", r"\$2[abxy]?\$\d{2}\$" + _B + "{53}"),
    _hash("md5crypt", r"\$(?:1|apr1)\$" + _B + r"{1,8}\$" + _B + "{22}"),
    _hash("sha256crypt", r"\$5\$(?:rounds=\d{1,9}\$)?" + _B + r"{1,16}\$" + _B + "{43}"),
    _hash("sha512crypt", r"\$6\$(?:rounds=\d{1,9}\$)?" + _B + r"{1,16}\$" + _B + "{86}"),
    _hash("yescrypt", r"\$y\$" + _B + r"{1,40}\$" + _B + r"{1,86}\$" + _B + "{43}"),
    _hash("cisco", r"\$[89]\$" + _B + r"{14}\$" + _B + "{43}"),
    _hash(
        "argon2",
        r"\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{16,}\$[A-Za-z0-9+/]{22,}",
    ),
    _hash(
        "pbkdf2_django",
        r"\bpbkdf2_sha(?:1|256)\$\d{4,7}\$[A-Za-z0-9./+]{1,64}\$[A-Za-z0-9+/]{27,}=*",
    ),
    _hash(
        "krb5asrep",
        r"\$krb5asrep\$\d{2}\$(?:[^:$\s]+:)?[a-f0-9]{32}\$[a-f0-9]{64,}",
    ),
    _hash("krb5tgs", r"\$krb5tgs\$\d{2}\$\*[^*\s]+\*\$[a-f0-9]{32}\$[a-f0-9]{64,}"),
    # LDAP userPassword / htpasswd: {SHA} is base64 of 20 bytes, {SSHA} adds a salt.
    _hash("ldap_sha", r"\{(?:SHA|SSHA|SHA256|SSHA256|SSHA512)\}[A-Za-z0-9+/]{27,}={0,2}"),
)
