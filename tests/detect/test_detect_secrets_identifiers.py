"""Infrastructure identifiers: which ones a default scan reports, and which stay below
the threshold (visible with ``all_scores``).

An AWS account is reported when a 12-digit id names it inside an ARN or under an
account-id key; AWS's documentation accounts and counting fillers are reported too,
marked ``known_dummy``. Published Lambda layers, ARNs without an account, bucket names
and OAuth client ids are not. Account
ids below are made up (random digits), never taken from real configurations.
"""

from __future__ import annotations

from functools import cache

import pytest

from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit
from bastion.detect.secrets import secret_patterns
from bastion.detect.secrets.infra import is_doc_account

THRESHOLD = 0.5
ACCOUNT = "403817562719"


@cache
def engine() -> Engine:
    return Engine(secret_patterns())


def strongest(text: str, data_class: str) -> Hit | None:
    """The highest-scored hit of ``data_class`` (what the scanner keeps of overlaps)."""
    found = [h for h in engine().scan(text) if h.data_class == data_class]
    return max(found, key=lambda h: h.score, default=None)


@pytest.mark.parametrize(
    ("text", "data_class", "value"),
    [
        pytest.param(
            f'RoleArn: "arn:aws:iam::{ACCOUNT}:role/deploy-prod"',
            "secret.aws_arn",
            f"arn:aws:iam::{ACCOUNT}:role/deploy-prod",
            id="iam-role",
        ),
        pytest.param(
            f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/5f1e9c0a",
            "secret.aws_arn",
            f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/5f1e9c0a",
            id="china-partition",
        ),
        pytest.param(
            f'{{"Account": "{ACCOUNT}", "Arn": "arn:aws:sts::{ACCOUNT}:assumed-role/ci/run"}}',
            "secret.aws_arn",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/ci/run",
            id="sts-caller-identity",
        ),
        pytest.param(
            f'aws_account_id = "{ACCOUNT}"', "secret.aws_account_id", ACCOUNT, id="quoted-key"
        ),
        pytest.param(
            f"AWS_ACCOUNT_NUMBER={ACCOUNT}", "secret.aws_account_id", ACCOUNT, id="env-number"
        ),
        pytest.param(
            f'AWSAccountId: "{ACCOUNT}",', "secret.aws_account_id", ACCOUNT, id="camel-key"
        ),
    ],
)
def test_a_specific_account_is_reported(text: str, data_class: str, value: str) -> None:
    hit = strongest(text, data_class)
    assert hit is not None
    assert hit.value == value
    assert hit.score >= THRESHOLD
    assert "known_dummy" not in hit.meta


@pytest.mark.parametrize(
    ("text", "data_class"),
    [
        pytest.param(
            'Resource: "arn:aws:iam::123456789012:role/S3Access"', "secret.aws_arn", id="doc-arn"
        ),
        pytest.param(
            "arn:aws:kms:us-west-2:111122223333:key/1234abcd", "secret.aws_arn", id="doc-kms"
        ),
        pytest.param(
            "arn:aws:sns:us-west-2:123456789023:alarms", "secret.aws_arn", id="counting-filler"
        ),
        pytest.param("aws_account_id: 444455556666", "secret.aws_account_id", id="doc-key"),
        pytest.param("AWS_ACCOUNT_ID=000000000000", "secret.aws_account_id", id="zeros"),
    ],
)
def test_documentation_accounts_are_reported_as_known_dummies(text: str, data_class: str) -> None:
    hit = strongest(text, data_class)
    assert hit is not None
    assert hit.score >= THRESHOLD
    assert hit.meta.get("known_dummy") == "true"


@pytest.mark.parametrize(
    ("text", "data_class"),
    [
        pytest.param("arn:aws:s3:::acme-prod-logs/*", "secret.aws_arn", id="arn-no-account"),
        pytest.param(
            "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV2:40",
            "secret.aws_arn",
            id="published-layer",
        ),
        pytest.param("acme-prod-logs.s3.amazonaws.com", "secret.aws_s3_bucket", id="s3-bucket"),
        pytest.param("gs://acme-prod-logs", "secret.gcs_bucket", id="gcs-bucket"),
        pytest.param("acme-store.myshopify.com", "secret.shopify_domain", id="shopify-domain"),
        pytest.param(
            "403817562719-k2n8q0v5c7x1m4r9t6y3w0z2p5s8u1b4.apps.googleusercontent.com",
            "secret.google_client_id",
            id="oauth-client-id",
        ),
    ],
)
def test_other_identifiers_are_candidates_only(text: str, data_class: str) -> None:
    hit = strongest(text, data_class)
    assert hit is not None
    assert hit.score < THRESHOLD


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"order number {ACCOUNT}", id="bare-number"),
        pytest.param(f"account: {ACCOUNT}", id="generic-account-key"),
        pytest.param(f"aws_account_id = {ACCOUNT}1", id="thirteen-digits"),
        pytest.param("arn:aws:iam::aws:policy/AdministratorAccess", id="aws-managed-policy"),
        pytest.param("arn:aws:iam::${AWS::AccountId}:role/x", id="template-account"),
    ],
)
def test_no_account_is_reported_without_its_context(text: str) -> None:
    reported = [
        h
        for h in engine().scan(text)
        if h.data_class in ("secret.aws_arn", "secret.aws_account_id") and h.score >= THRESHOLD
    ]
    assert reported == []


@pytest.mark.parametrize(
    ("account", "doc"),
    [
        ("123456789012", True),
        ("111122223333", True),
        ("210987654321", True),
        ("777788889999", True),
        ("999999999999", True),
        (ACCOUNT, False),
        ("017000801446", False),
        ("000123456780", True),
    ],
)
def test_documentation_account_shapes(account: str, doc: bool) -> None:
    assert is_doc_account(account) is doc
