"""Is an assigned value a literal credential, or a placeholder, a variable or a label?

Keyword patterns (``password = …``, ``api_key: …``) capture whatever follows the
keyword. Most such values in real code are not secrets: template references
(``${DB_PASSWORD}``, ``{{ secrets.X }}``, ``%(pw)s``), environment lookups, documented
fillers (``changeme``, ``<password>``, ``your_api_key_here``, ``xxxx``, ``****``),
empty or boolean values, UI labels and routes (``"Password:"``, ``/forgot-password``).
These checks are plain string tests on one short value.
"""

from __future__ import annotations

from bastion.detect.secrets.dummies import is_filler, is_mask
from bastion.detect.secrets.entropy import looks_random, sequential_fraction
from bastion.detect.secrets.words import has_word_segment, is_word_name

QUOTES = "\"'`"

PLACEHOLDER_WORDS: frozenset[str] = frozenset(
    {
        "changeme",
        "change_me",
        "change-me",
        "changeit",
        "placeholder",
        "redacted",
        "removed",
        "hidden",
        "secret_here",
        "password_here",
        "token_here",
        "key_here",
        "api_key_here",
        "your_api_key",
        "your_api_key_here",
        "yourapikey",
        "your_password",
        "yourpassword",
        "your_password_here",
        "your_secret",
        "your_token",
        "your_key",
        "enter_password",
        "insert_password",
        "todo",
        "tbd",
        "fixme",
        "null",
        "none",
        "n/a",
        "nil",
        "undefined",
        "true",
        "false",
        "yes",
        "no",
        "empty",
        "string",
        "str",
        "required",
        "optional",
        "dummy",
        "example",
        "sample",
        "notset",
        "not-set",
        "not_set",
        "unset",
        "default",
    }
)
_TEMPLATE_MARKS = ("${", "{{", "}}", "#{", "%(", "<%", "%>", "$(", "[[", "]]")
_CODE_MARKS = (
    "process.env",
    "os.environ",
    "getenv",
    "env(",
    "env.",
    "environ[",
    "config.",
    "settings.",
    "request.",
    "params[",
    "secrets.",
    "vault:",
    "ssm:",
    "arn:aws",
)
_PLACEHOLDER_PREFIXES = ("your", "enter", "insert", "replace", "put_", "put-", "my_api", "xxx")
# Instructions to whoever fills the value in, anywhere in it once separators are
# folded to "-": "insecure-key-change-in-production", "token-goes-here", "replace-me".
_INSTRUCTIONS = (
    "change-this",
    "change-in-prod",
    "change-before",
    "change-me-",
    "replace-me",
    "replace-this",
    "replace-with",
    "goes-here",
    "key-here",
    "token-here",
    "secret-here",
)
# A segment that says the value was masked or made up (sk-proj-REDACTED, ghp_FAKE_…):
# generated keys are random draws, never a word like these.
MARKER_SEGMENTS: frozenset[str] = frozenset(
    {"redacted", "placeholder", "dummy", "fake", "example", "sample", "masked", "truncated"}
)


def strip_quotes(value: str) -> str:
    """``value`` without one layer of surrounding quote characters."""
    while len(value) >= 2 and value[0] in QUOTES and value[-1] == value[0]:
        value = value[1:-1]
    return value.strip(QUOTES)


def is_template(value: str) -> bool:
    """A reference to something else: ``$VAR``, ``${x}``, ``{{ x }}``, ``%s``, ``<name>``."""
    if any(mark in value for mark in _TEMPLATE_MARKS):
        return True
    first, last = value[0], value[-1]
    if first == "$" or (first == "%" and last == "%") or value in ("%s", "%d", "?"):
        return True
    if value.startswith("@@") and value.endswith("@@"):
        return True
    return (first, last) in (("<", ">"), ("[", "]"), ("{", "}"), ("(", ")"))


def has_expansion(value: str) -> bool:
    """A shell or PowerShell variable inside ``value``: ``${x}``, ``$(cmd)``, ``$VAR``
    after punctuation (``user:$PASS``), or a one-case name glued on (``super$ecret``,
    ``pre$SUFFIX``). A ``$`` before a mixed-case run is how generated and chosen passwords
    look (``Xk9#mQ2$vLp7``, ``p@$$w0rdX91``): no one names a variable ``vLp7``."""
    for at, char in enumerate(value[:-1]):
        if char != "$":
            continue
        following = value[at + 1]
        if following in "_{(":
            return True
        if not following.isalpha():
            continue
        before = value[at - 1] if at else ""
        if not before or (not before.isalnum() and before != "$"):
            return True
        name = following
        for letter in value[at + 2 :]:
            if not (letter.isalnum() or letter == "_"):
                break
            name += letter
        if not (any(c.islower() for c in name) and any(c.isupper() for c in name)):
            return True
    return False


