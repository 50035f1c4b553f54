"""Identifiers of private infrastructure: AWS ARNs and account ids, S3 and Cloud Storage
bucket names, Shopify store domains, Google OAuth client ids.

None of these grants access by itself, but together they map an organisation's cloud
estate and are what secret scanners such as Nosey Parker report for reconnaissance.
Most are scored ``IDENTIFIER_SCORE`` (below the default threshold), so a policy that
blocks ``secret.*`` does not block every prompt that mentions a bucket; lower the
class threshold to act on them. Nosey Parker, whose rule examples label these as
findings, itself files every one of these rules under the ``identifier`` category, not
``secret``; the reason for each class is on its row.

One identifier is reported at the threshold: a specific AWS account, named by a
12-digit id inside an ARN or assigned to an account-id key. That pins a prompt to one
organisation's account and resources (what an attacker enumerates first), where a bare
12-digit number or an ARN without an account (``arn:aws:s3:::bucket``) does not. AWS's
documentation accounts (``123456789012``, ``111122223333``…) and counting or repeated
fillers have the real format and are reported like every documented dummy (see
``dummies``), marked ``known_dummy``: a policy copied from the docs is shaped like a
leak, and a reviewer can tell the two apart. Lambda layer ARNs stay below the
threshold: vendors publish them for anyone to attach.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern, Validator
from bastion.detect.secrets.dummies import DUMMY
from bastion.detect.secrets.entropy import counting_run
from bastion.detect.secrets.rows import ASSIGN, IDENTIFIER_SCORE, OPEN, row

_BUCKET = r"[a-z0-9][a-z0-9.\-_]*"
_S3_HOST = r"s3[.\-][a-z0-9.\-]*amazonaws\.com"
# arn:partition:service:region:account:resource; the account is 12 digits or empty.
_ARN_HEAD = r"\barn:aws(?:-cn|-us-gov|-iso|-iso-b)?:[a-z0-9\-]+:[a-z0-9\-]*:"
_ARN_RESOURCE = r"[A-Za-z0-9_/:.*+=,@{}$\-]+"
_ACCOUNT_KEY = r"(?i:aws[_\-]?account[_\-]?(?:id|number|no))"
# A specific account is a reportable identifier; the others stay below the threshold.
ACCOUNT_SCORE = 0.5

# Account ids of AWS's own documentation (IAM, KMS and Organizations user guides).
DOC_ACCOUNT_IDS: frozenset[str] = frozenset(
    {"123456789012", "111122223333", "444455556666", "555555555555", "777788889999"}
)


def is_doc_account(account: str) -> bool:
    """AWS's documentation accounts, and fillers: a counting run of seven or more digits
    (``123456789023``) or at most three distinct digits (``444455556666``), which a real
    random 12-digit id has with odds below one in ten thousand."""
    if account in DOC_ACCOUNT_IDS or counting_run(account) >= 7:
        return True
    return len(set(account)) <= 3


def _named_account(value: str, *, of_arn: bool) -> tuple[str, bool]:
    """``(account id, published)`` of an ARN or a bare id. Lambda layer ARNs are published
    for other accounts to attach (Powertools, vendors' extensions), so their account is
    public knowledge."""
    if not of_arn:
        return value, False
    _, _, service, _, account, resource = value.split(":", 5)
    return account, service == "lambda" and resource.startswith("layer:")


def _account(*, reported: bool, of_arn: bool) -> Validator:
    """Keep a named account (``reported``): a private one, or a documentation one marked
    ``known_dummy``; or else (not ``reported``) only the published ones."""

    def check(value: str) -> Mapping[str, str] | None:
        account, published = _named_account(value, of_arn=of_arn)
        if reported == published:
            return None
        return DUMMY if is_doc_account(account) else ACCEPT

    return check


def _bucket(value: str) -> Mapping[str, str] | None:
    """Bucket naming rules: 3 to 63 characters, starting and ending with a letter or digit."""
    return ACCEPT if 3 <= len(value) <= 63 and value[-1].isalnum() else None


def _google_client_id(value: str) -> Mapping[str, str] | None:
    """``<project number>-<32 characters>.apps.googleusercontent.com``."""
    number, _, rest = value.partition("-")
    return ACCEPT if len(number) >= 6 and rest.index(".") == 32 else None


CLASSES: Mapping[str, str] = {
    "secret.aws_arn": "Amazon Resource Name; reported when it names a real 12-digit account.",
    "secret.aws_account_id": "AWS account id (12 digits) assigned to an account-id key.",
    "secret.aws_s3_bucket": "Amazon S3 bucket name in an S3 URL.",
    "secret.gcs_bucket": "Google Cloud Storage bucket name in a storage URL.",
    "secret.shopify_domain": "Shopify store domain (….myshopify.com).",
    "secret.google_client_id": "Google OAuth client id (….apps.googleusercontent.com).",
}

PATTERNS: tuple[Pattern, ...] = (
    # An ARN names a resource; IAM decides access, and ARNs fill policies, logs and docs.
    # Without an account (S3 buckets, global resources) it names no tenant.
    row("aws", "arn", _ARN_HEAD + ":" + _ARN_RESOURCE, score=IDENTIFIER_SCORE),
    # With an account id it pins one organisation's account and resource names (a
    # documentation account is reported too, marked known_dummy).
    row(
        "aws",
        "arn",
        _ARN_HEAD + r"\d{12}:" + _ARN_RESOURCE,
        validator=_account(reported=True, of_arn=True),
        score=ACCOUNT_SCORE,
        name="arn_account",
    ),
    row(
        "aws",
        "arn",
        _ARN_HEAD + r"\d{12}:" + _ARN_RESOURCE,
        validator=_account(reported=False, of_arn=True),
        score=IDENTIFIER_SCORE,
        name="arn_published_layer",
    ),
    # AWS documents account ids as identifiers to share, not secrets; assigned to an
    # account-id key in a config or a dump, one still names the organisation's account.
    row(
        "aws",
        "account_id",
        _ACCOUNT_KEY + ASSIGN + OPEN + r"(\d{12})\b",
        group=1,
        validator=_account(reported=True, of_arn=False),
        score=ACCOUNT_SCORE,
    ),
    # Bucket names are public DNS labels; access is the bucket policy's.
    row(
        "aws",
        "s3_bucket",
        r"(" + _BUCKET + r")\." + _S3_HOST + r"\b",
        group=1,
        validator=_bucket,
        score=IDENTIFIER_SCORE,
    ),
    row(
        "aws",
        "s3_bucket",
        r"(?:^|[^A-Za-z0-9.\-_])" + _S3_HOST + "/(" + _BUCKET + r")\b",
        group=1,
        validator=_bucket,
        score=IDENTIFIER_SCORE,
        name="s3_bucket_path",
    ),
    # Same for Cloud Storage: the name is in every object URL.
    row(
        "gcs",
        "bucket",
        r"(" + _BUCKET + r")\.storage\.googleapis\.com\b",
        group=1,
        validator=_bucket,
        score=IDENTIFIER_SCORE,
    ),
    row(
        "gcs",
        "bucket",
        r"(?:(?:^|[^A-Za-z0-9.\-_])storage\.googleapis\.com/|\bgs://)(" + _BUCKET + r")\b",
        group=1,
        validator=_bucket,
        score=IDENTIFIER_SCORE,
        name="bucket_path",
    ),
    # A store's domain is its public storefront address.
    row(
        "shopify",
        "domain",
        r"([a-z0-9][a-z0-9\-]*\.myshopify\.com)\b",
        group=1,
        score=IDENTIFIER_SCORE,
    ),
    # OAuth client ids ship in web pages and mobile apps; the client secret is the secret.
    row(
        "google",
        "client_id",
        r"(\d+-[a-z0-9]+\.apps\.googleusercontent\.com)\b",
        group=1,
        validator=_google_client_id,
        score=IDENTIFIER_SCORE,
    ),
)
