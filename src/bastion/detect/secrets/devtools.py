"""CI, code quality and observability: Grafana, New Relic, Datadog, Sentry, Dynatrace,
Jenkins, TeamCity, SonarQube, Code Climate, CircleCI, Buildkite, Postman, StackHawk,
Snyk, Codecov, ReadMe, Infracost.

New Relic prefixes most keys (``NRAK-``, ``NRII-``…) and suffixes license keys with
``NRAL``; Grafana API keys are base64 JSON starting ``{"k":"`` (``eyJrIjoi``). Jenkins,
Code Climate, Snyk, Codecov and Datadog keys are bare hex or UUIDs, matched only when
the key that holds them names the tool.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.checks import keyed, vendor
from bastion.detect.secrets.rows import ASSIGN, ASSIGN_OR_ARG, END, END64, KEYNAME, OPEN, UUID, row

CLASSES: Mapping[str, str] = {
    "secret.grafana_token": "Grafana API key, Cloud token or service-account token.",
    "secret.newrelic_key": "New Relic user, admin, ingest, query, REST or license key.",
    "secret.newrelic_pixie_key": "New Relic Pixie API or deploy key.",
    "secret.datadog_api_key": "Datadog API or application key next to a Datadog keyword.",
    "secret.sentry_token": "Sentry organisation or user auth token.",
    "secret.dynatrace_token": "Dynatrace API token (dt0c01.…).",
    "secret.jenkins_token": "Jenkins API token, crumb or initial admin password.",
    "secret.teamcity_token": "JetBrains TeamCity access token.",
    "secret.sonarqube_token": "SonarQube / SonarCloud token.",
    "secret.codeclimate_token": "Code Climate repository token or test reporter id.",
    "secret.circleci_token": "CircleCI personal or project API token.",
    "secret.buildkite_token": "Buildkite API access token (bkua_).",
    "secret.postman_api_key": "Postman API key (PMAK-).",
    "secret.stackhawk_api_key": "StackHawk API key (hawk.….…).",
    "secret.snyk_token": "Snyk API token next to a Snyk keyword.",
    "secret.codecov_token": "Codecov upload token next to a Codecov keyword.",
    "secret.readme_api_key": "ReadMe API key (rdme_).",
    "secret.infracost_api_key": "Infracost API key (ico-).",
}


_LICENSE_CHECK = vendor()
_LOWER_HEX = frozenset("0123456789abcdef")


def _newrelic_license(value: str) -> Mapping[str, str] | None:
    """New Relic license keys: 40 characters ending ``NRAL``; the first six name the region
    (``eu01xx``, or hex for US accounts) and the 30 after them are lower-case hex. A body
    outside hex (``a1b2c3…g7h8…``) is a documentation placeholder, not a key."""
    if len(value) != 40 or not _LOWER_HEX.issuperset(value[6:36]):
        return None
    return _LICENSE_CHECK(value)


def _keyed_tool(provider: str, keyword: str, value: str, *, kind: str = "token") -> Pattern:
    """A bare hex/UUID credential held by a key that names the tool."""
    return row(
        provider,
        kind,
        f"(?i:{keyword})" + KEYNAME + ASSIGN_OR_ARG + OPEN + f"({value})" + END,
        group=1,
        validator=keyed(32),
    )


PATTERNS: tuple[Pattern, ...] = (
    row("grafana", "token", r"\b(eyJrIjoi[A-Za-z0-9]{30,}={0,2})" + END64, group=1),
    row(
        "grafana",
        "token",
        r"\b(glc_[A-Za-z0-9+/]{32,}={0,2})" + END64,
        group=1,
        name="cloud",
    ),
    row(
        "grafana",
        "token",
        r"\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})\b",
        group=1,
        name="service_account",
    ),
    row(
        "newrelic",
        "key",
        r"\b(NR(?:AK|AA|II|IQ|RA)-[A-Za-z0-9_\-]{27,42})" + END,
        group=1,
        validator=vendor(5),
    ),
    row(
        "newrelic",
        "key",
        r"([a-z0-9]+NRAL)\b",
        group=1,
        validator=_newrelic_license,
        name="license",
    ),
    row(
        "newrelic",
        "pixie_key",
        r"\b(px-(?:api|dep)-" + UUID + r")\b",
        group=1,
    ),
    _keyed_tool("datadog", r"datadog|\bdd_", r"[a-f0-9]{32}|[a-f0-9]{40}", kind="api_key"),
    row("sentry", "token", r"\b(sntrys_eyJ[A-Za-z0-9+/=_\-]{60,})", group=1),
    row("sentry", "token", r"\b(sntryu_[a-f0-9]{64})\b", group=1, name="user_token"),
    row("readme", "api_key", r"\b(rdme_[a-z0-9]{70})\b", group=1, validator=vendor(5)),
    row("infracost", "api_key", r"\b(ico-[A-Za-z0-9]{32})\b", group=1, validator=vendor(4)),
    row(
        "dynatrace",
        "token",
        r"\b(dt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64})\b",
        group=1,
    ),
    _keyed_tool("jenkins", "jenkins", r"[a-f0-9]{32,34}|" + UUID),
    row(
        "jenkins",
        "token",
        r"(?i:password to proceed to installation:?)\s+([a-f0-9]{32})\b",
        group=1,
        name="initial_admin_password",
    ),
    row(
        "teamcity",
        "token",
        r"\b(eyJ0eXAiOiAiVENWMiJ9\.[A-Za-z0-9_\-]{36}\.[A-Za-z0-9_\-]{48})" + END,
        group=1,
    ),
    row("sonarqube", "token", r"\b(sq[pau]_[a-f0-9]{40})\b", group=1),
    row(
        "sonarqube",
        "token",
        r"(?i:sonar)[._]?(?i:login|token)" + ASSIGN_OR_ARG + OPEN + r"([a-f0-9]{40})\b",
        group=1,
        name="keyed",
    ),
    _keyed_tool("codeclimate", r"codeclimate|cc_test_reporter", r"[a-f0-9]{64}"),
    row(
        "circleci",
        "token",
        r"\b(CCIP(?:AT|RJ)_[A-Za-z0-9]{22}_[a-f0-9]{40})\b",
        group=1,
    ),
    row("buildkite", "token", r"\b(bkua_[a-f0-9]{40})\b", group=1),
    row("postman", "api_key", r"\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b", group=1),
    row(
        "stackhawk",
        "api_key",
        r"\b(hawk\.[A-Za-z0-9_\-]{20}\.[A-Za-z0-9_\-]{20})" + END,
        group=1,
    ),
    _keyed_tool("snyk", "snyk", UUID),
    row(
        "codecov",
        "token",
        r"(?i:codecov)" + KEYNAME + ASSIGN + OPEN + "(" + UUID + r")\b",
        group=1,
        validator=keyed(36),
    ),
)
