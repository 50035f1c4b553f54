"""Identifiers of private infrastructure: AWS ARNs and account ids, S3 and Cloud Storage
bucket names, Shopify store domains, Google OAuth client ids.

None of these grants access by itself, but together they map an organisation's cloud
estate and are what secret scanners such as Nosey Parker report for reconnaissance.
They are scored ``IDENTIFIER_SCORE`` (below the default threshold), so a policy that
blocks ``secret.*`` does not block every prompt that mentions a bucket; lower the
class threshold to act on them. Nosey Parker, whose rule examples label these as
findings, itself files every one of these rules under the ``identifier`` category, not
``secret``; the reason for each class is on its row.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern
from bastion.detect.secrets.rows import ASSIGN, IDENTIFIER_SCORE, OPEN, row

_BUCKET = r"[a-z0-9][a-z0-9.\-_]*"
_S3_HOST = r"s3[.\-][a-z0-9.\-]*amazonaws\.com"


def _bucket(value: str) -> Mapping[str, str] | None:
    """Bucket naming rules: 3 to 63 characters, starting and ending with a letter or digit."""
    return ACCEPT if 3 <= len(value) <= 63 and value[-1].isalnum() else None


def _google_client_id(value: str) -> Mapping[str, str] | None:
    """``<project number>-<32 characters>.apps.googleusercontent.com``."""
    number, _, rest = value.partition("-")
    return ACCEPT if len(number) >= 6 and rest.index(".") == 32 else None


CLASSES: Mapping[str, str] = {
    "secret.aws_arn": "Amazon Resource Name (infrastructure identifier).",
    "secret.aws_account_id": "AWS account id assigned to an account-id key.",
    "secret.aws_s3_bucket": "Amazon S3 bucket name in an S3 URL.",
    "secret.gcs_bucket": "Google Cloud Storage bucket name in a storage URL.",
    "secret.shopify_domain": "Shopify store domain (….myshopify.com).",
    "secret.google_client_id": "Google OAuth client id (….apps.googleusercontent.com).",
}

PATTERNS: tuple[Pattern, ...] = (
    # An ARN names a resource; IAM decides access, and ARNs fill policies, logs and docs.
    row(
        "aws",
        "arn",
        r"\barn:aws(?:-cn|-us-gov|-iso|-iso-b)?:[a-z0-9\-]+:[a-z0-9\-]*:(?:\d{12})?:"
        r"[A-Za-z0-9_/:.*+=,@{}$\-]+",
        score=IDENTIFIER_SCORE,
    ),
    # AWS documents account ids as identifiers to share, not secrets.
    row(
        "aws",
        "account_id",
        r"(?i:aws[_\-]?account[_\-]?id)" + ASSIGN + OPEN + r"(\d{12})\b",
        group=1,
        score=IDENTIFIER_SCORE,
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
