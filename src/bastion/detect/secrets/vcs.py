"""Source hosting and work tracking: GitHub, GitLab, Bitbucket, Atlassian, Azure DevOps,
Sourcegraph.

GitHub tokens (``ghp_`` personal, ``gho_`` OAuth, ``ghu_``/``ghs_`` app, ``ghr_``
refresh) end in a base62 CRC32 of their random part, reported as ``checksum`` meta;
fine-grained tokens are ``github_pat_<22>_<59>`` (82 characters after the prefix).
GitLab prefixes every token kind (``glpat-``, ``glptt-``, ``gldt-``, ``glrt-``, runner
``GR1348941``…). Azure DevOps PATs since 2024 are 84 characters with ``AZDO`` at offset
76; older ones are 52 lower-case base-32 characters and need a keyword nearby.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.checks import crc32_tail, keyed, vendor
from bastion.detect.secrets.rows import ASSIGN, END, KEYNAME, OPEN, row

CLASSES: Mapping[str, str] = {
    "secret.github_token": "GitHub personal, OAuth, app or refresh token (gh*_…).",
    "secret.github_client_secret": "GitHub OAuth app client secret next to a GitHub keyword.",
    "secret.gitlab_token": "GitLab personal, project, deploy, runner or trigger token.",
    "secret.bitbucket_app_password": "Bitbucket app password (ATBB…).",
    "secret.atlassian_api_token": "Atlassian (Jira, Confluence) API token.",
    "secret.azure_devops_pat": "Azure DevOps personal access token.",
    "secret.sourcegraph_token": "Sourcegraph access token (sgp_…).",
    "secret.gitlab_session_cookie": "GitLab session cookie (_gitlab_session=…).",
}

_ADO_CHECK = vendor()


def _azure_devops(value: str) -> Mapping[str, str] | None:
    """Azure DevOps PATs since 2024: 84 characters with ``AZDO`` at offset 76.

    The fixed layout makes the format unambiguous, so a hand-made filler body (documentation
    writes ``aQwErTy123…AZDO…``) is reported as ``known_dummy`` rather than dropped.
    """
    if len(value) != 84 or value[76:80] != "AZDO":
        return None
    return _ADO_CHECK(value)


_GITHUB_KINDS = (
    ("p", "personal"),
    ("o", "oauth"),
    ("u", "user_to_server"),
    ("s", "server_to_server"),
)

PATTERNS: tuple[Pattern, ...] = (
    *(
        row(
            "github",
            "token",
            rf"\b(gh{letter}_[A-Za-z0-9]{{36}})\b",
            group=1,
            validator=crc32_tail(4),
            name=kind,
        )
        for letter, kind in _GITHUB_KINDS
    ),
    row(
        "github",
        "token",
        r"\b(ghr_(?:[A-Za-z0-9]{76}|[A-Za-z0-9]{36}))\b",
        group=1,
        validator=vendor(4),
        name="refresh",
    ),
    row(
        "github",
        "token",
        r"\b(github_pat_[A-Za-z0-9_]{82})\b",
        group=1,
        validator=vendor(11),
        name="fine_grained",
    ),
    row(
        "github",
        "client_secret",
        r"(?i:github|\bgh)"
        + KEYNAME
        + r"(?i:secret)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([a-f0-9]{40})\b",
        group=1,
        validator=keyed(40),
    ),
    row(
        "gitlab",
        "token",
        r"\b(glpat-[A-Za-z0-9_\-]{20}[A-Za-z0-9_.\-]*)" + END,
        group=1,
        validator=vendor(6),
        name="personal",
    ),
    row(
        "gitlab",
        "token",
        r"\b(glptt-[0-9a-f]{40})\b",
        group=1,
        name="pipeline_trigger",
    ),
    row(
        "gitlab",
        "token",
        r"\b((?:GR1348941|glrt-|glrtr-)[A-Za-z0-9_\-]{20}[A-Za-z0-9_.\-]*)" + END,
        group=1,
        name="runner",
    ),
    row(
        "gitlab",
        "token",
        r"\b(gldt-[A-Za-z0-9_\-]{20}[A-Za-z0-9_.\-]*)" + END,
        group=1,
        name="deploy",
    ),
    row(
        "gitlab",
        "token",
        r"\b(gl(?:ft|cbt|imt|soat|ffct|agent|oas|wt)-[A-Za-z0-9_\-]{20}[A-Za-z0-9_.\-]*)" + END,
        group=1,
        name="other",
    ),
    row(
        "bitbucket",
        "app_password",
        r"\b(ATBB[A-Za-z0-9]{32})\b",
        group=1,
        validator=vendor(4),
    ),
    row(
        "atlassian",
        "api_token",
        r"\b(AT(?:ATT|CTT|OAT)3[A-Za-z0-9_\-=]{100,})" + END,
        group=1,
    ),
    row(
        "atlassian",
        "api_token",
        r"(?i:jira|confluence|atlassian)"
        + KEYNAME
        + r"(?i:token|api[_\-]?key)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([A-Za-z0-9]{24})\b",
        group=1,
        validator=keyed(24),
        name="legacy",
    ),
    row(
        "azure",
        "devops_pat",
        r"([A-Za-z0-9]+AZDO[A-Za-z0-9]{4})\b",
        group=1,
        validator=_azure_devops,
    ),
    row(
        "azure",
        "devops_pat",
        r"(?i:pat|token|ado|devops)[A-Za-z0-9_]*" + ASSIGN + OPEN + r"([a-z2-7]{52})\b",
        group=1,
        score=0.7,
        validator=vendor(reject_filler=True),
        name="devops_pat_legacy",
    ),
    row(
        "sourcegraph",
        "token",
        r"\b(sgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40})\b",
        group=1,
    ),
    row(
        "gitlab",
        "session_cookie",
        r"\b_gitlab_session=([0-9a-f]{32})\b",
        group=1,
        validator=vendor(),
    ),
)
