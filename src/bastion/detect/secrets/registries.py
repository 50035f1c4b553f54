"""Package registries and artifact stores: npm, PyPI, RubyGems, NuGet, crates.io,
Docker Hub, JFrog Artifactory, Clojars, Octopus Deploy, Dependency-Track, Sidekiq's
commercial gem source (Bundler's ``BUNDLE_<HOST>`` credentials).

A leaked publish token lets anyone ship a release in the owner's name. npm tokens
carry the same base62 CRC32 tail as GitHub's (reported as ``checksum``); PyPI tokens
are macaroons whose base64 always starts with the encoded location ``pypi.org`` (or
``test.pypi.org``), which the regex requires.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.checks import crc32_tail, keyed, vendor
from bastion.detect.secrets.rows import END, UUID, row

CLASSES: Mapping[str, str] = {
    "secret.npm_token": "npm access token (npm_…) or an .npmrc auth token.",
    "secret.pypi_token": "PyPI or TestPyPI upload token (pypi-AgE…).",
    "secret.rubygems_api_key": "RubyGems API key (rubygems_).",
    "secret.nuget_api_key": "NuGet API key (oy2…).",
    "secret.crates_token": "crates.io API token (cio…).",
    "secret.dockerhub_token": "Docker Hub personal or organisation access token (dckr_).",
    "secret.artifactory_token": "JFrog Artifactory API key or reference token.",
    "secret.clojars_token": "Clojars deploy token.",
    "secret.octopus_api_key": "Octopus Deploy API key (API-…).",
    "secret.dependency_track_api_key": "OWASP Dependency-Track API key (odt_).",
    "secret.sidekiq_credentials": "Sidekiq Pro/Enterprise gem-source credentials.",
}

PATTERNS: tuple[Pattern, ...] = (
    row("npm", "token", r"\b(npm_[A-Za-z0-9]{36})\b", group=1, validator=crc32_tail(4)),
    row(
        "npm",
        "token",
        # .npmrc keys: "_authToken=" at a line start or after a registry ("//host/:").
        r"(?:^|[:\s])_(?:authToken|auth|password)\s*=\s*[\"']?([A-Za-z0-9_\-.+/=]{20,}|"
        + UUID
        + ")",
        group=1,
        validator=keyed(20),
        name="npmrc",
    ),
    row(
        "pypi",
        "token",
        r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})",
        group=1,
    ),
    row(
        "pypi",
        "token",
        r"\b(pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_\-]{50,})",
        group=1,
        name="test_token",
    ),
    row("rubygems", "api_key", r"\b(rubygems_[a-f0-9]{48})\b", group=1, validator=vendor(9)),
    row("nuget", "api_key", r"\b(oy2[a-z0-9]{43})\b", group=1, validator=vendor(3)),
    row("crates", "token", r"\b(cio[A-Za-z0-9]{32})\b", group=1, validator=vendor(3)),
    row(
        "dockerhub",
        "token",
        r"\b(dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27})" + END,
        group=1,
        validator=vendor(9),
    ),
    row("artifactory", "token", r"\b(AKCp[A-Za-z0-9]{69})\b", group=1, validator=vendor(4)),
    row(
        "artifactory",
        "token",
        r"\b(cmVmdGtu[A-Za-z0-9]{56})\b",
        group=1,
        name="reference_token",
    ),
    row("clojars", "token", r"\bCLOJARS_[a-z0-9]{60}\b"),
    row("octopus", "api_key", r"\b(API-[A-Z0-9]{26})\b", group=1, validator=vendor(4)),
    row(
        "dependency_track",
        "api_key",
        r"\b(odt_[A-Za-z0-9]{32,40})\b",
        group=1,
        validator=vendor(4),
    ),
    # Bundler reads a gem source's "user:password" from BUNDLE_<HOST, dots as "__">.
    row(
        "sidekiq",
        "credentials",
        r"(?i:BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM)[\"']?\s*[:=]\s*[\"']?"
        r"([a-f0-9]{8}:[a-f0-9]{8})\b",
        group=1,
        validator=vendor(),
    ),
)
