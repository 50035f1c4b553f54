"""Chat, e-mail and social platforms: Slack, Discord, Telegram, Microsoft Teams, Twilio,
SendGrid, Mailgun, Mailchimp, Postmark, Brevo, Twitter/X, Facebook, LinkedIn, Twitch.

Slack tokens are ``xox<kind>-``; app-level tokens ``xapp-``; incoming webhooks are
``hooks.slack.com/services/…`` URLs, which are credentials by themselves (anyone with
the URL can post). Discord bot tokens begin with the base64 of the bot's numeric id,
which the validator checks. Postmark and Twilio auth tokens have no prefix and are
matched only next to the vendor's name. Twitter/X app-only bearer tokens are the
URL-encoded base64 of a binary blob whose leading zero bytes encode as a run of ``A``.
"""

from __future__ import annotations

from collections.abc import Mapping

from bastion.detect.patterns import ACCEPT, Pattern
from bastion.detect.secrets.checks import b64decode_loose, keyed, vendor
from bastion.detect.secrets.rows import ASSIGN, ASSIGN_OR_ARG, END, KEYNAME, OPEN, UUID, row


def _discord_bot(value: str) -> Mapping[str, str] | None:
    """The first segment of a Discord bot token is the base64 of a numeric snowflake id."""
    first = value.split(".", 1)[0]
    if not 24 <= len(first) <= 28:
        return None
    head = b64decode_loose(first)
    return ACCEPT if head.isdigit() and len(head) >= 17 else None


_MAILCHIMP_CHECK = vendor(reject_filler=True)
_TELEGRAM_CHECK = vendor()


def _url_escaped(value: str) -> Mapping[str, str] | None:
    """A token carrying a ``%XX`` escape: Twitter/X bearer tokens are URL-encoded base64
    (``%2B``, ``%2F``, ``%3D``), which plain base64 data (images, key files) never is."""
    at = value.find("%")
    while 0 <= at <= len(value) - 3:
        if all(char in "0123456789ABCDEFabcdef" for char in value[at + 1 : at + 3]):
            return ACCEPT
        at = value.find("%", at + 1)
    return None


def _mailchimp(value: str) -> Mapping[str, str] | None:
    """Mailchimp keys: 32 hex digits, then the data centre (``-us6``)."""
    return _MAILCHIMP_CHECK(value) if value.index("-") == 32 else None


def _telegram(value: str) -> Mapping[str, str] | None:
    """Telegram bot tokens: an 8-10 digit bot id, a colon, then ``AA`` and the secret."""
    bot_id = value.split(":", 1)[0]
    return _TELEGRAM_CHECK(value) if 8 <= len(bot_id) <= 10 else None


CLASSES: Mapping[str, str] = {
    "secret.slack_token": "Slack bot, user, app or configuration token (xox*-, xapp-).",
    "secret.slack_webhook": "Slack incoming-webhook or workflow URL.",
    "secret.discord_bot_token": "Discord bot token.",
    "secret.discord_webhook": "Discord webhook URL.",
    "secret.telegram_bot_token": "Telegram Bot API token.",
    "secret.msteams_webhook": "Microsoft Teams incoming webhook or workflow URL.",
    "secret.twilio_api_key": "Twilio API key SID or auth token.",
    "secret.sendgrid_api_key": "SendGrid API key (SG.….…).",
    "secret.mailgun_api_key": "Mailgun API key.",
    "secret.mailchimp_api_key": "Mailchimp API key (…-usNN).",
    "secret.postmark_token": "Postmark server or account token.",
    "secret.brevo_api_key": "Brevo (Sendinblue) API or SMTP key.",
    "secret.twitter_token": "Twitter/X API key, secret or bearer token.",
    "secret.facebook_token": "Facebook / Meta Graph access token.",
    "secret.facebook_app_secret": "Facebook app secret next to a Facebook keyword.",
    "secret.linkedin_client_secret": "LinkedIn OAuth client secret.",
    "secret.twitch_stream_key": "Twitch stream key (live_…).",
}

