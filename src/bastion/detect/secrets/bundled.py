"""Account names in environment variables that front-end build tools publish.

Create React App (``REACT_APP_``), Vite (``VITE_``), Next.js (``NEXT_PUBLIC_``), Vue CLI
(``VUE_APP_``), Gatsby (``GATSBY_``), Expo (``EXPO_PUBLIC_``) and Nuxt
(``NUXT_PUBLIC_``) inline every variable with their prefix into the JavaScript bundle
that each visitor downloads; their documentation warns to keep credentials out of
them. A login name there (``REACT_APP_AUTH_USERNAME=bowie``) is half of a credential
pair shipped to the public, usually beside its password, so it is reported as
``secret.frontend_env_username`` (passwords under such names are already
``secret.generic_password``). References (``$OTHER_VAR``), booleans, placeholders and
values that merely name a field (``smtp_username``) are not.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern
from bastion.detect.secrets.rows import row
from bastion.detect.secrets.values import is_code_reference, is_placeholder

# Prefixes whose variables the build tools above expose to the browser bundle.
_PUBLIC_PREFIX = r"(?:REACT_APP|VITE|NEXT_PUBLIC|VUE_APP|GATSBY|EXPO_PUBLIC|NUXT_PUBLIC)_"
# The variable's last word names an account: USER, USERNAME, LOGIN, ACCOUNT_NAME.
_ACCOUNT_WORD = r"(?:USER(?:_?NAME)?|LOGIN(?:_?NAME)?|ACCOUNT_?NAME)"
# Env-file style: the key starts its line (an optional "export" or comment marker), "=",
# then a quoted or bare value up to the end of the line or a comment.
_KEY = r"(?:^|\n)[ \t]*(?:#[ \t]*)?(?:export[ \t]+)?\b" + _PUBLIC_PREFIX + r"[A-Z0-9_]*"
_VALUE = r"""[ \t]*=[ \t]*["']?([^\s"'#$`{}<>]{2,64})["']?[ \t]*(?:#[^\r\n]*)?(?:\r?\n|$)"""

# Values a form or a tutorial uses for the account name itself.
_FIELD_WORDS = ("user", "name", "login", "email", "account")


def _account_name(value: str) -> Mapping[str, str] | None:
    """A literal login name: not a placeholder, a boolean, a number or a field's name."""
    folded = value.lower()
    if is_placeholder(value) or is_code_reference(value) or value.isdigit():
        return None
    if folded in _FIELD_WORDS or folded in ("username", "loginname", "accountname"):
        return None
    # smtp_username, mailerUser: an identifier naming the field, not a name someone has.
    camel = any(a.islower() and b.isupper() for a, b in itertools.pairwise(value))
    if any(word in folded for word in _FIELD_WORDS) and ("_" in value or camel):
        return None
    return ACCEPT


CLASSES: Mapping[str, str] = {
    "secret.frontend_env_username": (
        "Login name in a browser-bundled env variable (REACT_APP_…, VITE_…, NEXT_PUBLIC_…)."
    ),
}

PATTERNS: tuple[Pattern, ...] = (
    row(
        "frontend",
        "env_username",
        _KEY + _ACCOUNT_WORD + _VALUE,
        group=1,
        validator=_account_name,
        score=0.6,
    ),
)
