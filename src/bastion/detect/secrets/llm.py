"""Model providers and AI tooling: OpenAI, Anthropic, Groq, Hugging Face, Replicate,
Perplexity, xAI, OpenRouter, NVIDIA, LangSmith, Langfuse, Pinecone, Tavily, Firecrawl, Jina,
Kagi, ElevenLabs, and keyword-anchored keys (Cohere, Mistral, DeepSeek, Together, W&B).

Users of an AI gateway paste these most of all. OpenAI keys embed ``T3BlbkFJ`` (the
base64 of "OpenAI") between two random halves; older keys are ``sk-`` plus 48
alphanumerics; project, service-account and admin keys say so in their prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import Pattern
from bastion.detect.secrets.checks import generated, keyed, vendor
from bastion.detect.secrets.rows import ASSIGN, END, KEYNAME, OPEN, UUID, row

CLASSES: Mapping[str, str] = {
    "secret.openai_api_key": "OpenAI API key (sk-, sk-proj-, sk-svcacct-, sk-admin-).",
    "secret.anthropic_api_key": "Anthropic API, admin or Claude Code OAuth key (sk-ant-…).",
    "secret.groq_api_key": "Groq API key (gsk_).",
    "secret.huggingface_token": "Hugging Face user or organisation token (hf_, api_org_).",
    "secret.replicate_api_token": "Replicate API token (r8_).",
    "secret.perplexity_api_key": "Perplexity API key (pplx-).",
    "secret.xai_api_key": "xAI API key (xai-).",
    "secret.openrouter_api_key": "OpenRouter API key (sk-or-v1-).",
    "secret.nvidia_api_key": "NVIDIA API key for NIM / build.nvidia.com and NGC (nvapi-).",
    "secret.langsmith_api_key": "LangSmith API key (lsv2_).",
    "secret.langfuse_secret_key": "Langfuse secret API key (sk-lf- + UUID).",
    "secret.pinecone_api_key": "Pinecone API key (pcsk_).",
    "secret.tavily_api_key": "Tavily API key (tvly-).",
    "secret.firecrawl_api_key": "Firecrawl API key (fc-).",
    "secret.jina_api_key": "Jina AI API key (jina_).",
    "secret.kagi_api_key": "Kagi API or session token next to a Kagi keyword.",
    "secret.elevenlabs_api_key": "ElevenLabs API key (sk_ + 48 hex).",
    "secret.cohere_api_key": "Cohere API key next to a Cohere keyword.",
    "secret.mistral_api_key": "Mistral AI API key next to a Mistral keyword.",
    "secret.deepseek_api_key": "DeepSeek API key next to a DeepSeek keyword.",
    "secret.together_api_key": "Together AI API key next to a Together keyword.",
    "secret.wandb_api_key": "Weights & Biases API key next to a wandb keyword.",
}


def _keyed_vendor(provider: str, keyword: str, value: str, min_length: int) -> Pattern:
    """An unprefixed key assigned to a name that mentions the vendor."""
    return row(
        provider,
        "api_key",
        f"(?i:{keyword})"
        + KEYNAME
        + r"(?i:key|token|secret)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + f"({value})"
        + END,
        group=1,
        validator=generated(min_length),
    )


PATTERNS: tuple[Pattern, ...] = (
    row(
        "openai",
        "api_key",
        r"\b(sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{16,}T3BlbkFJ[A-Za-z0-9_\-]{16,})"
        + END,
        group=1,
        validator=vendor(3),
    ),
    row(
        "openai",
        "api_key",
        r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,})" + END,
        group=1,
        validator=vendor(8),
        name="api_key_scoped",
    ),
    row(
        "openai",
        "api_key",
        r"\b(sk-[A-Za-z0-9]{48})\b",
        group=1,
        validator=vendor(3),
        name="api_key_legacy",
    ),
    row(
        "anthropic",
        "api_key",
        # api03 and admin01 keys, sid session keys, and the OAuth access and refresh
        # tokens of `claude setup-token` (oat01, ort01)
        r"\b(sk-ant-(?:api|admin|sid|oat|ort)\d{2}-[A-Za-z0-9_\-]{80,})" + END,
        group=1,
        validator=vendor(14),
    ),
    row("groq", "api_key", r"\b(gsk_[A-Za-z0-9]{52})\b", group=1, validator=vendor(4)),
    row(
        "huggingface",
        "token",
        r"\b((?:hf_|api_org_)[A-Za-z0-9]{34,40})\b",
        group=1,
        validator=vendor(3),
    ),
    row("replicate", "api_token", r"\b(r8_[A-Za-z0-9]{37})\b", group=1, validator=vendor(3)),
    row("perplexity", "api_key", r"\b(pplx-[A-Za-z0-9]{48})\b", group=1, validator=vendor(5)),
    row("xai", "api_key", r"\b(xai-[A-Za-z0-9]{80})\b", group=1, validator=vendor(4)),
    row("openrouter", "api_key", r"\b(sk-or-v1-[a-f0-9]{64})\b", group=1, validator=vendor(9)),
    # nvapi- then a 64-character base64url body; a range, since NGC's length is undocumented.
    row(
        "nvidia", "api_key", r"\b(nvapi-[A-Za-z0-9_\-]{56,72})" + END, group=1, validator=vendor(6)
    ),
    row("langsmith", "api_key", r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b"),
    # Langfuse pairs a public pk-lf- key (shipped to browsers) with a secret sk-lf- key, each
    # the prefix and a UUID; only the secret half is a credential.
    row("langfuse", "secret_key", r"\b(sk-lf-" + UUID + r")\b", group=1, validator=vendor(6)),
    row("pinecone", "api_key", r"\bpcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,}\b"),
    row(
        "tavily",
        "api_key",
        r"\b(tvly-(?:dev-|prod-)?[A-Za-z0-9]{32})\b",
        group=1,
        validator=vendor(5),
    ),
    row("firecrawl", "api_key", r"\b(fc-[a-f0-9]{32})\b", group=1, validator=vendor(3)),
    row("jina", "api_key", r"\b(jina_[a-f0-9]{32}[A-Za-z0-9_\-]{28})" + END, group=1),
    row(
        "kagi",
        "api_key",
        r"(?i:kagi)[^\s]{0,40}?[=:\"'\s]\s*[\"']?([A-Za-z0-9_\-]{11}\.[A-Za-z0-9_\-]{43})" + END,
        group=1,
    ),
    row("elevenlabs", "api_key", r"\b(sk_[a-f0-9]{48})\b", group=1, validator=vendor(3)),
    _keyed_vendor("cohere", "cohere", "[A-Za-z0-9]{40}", 40),
    _keyed_vendor("mistral", "mistral", "[A-Za-z0-9]{32}", 32),
    _keyed_vendor("deepseek", "deepseek", "sk-[a-f0-9]{32}", 32),
    _keyed_vendor("together", "together", "[a-f0-9]{64}", 64),
    row(
        "wandb",
        "api_key",
        r"(?i:wandb)" + KEYNAME + r"(?i:key)" + KEYNAME + ASSIGN + OPEN + r"([a-f0-9]{40})\b",
        group=1,
        validator=keyed(40),
    ),
)