PATTERNS: tuple[Pattern, ...] = (
    row(
        "slack",
        "token",
        r"\b(xoxb-[0-9A-Za-z\-]{10,})",
        group=1,
        validator=vendor(5),
        name="bot",
    ),
    row(
        "slack",
        "token",
        r"\b(xoxp-[0-9A-Za-z\-]{10,})",
        group=1,
        validator=vendor(5),
        name="user",
    ),
    row(
        "slack",
        "token",
        r"\b(xox[aorsec]-[0-9A-Za-z\-]{10,})",
        group=1,
        validator=vendor(5),
        name="legacy",
    ),
    row(
        "slack",
        "token",
        r"\b(xapp-[0-9A-Za-z/+\-]{20,})",
        group=1,
        validator=vendor(5),
        name="app",
    ),
    row(
        "slack",
        "token",
        r"\b(xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{100,})",
        group=1,
        name="config",
    ),
    row(
        "slack",
        "webhook",
        r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+\-]{20,}",
    ),
    row(
        "discord",
        "bot_token",
        r"([MNO][A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40})" + END,
        group=1,
        validator=_discord_bot,
    ),
    row(
        "discord",
        "webhook",
        r"https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d{5,30}/"
        r"[A-Za-z0-9_\-]{60,70}",
    ),
    row(
        "telegram",
        "bot_token",
        r"(\d+:AA[A-Za-z0-9_\-]{30,35})" + END,
        group=1,
        validator=_telegram,
    ),
    row(
        "msteams",
        "webhook",
        r"https://(?:[a-z0-9\-]+\.webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com"
        r"/webhook)/" + UUID + "@" + UUID + r"/IncomingWebhook/[0-9a-f]{32}/" + UUID,
    ),
    row(
        "msteams",
        "webhook",
        r"https://[a-z0-9.\-]+\.logic\.azure\.com(?::443)?/workflows/[0-9a-f]{32}/triggers/"
        r"[^\s\"'<>]*?sig=[A-Za-z0-9_%\-]{40,}",
        name="workflow",
    ),
    row("twilio", "api_key", r"\b(SK[0-9a-fA-F]{32})\b", group=1, validator=vendor(2)),
    row(
        "twilio",
        "api_key",
        r"(?i:twilio)"
        + KEYNAME
        + r"(?i:token|secret|key)"
        + KEYNAME
        + ASSIGN_OR_ARG
        + OPEN
        + r"([A-Za-z0-9]{32})\b",
        group=1,
        validator=keyed(32),
        name="auth_token",
    ),
    row(
        "sendgrid",
        "api_key",
        r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + END,
        group=1,
        validator=vendor(3),
    ),
    row("mailgun", "api_key", r"\b(key-[0-9a-f]{32})\b", group=1, validator=vendor(4)),
    row(
        "mailgun",
        "api_key",
        r"(?i:mailgun)" + KEYNAME + ASSIGN + OPEN + r"([a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})\b",
        group=1,
        name="private_key",
    ),
    row(
        "mailchimp",
        "api_key",
        r"([0-9a-f]+-us\d{1,2})\b",
        group=1,
        validator=_mailchimp,
    ),
    row(
        "postmark",
        "token",
        r"(?i:postmark)" + KEYNAME + ASSIGN + OPEN + "(" + UUID + r")\b",
        group=1,
        validator=keyed(36),
    ),
    row("brevo", "api_key", r"\bx(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}\b"),
    row(
        "twitter",
        "token",
        r"\b(A{22}[A-Za-z0-9%]{30,})",
        group=1,
        name="bearer",
    ),
    # Fifteen zero bytes encode as 20 "A"s and the sixteenth byte often leaves 21: such a
    # run is also what any base64 blob of binary zeros looks like, so this shorter lead
    # needs a URL escape too (see _url_escaped).
    row(
        "twitter",
        "token",
        r"\b(A{21}[B-Za-z0-9][A-Za-z0-9%]{50,})",
        group=1,
        validator=_url_escaped,
        name="bearer_escaped",
    ),
    row(
        "twitter",
        "token",
        r"(?i:twitter)" + KEYNAME + ASSIGN + r"[\"'`]([A-Za-z0-9]{18,50})[\"'`]",
        group=1,
        validator=keyed(18),
        name="keyed",
    ),
    row(
        "facebook",
        "token",
        r"\b(EAA[B-Z][A-Za-z0-9]{60,})",
        group=1,
        validator=vendor(4),
    ),
    row(
        "facebook",
        "app_secret",
        r"(?i:facebook|\bfb)"
        + KEYNAME
        + r"(?i:secret|key|token)"
        + ASSIGN
        + r"[\"'`]([a-f0-9]{32})[\"'`]",
        group=1,
        validator=keyed(32),
    ),
    row(
        "linkedin",
        "client_secret",
        r"(?i:linkedin)"
        + KEYNAME
        + r"(?i:secret)"
        + KEYNAME
        + ASSIGN
        + OPEN
        + r"([A-Za-z0-9]{16})\b",
        group=1,
        validator=keyed(16),
    ),
    row("twitch", "stream_key", r"\b(live_\d{6,12}_[A-Za-z0-9]{30})\b", group=1),
)
