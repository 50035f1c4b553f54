"""Secrets assigned to a telling name: ``password = "…"``, ``api_key: …``, ``SECRET=…``.

One grammar covers code, config, env files, JSON and YAML: a key containing a
password, secret or key/token word, an assignment (``=``, ``:``, ``=>``, ``:=``; for
passwords also ``==``/``!=``, since a comparison against a literal is a hard-coded
credential), then a double-quoted, single-quoted or bare value. The span is the value.

Three key families decide how a value is judged (``values``): passwords and secrets
may be short words someone chose, so only placeholders, templates, variables and labels
are dropped; API keys and tokens must also look generated (entropy, several character
classes, no counting runs), because those names often hold ordinary identifiers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from bastion.detect.patterns import Pattern, Validator
from bastion.detect.secrets.checks import generated, password
from bastion.detect.secrets.dummies import is_dummy_password
from bastion.detect.secrets.rows import row
from bastion.detect.secrets.values import (
    bare_identifier,
    has_expansion,
    is_code_reference,
    is_template,
    machine_secret,
)
from bastion.detect.secrets.words import has_word_segment

# Password-like key names, glued to any prefix (DB_PASSWORD, AdminPassword, $pwd) and
# an optional known suffix (password_hash, PASSWORD2); "pass" and the "pw" abbreviation
# (ROOT_PW, db_pw) alone only as a word.
_PW_NAMES = (
    r"(?:(?i:pass(?:word|wd|[_\-]?phrase)|pwd|sshpass)"
    r"(?:[_.\-]?(?i:hash|value|str|string|plain|clear|cleartext|enc|encrypted|b64|raw|\d))?"
    r"|(?:\b|_)(?i:pass|pw))"
)
_SECRETISH_NAMES = r"(?i:secret)(?:[_.\-]?(?i:key(?:[_.\-]?base)?|token|value|string|str|\d))?"
_APIKEY_NAMES = (
    r"(?i:api[_.\-]?(?:key|token|secret)|apikey|access[_.\-]?(?:key|token)|auth[_.\-]?"
    r"(?:key|token)|(?:refresh|bearer|session|id)[_.\-]?token|token|private[_.\-]?key|"
    r"(?:license|signing|encryption|master|client|app|consumer)[_.\-]?key|credentials?)"
)
# = := ::= ?= += .= ||= ??= => <- and YAML/JSON colons; the closing quote of a quoted key
# first. (R and Go channel sends write "<-"; Ruby and JavaScript default with "||=", "??=".)
_ASSIGN = r"""\\{0,2}["'\]]?\s*(?:=>|<-|:{1,3}=|(?:\|\||\?\?|[?+.])?=|:)\s*"""
_COMPARE_OR_ASSIGN = r"""\\{0,2}["'\]]?\s*(?:=>|<-|:{1,3}=|===?|!==?|(?:\|\||\?\?|[?+.])?=|:)\s*"""
# A typed declaration before a quoted value: Go ``var apiToken string =``, Kotlin
# ``: String =``, Rust ``: &str =`` / ``: &'static str =``.
_TYPED = r"""(?::\s*|\s+)&?(?:'static\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=\s*"""
# For function-argument style: buildConfigField('String', 'API_KEY', '"…"').
_ARG = r"""["'][ \t]*,[ \t]*"""
# Quoted values, also inside an escaped string (\"value\" in a JSON-encoded snippet).
_DQ = r'\\{0,2}"([^"\r\n]+?)\\{0,2}"'
_SQ = r"\\{0,2}'([^'\r\n]+?)\\{0,2}'"
_BQ = r"`([^`\r\n]+?)`"
_BARE = r"""([^\s"'`,;&<>]{3,})"""
# A YAML block scalar: ``key: |`` then the value indented on the next line.
_BLOCK = r"""["']?\s*:\s*[|>][+\-]?[ \t]*\r?\n[ \t]+([^\s"'`]{3,})"""
# Unquoted values: after a colon only for a key that starts its line (YAML, properties;
# "secret: SHA-256" inside a sentence is prose), after "=" with no space behind it
# anywhere (env files, connection strings, query strings), after a spaced operator with
# extra care (code, where a bare word is a variable).
_LINE_KEY = r"""(?:^|\n)[ \t#\-]*[A-Za-z0-9_.\-"']*"""
_COLON = r"""["']?[ \t]*:[ \t]*"""
_TIGHT = r"""["']?[ \t]*="""
# A bare value after a line-start key ends its line (or meets a comment, a statement end
# or a flow-mapping delimiter): "Password: at least 8 characters" and "secret: SHA-256 of
# the body" are prose.
_LINE_END = r"""[ \t]*(?:[#;,}\r\n]|//|$)"""
_SPACED = r"""["'\]]?[ \t]*(?:=>|:{1,3}=|(?:\|\||\?\?|[?+.])?=)[ \t]*"""
# A CSV row or an argument list on one line: ``apiToken,value,``.
_CSV = r"""["']?[ \t]*,[ \t]*"""
# Definitions that name a value with a space instead of an operator: a C macro
# (``#define WIFI_PASSWORD "…"``), a Dockerfile's legacy ``ENV API_TOKEN …`` and Emacs
# Lisp's ``(setq api-token "…")``; then the rest of the name before the key word.
_DEFINE = r"""(?:#[ \t]*define|\((?i:setq)|(?:^|\n)[ \t]*ENV)[ \t]+[A-Za-z0-9_.\-]*"""
_DEFINE_VALUE = r"""["']?[ \t]+["']?([^\s"'`]{3,})["']?[ \t]*(?:[)\r\n]|//|/\*|$)"""
# A name/value pair: ECS task definitions and ARM app settings in JSON
# (``{"name": "DB_PASSWORD", "value": "…"}``), XML settings (``<entry name="…" value="…"/>``).
_PAIR_NAME = r"""(?:"name"\s*:\s*"|\b(?:name|key)\s*=\s*")[A-Za-z0-9_.\-]*"""
_PAIR_VALUE = r'"\s*,?\s*(?:"value"\s*:|value\s*=)\s*"([^"\r\n]+)"'
# A Kubernetes, Compose or CI environment list: ``- name: API_TOKEN`` then ``value: …``
# on the next line.
_ENV_NAME = r"""(?:^|\n)[ \t]*-?[ \t]*name:[ \t]*["']?[A-Za-z0-9_.\-]*"""
_ENV_VALUE = r"""["']?[ \t]*\r?\n[ \t]*value:[ \t]*["']?([^\s"'`]{3,})["']?[ \t]*(?:[#\r\n]|$)"""


def _bare(inner: Validator, *, code: bool = False) -> Validator:
    """Unquoted values: also drop variable names, dotted paths and shell expansions.

    With ``code`` (a spaced ``=`` as in ``secret = parsed``) a bare identifier is a
    variable, not a literal, and is dropped too, unless it looks generated: INI-style
    files (``rclone.conf``, ``.s3cfg``, ``my.cnf``) write ``pass = Xk9fL2pQ8rT5vW1y``,
    and nobody names a variable like that.
    """

    def check(value: str) -> Mapping[str, str] | None:
        if is_dummy_password(value):
            return inner(value)  # reads like a variable name, but it is the famous example
        if _expands(value) or bare_identifier(value):
            return None
        if is_code_reference(value):
            return None
        if code and value.isidentifier() and not _generated_name(value):
            return None
        if value.lower() in _KEY_WORDS or value in _TYPE_NAMES:
            return None
        if _names_a_credential(value) or _dotted_path(value):
            return None
        return inner(value)

    return check


def _expands(value: str) -> bool:
    """Shell or template syntax in an unquoted value: ``$VAR``, ``${x}``, ``$(cmd)``,
    ``{{ x }}``, a call or an index. A lone ``$``, ``{`` or ``}`` among other characters
    (``Wx7}jr$9Ng``, ``Xk9#mQ2$vLp7``: see ``has_expansion``) is how generated passwords
    look, and stays; a leading ``{`` opens
    a template or an LDAP hash scheme (``{SSHA}…``, a password hash row's)."""
    if any(char in value for char in "()[]") or value[0] == "{" or is_template(value):
        return True
    return has_expansion(value)


def _generated_name(value: str) -> bool:
    """A bare identifier that is a generated value, not a variable's name."""
    return machine_secret(value) and not has_word_segment(value)


_KEY_WORDS = frozenset({"password", "passwd", "pwd", "pass", "secret", "token", "key", "apikey"})
# Type annotations (``secret: bytes``) read like YAML.
_TYPE_NAMES = frozenset({"bytes", "int", "bool", "float", "Any", "object", "SecretStr", "str"})


def _not_self_named(inner: Validator) -> Validator:
    """Secret-named keys: a value that repeats the word (``"secret": "secrets"``) is a
    label or a mapping, not a secret."""

    def check(value: str) -> Mapping[str, str] | None:
        return None if "secret" in value.lower() else inner(value)

    return check


def _names_a_credential(value: str) -> bool:
    """``smtp_password``, ``userPassword``: an identifier naming a field, not a value."""
    folded = value.lower()
    if not any(word in folded for word in ("pass", "secret", "token", "key")):
        return False
    camel = any(a.islower() and b.isupper() for a, b in itertools.pairwise(value))
    return "_" in value or camel


def _dotted_path(value: str) -> bool:
    """``self.password``, ``config.db.pass``: attribute access, not a literal."""
    parts = value.split(".")
    return len(parts) > 1 and all(p.isidentifier() for p in parts)


# Names a vendor format owns: the vendor's row reports every value that fits the format
# (AWS secret keys are 40 base64 characters, Twitch stream keys live_<id>_<30>), so a
# value under that name that does not fit is a near miss (a truncated or made-up value),
# not a generic secret. A row of a generic family starts with this as a veto: matched
# first at an earlier or the same position (leftmost-first), it captures nothing.
_VENDOR_OWNED = (
    r"(?i:aws[_.\-]?secret(?:[_.\-]?access)?[_.\-]?key|"
    r"aws[_.\-]?session[_.\-]?token|twitch[_.\-]?stream[_.\-]?key)"
)


def _vetoed(regex: str, veto: str, lead: str = "") -> str:
    """``regex`` behind ``veto``: where both match from one position, the veto wins."""
    return "(?:" + lead + veto + "|" + regex + ")" if veto else regex


def _family(
    name: str, data_class: str, key: str, validator: Validator, *, chosen: bool, veto: str = ""
) -> tuple[Pattern, ...]:
    """The quoted, bare and YAML-block rows of one key family.

    ``chosen`` families (passwords, secrets) also match comparisons against a literal;
    generated-value families (keys, tokens) also match CSV/argument commas, which
    would be too loose for short human-chosen values. ``veto`` names keys the family
    leaves alone (``_VENDOR_OWNED``).
    """
    assign = _COMPARE_OR_ASSIGN if chosen else _ASSIGN
    quoted = "(?:" + assign + "|" + _TYPED + ("" if chosen else "|" + _ARG) + ")"
    spaced = _SPACED if chosen else "(?:" + _SPACED + "|" + _CSV + ")"
    line_assign = _COLON if chosen else r"""["']?[ \t]*[:=][ \t]*"""
    line = _LINE_KEY + key + line_assign + _BARE + _LINE_END
    return (
        row("generic", name, _vetoed(key + quoted + _DQ, veto), group=1, data_class=data_class,
            validator=validator, score=0.8, name=f"{name}_dq"),
        row("generic", name, _vetoed(key + quoted + _SQ, veto), group=1, data_class=data_class,
            validator=validator, score=0.8, name=f"{name}_sq"),
        row("generic", name, _vetoed(line, veto, _LINE_KEY), group=1, data_class=data_class,
            validator=_bare(validator), score=0.7, name=f"{name}_line"),
        row("generic", name, _vetoed(key + _TIGHT + _BARE, veto), group=1, data_class=data_class,
            validator=_bare(validator), score=0.7, name=f"{name}_bare"),
        row("generic", name, _vetoed(key + spaced + _BARE, veto), group=1, data_class=data_class,
            validator=_bare(validator, code=chosen), score=0.7, name=f"{name}_bare_code"),
        row("generic", name, _vetoed(key + _BLOCK, veto), group=1, data_class=data_class,
            validator=_bare(validator), score=0.7, name=f"{name}_yaml_block"),
        row("generic", name, _vetoed(_DEFINE + key + _DEFINE_VALUE, veto, _DEFINE), group=1,
            data_class=data_class, validator=_bare(validator), score=0.7, name=f"{name}_define"),
        row("generic", name, _vetoed(_ENV_NAME + key + _ENV_VALUE, veto, _ENV_NAME), group=1,
            data_class=data_class, validator=_bare(validator), score=0.7, name=f"{name}_env_list"),
        row("generic", name, _vetoed(_PAIR_NAME + key + _PAIR_VALUE, veto, _PAIR_NAME), group=1,
            data_class=data_class, validator=validator, score=0.8, name=f"{name}_pair"),
        row("generic", name, _vetoed(key + assign + _BQ, veto), group=1, data_class=data_class,
            validator=validator, score=0.8, name=f"{name}_bq"),
    )  # fmt: skip


# Any name that ends in "key" after a separator or a camel hump (PAYFAST_KEY, hmacKey,
# X-Acme-Key): most such keys hold credentials, so a generated-looking value is one. The
# exceptions are names whose last word says the key is public (public, publishable,
# site) or not a credential at all (cache, sort, primary, idempotency, i18n…). RE2 has no
# lookbehind, so each row starts with a veto: such a word before "key", which begins
# left of the separator the real branch starts at, so it is the leftmost match and
# captures nothing.
_KEY_SUFFIX = r"(?:[_\-](?:KEY|Key|key)|[a-z0-9]Key)"
_NON_CREDENTIAL_WORDS = (
    "public|publishable|pub|site|cache|sort|primary|foreign|partition|range|hash|row|"
    "object|map|i18n|translation|locale|lang|query|route|unique|idempotency|dedup|dedupe|"
    "correlation|request|message|event|item|list|field|column|table|index|group|node|"
    "gpg|pgp|ssh|redis|react|access|api|auth|private|secret"
)
_KEY_VETO = r"(?i:" + _NON_CREDENTIAL_WORDS + r")[_\-]?(?:KEY|Key|key)"


def _named_key_rows() -> tuple[Pattern, ...]:
    """``<anything>_KEY = value`` rows, each behind its veto (see ``_KEY_VETO``). Names the
    api-key family already covers (api, access, auth, private, secret) are vetoed here too,
    so a value is reported once."""
    styles = (
        ("dq", "", _ASSIGN + _DQ, generated(16)),
        ("sq", "", _ASSIGN + _SQ, generated(16)),
        ("bare", "", _TIGHT + _BARE, _bare(generated(16))),
        ("line", _LINE_KEY, r"""["']?[ \t]*:[ \t]*""" + _BARE + _LINE_END, _bare(generated(16))),
    )
    return tuple(
        row(
            "generic",
            "api_key",
            f"(?:{lead}{_KEY_VETO}|{lead}{_VENDOR_OWNED}|{lead}{_KEY_SUFFIX}{tail})",
            data_class="generic_api_key",
            group=1,
            validator=validator,
            score=0.7,
            name=f"named_key_{name}",
        )
        for name, lead, tail, validator in styles
    )


# A Terraform input variable whose name ends in a credential word, as an assigned key's
# does (db_password, api_token; not secret_name or token_ttl), up to its ``default`` (the
# value used whenever none is passed: a hard-coded credential). The body before it holds
# only attributes (description, type, sensitive), not nested blocks.
_TF_VARIABLE = r"""\bvariable\s+"[A-Za-z0-9_\-]*"""
_TF_DEFAULT = r'"\s*\{[^{}]{0,400}?\bdefault\s*=\s*"([^"\r\n]+)"'


def _terraform_defaults() -> tuple[Pattern, ...]:
    """``variable "db_password" { default = "…" }`` rows, judged like assignments to the
    same name: a chosen password or secret, or a generated key or token."""
    families = (
        ("password", "generic_password", _PW_NAMES, password),
        ("secret", "generic_secret", _SECRETISH_NAMES, _not_self_named(password)),
        ("api_key", "generic_api_key", _APIKEY_NAMES, generated(12)),
    )
    return tuple(
        row("generic", name, _TF_VARIABLE + key + _TF_DEFAULT, data_class=data_class, group=1,
            validator=validator, score=0.8, name=f"{name}_terraform_default")
        for name, data_class, key, validator in families
    )  # fmt: skip


def _single_word(value: str) -> Mapping[str, str] | None:
    """Prose passwords ("the password is 'hunter2'"): one word, not a placeholder."""
    return None if " " in value.strip() else password(value)


CLASSES: Mapping[str, str] = {
    "secret.generic_password": "A password assigned in code, config or prose.",
    "secret.generic_secret": "A value assigned to a secret-named key (client_secret…).",
    "secret.generic_api_key": "A generated-looking value assigned to a key/token name.",
}

PATTERNS: tuple[Pattern, ...] = (
    *_family("password", "generic_password", _PW_NAMES, password, chosen=True),
    *_family(
        "secret",
        "generic_secret",
        _SECRETISH_NAMES,
        _not_self_named(password),
        chosen=True,
        veto=_VENDOR_OWNED,
    ),
    *_family(
        "api_key", "generic_api_key", _APIKEY_NAMES, generated(12), chosen=False, veto=_VENDOR_OWNED
    ),
    *_named_key_rows(),
    *_terraform_defaults(),
    row(
        "generic",
        "api_key",
        r"<[A-Za-z0-9_.\-]*" + _APIKEY_NAMES + r">\s*([^<\s]+)\s*</",
        data_class="generic_api_key",
        group=1,
        validator=generated(12),
        score=0.8,
        name="api_key_xml",
    ),
    # PHP constants (wp-config.php): define('DB_PASSWORD', 'value').
    row(
        "generic",
        "password",
        r"(?i:\bdefine)\s*\(\s*[\"'][A-Za-z0-9_]*" + _PW_NAMES + r"[A-Za-z0-9_]*[\"']\s*,\s*"
        r"[\"']([^\"'\r\n]+)[\"']",
        data_class="generic_password",
        group=1,
        validator=password,
        score=0.8,
        name="password_php_define",
    ),
    # SQL account statements: CREATE/ALTER USER|ROLE|LOGIN or GRANT … IDENTIFIED BY
    # 'value' (not the IDENTIFIED BY PASSWORD '<hash>' form, whose value is a hash). The
    # statement's verb is required: prose says "each record is identified by `order_id`".
    row(
        "generic",
        "password",
        r"(?i:\b(?:(?:create|alter)\s+(?:user|role|login)|grant)\b[^;]{0,200}?"
        r"\bidentified\s+(?:with\s+[A-Za-z0-9_]+\s+)?by)\s+[\"'`]([^\"'`\r\n]+)[\"'`]",
        data_class="generic_password",
        group=1,
        validator=password,
        score=0.8,
        name="password_sql_identified",
    ),
    row(
        "generic",
        "password",
        r"(?i:\bpass(?:word|phrase)\b)\s+[\"']([^\"'\r\n]+)[\"']",
        data_class="generic_password",
        group=1,
        validator=password,
        score=0.7,
        name="password_spaced",
    ),
    row(
        "generic",
        "password",
        r"(?i:\bpass(?:word|phrase)\b)[^\r\n]{0,50}?\s(?i:is|was|to)\s*:?\s*[\"'`]"
        r"([^\"'`\r\n]{2,64})[\"'`]",
        data_class="generic_password",
        group=1,
        validator=_single_word,
        score=0.7,
        name="password_prose",
    ),
    row(
        "generic",
        "password",
        r"<[A-Za-z0-9_.\-]*(?i:pass(?:word|wd)|pwd|secret)>\s*([^<\s][^<\r\n]*?)\s*</",
        data_class="generic_password",
        group=1,
        validator=password,
        score=0.8,
        name="password_xml",
    ),
    row(
        "generic",
        "password",
        r"(?i:key)\s*=\s*\"[^\"\r\n]*(?i:pass(?:word|wd)|pwd|secret|token|api[_\-]?key)"
        r"[^\"\r\n]*\"\s+(?i:value)\s*=\s*\"([^\"\r\n]+)\"",
        data_class="generic_password",
        group=1,
        validator=password,
        score=0.8,
        name="password_dotnet_setting",
    ),
)