def is_placeholder(value: str, *, chosen: bool = False) -> bool:
    """A documented filler, a template, or a value made of filler characters.

    With ``chosen`` (a password someone picks) only masks count as filler: a counting
    run such as ``123456`` or ``abcdef`` is the commonest real weak password."""
    folded = value.lower().strip(" .")
    if not folded or folded in PLACEHOLDER_WORDS or is_template(value):
        return True
    if folded.startswith(_PLACEHOLDER_PREFIXES) or "&lt;" in folded or "your_" in folded:
        return True
    dashed = "".join("-" if char in "_. " else char for char in folded) + "-"
    if any(phrase in dashed for phrase in _INSTRUCTIONS):
        return True
    return is_mask(value) if chosen else is_filler(value)


def is_code_reference(value: str) -> bool:
    """An expression that reads the value from elsewhere (env, config, a request)."""
    folded = value.lower()
    if any(mark in folded for mark in _CODE_MARKS):
        return True
    return "(" in value and ")" in value and value.rstrip(";,").endswith(")")


def is_fragment(value: str) -> bool:
    """Not a value at all: the text between two string literals (``" + x + "``) or a
    path or URL that the key merely points to. An operator at an edge marks the text
    between literals when it comes with spaces or names (``",rememberMeLabel:"``);
    generated passwords may start with ``;`` or end with ``&`` too."""
    edge = value[0] in "+.,;)]|&" or value[-1] in "([+&|"
    if edge and (" " in value or len(value) <= 4 or has_word_segment(value)):
        return True
    return value.startswith(("/", "./", "~/", "http://", "https://", "file:"))


def is_label(value: str) -> bool:
    """A UI label, route or selector that merely names a password field."""
    folded = value.lower()
    if not any(word in folded for word in ("password", "passwd", "secret", "token")):
        return False
    if any(char in value for char in " /") or value[0] in "#." or value.endswith(":"):
        return True
    words = folded.replace("_", "-").split("-")
    return len(words) > 1 and all(word.isalpha() for word in words) and "-" in value


def human_secret(value: str) -> bool:
    """A literal that could be a password someone chose (short and wordy is allowed)."""
    value = strip_quotes(value).strip()
    if len(value) < 3 or len(value) > 200 or is_fragment(value):
        return False
    if is_placeholder(value, chosen=True) or is_code_reference(value) or is_label(value):
        return False
    return not (value.isdigit() and len(value) < 6)


def is_wordy(value: str) -> bool:
    """Words joined by separators (``bastion.cli.admin_token``, ``sk-not-a-real-key``): two
    or more all-letter lower-case segments of four or more, which generated tokens
    (single runs of random characters) almost never have."""
    segments = value.replace(".", " ").replace("_", " ").replace("-", " ").replace(":", " ")
    words = [s for s in segments.replace("/", " ").split() if len(s) >= 4 and s.isalpha()]
    return sum(1 for word in words if word.islower()) >= 2


# Prefixes of vendor formats with an exact documented layout (GitHub: 36 characters
# after ghp_/gho_/ghu_/ghs_, 82 after github_pat_; npm: 36 after npm_; AWS key ids: 16
# after AKIA/ASIA; Google API keys: 35 after AIza; Docker Hub: 27 after dckr_pat_). The
# vendor's own row reports every value with the layout; one with the prefix but not the
# layout is a truncated or made-up key, a near miss the generic keyword rows leave alone.
VENDOR_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "github_pat_", "npm_", "AKIA", "ASIA", "AIza",
                   "dckr_pat_")  # fmt: skip


def has_marker_segment(value: str) -> bool:
    """A separated segment saying the value is masked or made up (``sk-proj-REDACTED``,
    ``ghp_FAKE_0123…``); checked case-insensitively."""
    if len(value) > 200:
        return False
    folded = value.lower()
    for separator in "_.:/":
        folded = folded.replace(separator, "-")
    return any(segment in MARKER_SEGMENTS for segment in folded.split("-"))


def machine_secret(value: str, *, min_length: int = 12) -> bool:
    """A literal that looks generated (API keys, tokens): random-looking, not filler, and
    not a name made of words (``RefreshTokenExpired``) or a masked one (``…-REDACTED``)."""
    value = strip_quotes(value).strip()
    if not value or is_fragment(value) or is_placeholder(value) or is_code_reference(value):
        return False
    if " " in value or is_wordy(value) or is_word_name(value) or has_marker_segment(value):
        return False
    if value.startswith(VENDOR_PREFIXES):
        return False
    return looks_random(value, min_length=min_length) and sequential_fraction(value) < 0.3


def bare_identifier(value: str) -> bool:
    """An unquoted value that reads as a variable name (``env_password``, ``DB_PASS``)."""
    upper_snake = value.isupper() and all(c.isalnum() or c == "_" for c in value)
    return upper_snake and "_" in value and len(value) > 4
