"""Hosting, data platforms and identity providers: DigitalOcean, Heroku, Alibaba, IBM,
Tencent, Cloudflare, Databricks, Doppler, HashiCorp Vault and Terraform Cloud,
Kubernetes, Okta, Salesforce, Supabase, PlanetScale, Netlify, Render, Fly.io, Deno Deploy, Pulumi,
Scalingo, OpenShift, Harness, Defined Networking, Tailscale, Yandex Cloud.

Where the vendor prefixes its tokens (``dop_v1_``, ``dapi``, ``hvs.``, ``sbp_``…) the
prefix is enough. Heroku, IBM, Cloudflare and Okta keys and pre-1.10 Vault tokens have
no distinctive prefix, so they are matched only when a key names the vendor.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern
from bastion.detect.secrets.checks import keyed, vendor
from bastion.detect.secrets.rows import ASSIGN, END, END64, KEYNAME, OPEN, UUID, row

CLASSES: Mapping[str, str] = {
    "secret.digitalocean_token": "DigitalOcean personal, OAuth or refresh token.",
    "secret.heroku_api_key": "Heroku API key or platform token.",
    "secret.alibaba_access_key": "Alibaba Cloud AccessKey id (LTAI…) or secret.",
    "secret.ibm_api_key": "IBM Cloud API key next to an IBM keyword.",
    "secret.tencent_secret_id": "Tencent Cloud SecretId (AKID…).",
    "secret.cloudflare_api_token": "Cloudflare API token or global API key.",
    "secret.databricks_token": "Databricks personal access token (dapi…).",
    "secret.doppler_token": "Doppler CLI, personal, service, SCIM or audit token.",
    "secret.vault_token": "HashiCorp Vault service, batch or recovery token.",
    "secret.vault_unseal_key": "HashiCorp Vault unseal key.",
    "secret.terraform_token": "Terraform Cloud / HCP API token (….atlasv1.…).",
    "secret.kubernetes_bootstrap_token": "Kubernetes (kubeadm) bootstrap token.",
    "secret.okta_api_token": "Okta API token (SSWS).",
    "secret.salesforce_token": "Salesforce session or access token (00D…!…).",
    "secret.supabase_token": "Supabase management API token (sbp_).",
    "secret.supabase_secret_key": "Supabase project secret API key (sb_secret_).",
    "secret.tailscale_api_key": "Tailscale API, auth or OAuth client key (tskey-…).",
    "secret.yandex_api_key": "Yandex Cloud API key (AQVN…).",
    "secret.yandex_iam_token": "Yandex Cloud IAM token (t1.….…).",
    "secret.planetscale_token": "PlanetScale service token, password or OAuth token.",
    "secret.netlify_token": "Netlify personal access token (nfp_).",
    "secret.render_api_key": "Render API key (rnd_).",
    "secret.flyio_token": "Fly.io access token (fo1_, fm1a_, fm1r_, fm2_).",
    "secret.deno_deploy_token": "Deno Deploy user or organisation access token (ddp_, ddo_).",
    "secret.cloudflare_origin_ca_key": "Cloudflare Origin CA key (v1.0-…).",
    "secret.scalingo_api_token": "Scalingo API token (tk-us-).",
    "secret.openshift_token": "OpenShift user OAuth token (sha256~).",
    "secret.harness_token": "Harness personal or service-account token (pat./sat.).",
    "secret.defined_networking_api_token": "Defined Networking API token (dnkey-).",
    "secret.pulumi_token": "Pulumi access token (pul-).",
}

PATTERNS: tuple[Pattern, ...] = (
    *(
        row(
            "digitalocean",
            "token",
            rf"\b(do{letter}_v1_[a-f0-9]{{64}})\b",
            group=1,
            validator=vendor(7),
            name=kind,
        )
        for letter, kind in (("p", "personal"), ("o", "oauth"), ("r", "refresh"))
    ),
    row(
        "heroku",
        "api_key",
        r"(?i:heroku)"
        + KEYNAME
        + r"(?i:key|token|secret|auth)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + "("
        + UUID
        + r")\b",
        group=1,
        validator=keyed(36),
    ),
    row("heroku", "api_key", r"\b(HRKU-AA[A-Za-z0-9_\-]{58})" + END, group=1, name="platform"),
    row("alibaba", "access_key", r"\b(LTAI[A-Za-z0-9]{12,20})\b", group=1, validator=vendor(4)),
    row(
        "alibaba",
        "access_key",
        r"(?i:alibaba|aliyun|alicloud)"
        + KEYNAME
        + r"(?i:secret)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([A-Za-z0-9]{30})\b",
        group=1,
        validator=keyed(30),
        name="secret",
    ),
    row(
        "ibm",
        "api_key",
        r"(?i:ibm)"
        + KEYNAME
        + r"(?i:api[_\-]?key|apikey)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([A-Za-z0-9_\-]{44})"
        + END,
        group=1,
        validator=keyed(44),
    ),
    row("tencent", "secret_id", r"\b(AKID[A-Za-z0-9]{32})\b", group=1, validator=vendor(4)),
    row(
        "cloudflare",
        "api_token",
        r"(?i:cloudflare|\bcf_)"
        + KEYNAME
        + r"(?i:token|key)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([A-Za-z0-9_\-]{40}|[a-f0-9]{37})"
        + END,
        group=1,
        validator=keyed(37),
    ),
    row("databricks", "token", r"\b(dapi[a-f0-9]{32}(?:-\d)?)\b", group=1, validator=vendor(4)),
    row(
        "doppler",
        "token",
        r"\b(dp\.(?:ct|pt|sa|scim|audit)\.[A-Za-z0-9]{40,44})\b",
        group=1,
    ),
    row(
        "doppler",
        "token",
        r"\b(dp\.st\.(?:[a-z0-9_\-]{2,35}\.)?[A-Za-z0-9]{40,44})\b",
        group=1,
        name="service_token",
    ),
    row("vault", "token", r"\b(hv[sbr]\.[A-Za-z0-9_\-]{24,})" + END, group=1),
    row(
        "vault",
        "token",
        r"(?i:vault)"
        + KEYNAME
        + r"(?:"
        + ASSIGN
        + r"|\s+)[\"'`]?([sbr]\.[A-Za-z0-9_\-]{24,})"
        + END,
        group=1,
        name="legacy",
    ),
    row(
        "vault",
        "unseal_key",
        r"(?i:unseal key \d{1,2}:|operator unseal)\s+([A-Za-z0-9+/]{43,44}={0,1})" + END64,
        group=1,
    ),
    row(
        "terraform",
        "token",
        r"([A-Za-z0-9]+\.atlasv1\.[A-Za-z0-9_=\-]{60,70})" + END,
        group=1,
        validator=lambda value: ACCEPT if value.index(".") == 14 else None,
    ),
    row(
        "kubernetes",
        "bootstrap_token",
        r"(?i:token|bootstrap)[^\r\n]{0,40}?\b([a-z0-9]{6}\.[a-z0-9]{16})\b",
        group=1,
        validator=vendor(),
        score=0.8,
    ),
    row(
        "kubernetes",
        "bootstrap_token",
        r"token-id:\s*[a-z0-9]{6}\s+token-secret:\s*([a-z0-9]{16})\b",
        group=1,
        name="bootstrap_secret",
    ),
    row(
        "okta",
        "api_token",
        r"(?i:okta)[^\x00]{0,60}?[^A-Za-z0-9_\-](00[A-Za-z0-9_\-]{39}[A-Za-z0-9_])" + END,
        group=1,
        validator=keyed(42),
    ),
    row(
        "okta",
        "api_token",
        r"\bSSWS\s+(00[A-Za-z0-9_\-]{39}[A-Za-z0-9_])" + END,
        group=1,
        name="ssws",
    ),
    row(
        "salesforce",
        "token",
        r"\b(00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{80,})",
        group=1,
        validator=vendor(),
    ),
    row("supabase", "token", r"\b(sbp_[a-f0-9]{40})\b", group=1, validator=vendor(4)),
    row("planetscale", "token", r"\b(pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.\-]{32,})", group=1),
    row("netlify", "token", r"\b(nfp_[A-Za-z0-9]{36})\b", group=1),
    row("render", "api_key", r"\b(rnd_[A-Za-z0-9]{32})\b", group=1),
    row("flyio", "token", r"\b(fo1_[A-Za-z0-9_\-]{43})" + END, group=1),
    row(
        "flyio",
        "token",
        r"\b(fm(?:1[ar]|2)_[A-Za-z0-9+/]{100,}={0,3})" + END64,
        group=1,
        name="macaroon",
    ),
    # public scanners disagree on the length (36 or 40 after the prefix): both are taken
    row(
        "deno_deploy",
        "token",
        r"\b(dd[po]_[A-Za-z0-9]{36}(?:[A-Za-z0-9]{4})?)\b",
        group=1,
        validator=vendor(4),
    ),
    row("cloudflare", "origin_ca_key", r"\b(v1\.0-[a-f0-9]{24}-[a-f0-9]{146})\b", group=1),
    row(
        "scalingo", "api_token", r"\b(tk-us-[A-Za-z0-9_\-]{48})" + END, group=1, validator=vendor(6)
    ),
    row("openshift", "token", r"\b(sha256~[A-Za-z0-9_\-]{43})" + END, group=1, validator=vendor(7)),
    row(
        "harness",
        "token",
        r"\b((?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20})\b",
        group=1,
    ),
    row(
        "defined_networking",
        "api_token",
        r"\b(dnkey-[a-z0-9=_\-]{26}-[a-z0-9=_\-]{52})" + END,
        group=1,
        validator=vendor(6),
    ),
    row("pulumi", "token", r"\b(pul-[a-f0-9]{40})\b", group=1),
    row(
        "supabase",
        "secret_key",
        r"\b(sb_secret_[A-Za-z0-9_\-]{28,})" + END,
        group=1,
        validator=vendor(10),
    ),
    # tskey-<kind>-<key id>-<secret>; the kind names what the key may do.
    row(
        "tailscale",
        "api_key",
        r"\b(tskey-(?:api|auth|client|webhook|scim)-[A-Za-z0-9]{6,}-[A-Za-z0-9]{20,})" + END,
        group=1,
        validator=vendor(11),
    ),
    row("yandex", "api_key", r"\b(AQVN[A-Za-z0-9_\-]{35,38})" + END, group=1, validator=vendor(4)),
    row(
        "yandex",
        "iam_token",
        r"\b(t1\.[A-Za-z0-9_\-]+={0,2}\.[A-Za-z0-9_\-]{86}={0,2})" + END,
        group=1,
        validator=vendor(3),
    ),
)
