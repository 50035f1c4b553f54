"""Detectors that read the model's answer: system-prompt canaries and exfiltration links.

``output.system_prompt_leak``: canary strings the operator plants in system prompts
(``detectors.output.canaries``). They become ordinary engine patterns of the answer
scanner (case-sensitive literals), so the normalised projections apply to them too: a
canary spelled with zero-width characters between its letters, in fullwidth letters or
base64 is still found, at the original run it came from.

``output.exfil_link``: a link or image whose host is not on the allow-list
(``detectors.output.link_allow_domains``): markdown images and links (inline and
reference definitions), autolinks, HTML tags with URL attributes, and bare URLs. The
span covers the whole construct, so redacting it removes the link or image entirely.
Images load without a click (zero-click exfiltration) and score 0.9; a URL carrying
data (query string, userinfo, long encoded path, fragment or host label, a
placeholder, or any stand-in this call issued: restoration would write the original
into the URL) scores 0.95; a plain link to an unknown host 0.5, so the class threshold
decides. One RE2 pass finds the constructs; host and payload checks are string
operations on each found URL.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import re2

from bastion.detect.patterns import Hit, Pattern
from bastion.detect.scanner import Scanner

LEAK = "output.system_prompt_leak"
EXFIL = "output.exfil_link"
DETECTOR = "output.links"
MIN_CANARY_CHARS = 8
MAX_CANARY_CHARS = 40  # twice this (one invisible character per letter) fits a window edge

SCORE_DATA = 0.95
SCORE_IMAGE = 0.9
SCORE_LINK = 0.5

_BASE64ISH = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
_HEX = "0123456789abcdefABCDEF"
_ENCODED_MIN = 24  # characters of a base64-like run that count as data
_HEX_MIN = 32
_LONG_FRAGMENT = 32
_PERCENT_MIN = 3  # percent escapes in a path that count as an encoded payload
_TRAILING = ".,:;!?*_~'\""  # punctuation after a bare URL that is prose, not URL

# Markdown (CommonMark shapes, one nesting level of brackets in link text). "«" opens
# a group that captures in the per-construct patterns and not in the finder.
_ESCAPED = r"\\."
_TEXT = rf"(?:[^\[\]\n\\]|{_ESCAPED}|\[(?:[^\[\]\n\\]|{_ESCAPED})*\])*"
_DEST = rf"(?:<[^<>\n]*>|(?:[^\s()\\]|{_ESCAPED}|\((?:[^\s()\\]|{_ESCAPED})*\))+)"
_TITLE = r"""(?:\s+(?:"[^"]*"|'[^']*'|\([^()]*\)))?"""
_INLINE = rf"«{_TEXT})\]\(\s*«{_DEST}){_TITLE}\s*\)"
_LABEL = rf"(?:[^\[\]\n\\]|{_ESCAPED})+"
_PARTS = {
    "image": rf"!\[{_INLINE}",
    "link": rf"\[{_INLINE}",
    "definition": rf"^[ ]{{0,3}}\[«{_LABEL})\]:[ \t]*\n?[ \t]*«<[^<>\n]*>|\S+)"
    r"""(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$""",
    "autolink": r"<[a-zA-Z][a-zA-Z0-9+.\-]{1,31}://[^\s<>]*>",
    "tag": r"<«[a-zA-Z][a-zA-Z0-9:\-]*)«\s[^<>]*//[^<>]*)>",  # an absolute URL inside
    "url": r"(?i:\b(?:[a-z][a-z0-9+.\-]*://|www\.))"
    r"(?:[^\s<>\"'`]|<[A-Z][A-Z0-9_]*_[0-9a-f]{8,64}>)+",  # a placeholder may follow
}
_FINDER = re2.compile("(?m)" + "|".join(part.replace("«", "(?:") for part in _PARTS.values()))
_PART = {name: re2.compile("(?m)" + part.replace("«", "(")) for name, part in _PARTS.items()}
_IMAGE_REFERENCE = re2.compile(rf"!\[({_LABEL})\](?:\[({_LABEL})?\])?")
_ATTRIBUTE = re2.compile(
    r"""(?i)(?:^|\s)([a-z:\-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"""
)
_CSS_URL = re2.compile(r"""(?i)url\(\s*['"]?([^'")\s]+)""")
_HAS_PLACEHOLDER = re2.compile(r"<[A-Z][A-Z0-9_]*_[0-9a-f]{8,64}>")
_ESCAPED_BRACKET = re2.compile(r"\\u003([cCeE])")

# HTML: which attributes carry URLs, and which load without a click.
_URL_ATTRIBUTES = frozenset(
    {"src", "href", "srcset", "poster", "data", "action", "formaction", "background",
     "xlink:href", "style", "cite", "longdesc", "ping", "manifest", "codebase"}
)  # fmt: skip
_LOADING_ATTRIBUTES = frozenset({"src", "srcset", "poster", "background", "style", "data"})
_LOADING_TAGS = frozenset(
    {"img", "image", "source", "video", "audio", "iframe", "frame", "embed", "object",
     "script", "link", "input", "track", "picture", "svg", "use", "feimage"}
)  # fmt: skip


def canary_patterns(canaries: Iterable[str]) -> tuple[Pattern, ...]:
    """One case-sensitive engine pattern per canary (``output.system_prompt_leak``).

    The pattern id names the canary by its position, never by its value."""
    return tuple(
        Pattern(
            id=f"output.canary.{index}",
            data_class=LEAK,
            regex=re2.escape(canary),
            score=1.0,
            meta={"kind": "canary"},
        )
        for index, canary in enumerate(dict.fromkeys(canaries))
    )


class HostAllowList:
    """Hosts links may point at: exact names, and ``*.example.org`` for any subdomain.

    ``*.example.org`` does not allow ``example.org`` itself (list both to allow both);
    names compare lower-case, without a trailing dot, in their IDNA (punycode) form.
    """

    def __init__(self, domains: Iterable[str] = ()) -> None:
        exact: set[str] = set()
        suffixes: list[str] = []
        for entry in domains:
            wildcard = entry.startswith("*.")
            host = _canonical_host(entry[2:] if wildcard else entry)
            if not host or "*" in host:
                raise ValueError(f"allow-list entry {entry!r}: use a host name or *.domain")
            if wildcard:
                suffixes.append("." + host)
            else:
                exact.add(host)
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)

    def allows(self, host: str) -> bool:
        return host in self._exact or (bool(self._suffixes) and host.endswith(self._suffixes))


@dataclass(frozen=True, slots=True)
class _Url:
    host: str
    userinfo: bool
    tail: str  # path, query and fragment


@dataclass(slots=True)
class _Construct:
    """One link construct found in the text (byte offsets until the hits are made)."""

    start: int
    end: int
    url: str
    kind: str  # image, link, definition, autolink, html, url
    loads: bool  # fetched without a click (images, media, frames, styles)
    label: str = ""  # a definition's label


class ExfilLinkDetector:
    """Finds links and images to hosts not on the allow-list (``output.exfil_link``)."""

    name = DETECTOR

    def __init__(self, allow: HostAllowList | None = None) -> None:
        self._allow = allow or HostAllowList()

    def detect(self, text: str, stand_ins: Collection[str] = ()) -> list[Hit]:
        """Every link construct of ``text`` whose host is not allowed (never raises).

        ``stand_ins``: what this call's restoration will replace by an original
        (placeholders and ``synthesize`` fakes); a URL holding one carries data."""
        if not text:
            return []
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: same-length stand-ins
            text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
            data = text.encode("utf-8")
        found: list[_Construct] = []
        _constructs(data, 0, len(data), found)
        if not found:
            return []
        if any(construct.kind == "definition" for construct in found):
            _judge_definitions(text, found)
        if len(data) != len(text):
            _to_code_points(data, found)
        hits: list[Hit] = []
        for construct in found:
            hit = self._judge(construct, stand_ins)
            if hit is not None:
                hits.append(hit)
        return hits

    def _judge(self, construct: _Construct, stand_ins: Collection[str]) -> Hit | None:
        url = construct.url
        parsed = _parse(url)
        if parsed is None or not parsed.host or self._allow.allows(parsed.host):
            return None
        carried = _carried(url, parsed, stand_ins)
        meta = {"kind": construct.kind}
        if construct.loads:
            meta["loads"] = "without_click"
        if carried:
            meta["carries"] = carried
        score = SCORE_DATA if carried else SCORE_IMAGE if construct.loads else SCORE_LINK
        return Hit(EXFIL, construct.start, construct.end, score, DETECTOR, url, meta)


def _constructs(data: bytes, start: int, end: int, found: list[_Construct]) -> None:
    """Every construct between byte offsets ``start`` and ``end``, in order.

    The finder has no capturing groups (RE2 answers it with its DFA alone); each match
    is then read by its own construct's pattern, anchored to the match."""
    position = start
    while position < end:
        spans = _match(_FINDER, data, position, end, anchored=False)
        if spans is None:
            return
        first, last = spans[0]
        position = max(last, first + 1)
        lead = data[first]
        if lead == 0x21:  # ![alt](url)
            part = _match(_PART["image"], data, first, last)
            if part is not None:
                found.append(_Construct(first, last, _dest(data, part[2]), "image", True))
        elif lead == 0x5B and (part := _match(_PART["link"], data, first, last)) is not None:
            found.append(_Construct(first, last, _dest(data, part[2]), "link", False))
            inner_start, inner_end = part[1]  # [text](url): the text may hold an image
            if inner_end > inner_start:
                _constructs(data, inner_start, inner_end, found)
        elif lead in (0x5B, 0x20):  # [label]: url
            part = _match(_PART["definition"], data, first, last)
            if part is not None:
                label = data[part[1][0] : part[1][1]].decode("utf-8", "replace")
                url = _dest(data, part[2])
                found.append(_Construct(first, last, url, "definition", True, label))
        elif lead == 0x3C and _match(_PART["autolink"], data, first, last) is not None:
            url = data[first + 1 : last - 1].decode("utf-8", "replace")
            found.append(_Construct(first, last, url, "autolink", False))
        elif lead == 0x3C:  # <tag ... attribute="//...">
            part = _match(_PART["tag"], data, first, last)
            if part is not None:
                _tag(data, part, found)
        else:  # a bare URL, without the prose punctuation after it
            url = _trim(data[first:last].decode("utf-8", "replace"))
            found.append(_Construct(first, first + len(url.encode("utf-8")), url, "url", False))


_Spans = list[tuple[int, int]]
_ANCHOR = getattr(re2, "_Anchor", None)


def _match(
    regex: Any, data: bytes, start: int, end: int, *, anchored: bool = True
) -> _Spans | None:
    """The spans of the whole match and of each group ((-1, -1): did not take part),
    or None; through the binding's C-level ``Match`` when it has one (a third of the
    cost of a match object), else its public API."""
    low = getattr(getattr(regex, "_regexp", None), "Match", None)
    if low is not None and _ANCHOR is not None:
        anchor = _ANCHOR.ANCHOR_BOTH if anchored else _ANCHOR.UNANCHORED
        spans: _Spans = low(anchor, data, start, end)
        return None if spans[0][0] < 0 else spans
    found = (regex.fullmatch if anchored else regex.search)(data, start, end)
    return None if found is None else [found.span(i) for i in range(regex.groups + 1)]


def _tag(data: bytes, spans: _Spans, found: list[_Construct]) -> None:
    start, end = spans[0]
    tag = data[spans[1][0] : spans[1][1]].decode("ascii", "replace").lower()
    if tag == "a":  # the anchor's text goes with it, up to a close nearby
        close = data[end : end + 1024].lower().find(b"</a")
        stop = data.find(b">", end + close, end + close + 16) if close >= 0 else -1
        if stop >= 0:
            end = stop + 1
    attributes = data[spans[2][0] : spans[2][1]].decode("utf-8", "replace")
    for attribute in _ATTRIBUTE.finditer(attributes):
        name = attribute.group(1).lower()
        if name not in _URL_ATTRIBUTES:
            continue
        value = attribute.group(2) or attribute.group(3) or attribute.group(4) or ""
        loads = tag in _LOADING_TAGS or name in _LOADING_ATTRIBUTES
        for url in _attribute_urls(name, value):
            found.append(_Construct(start, end, url, "html", loads))


def _judge_definitions(text: str, found: list[_Construct]) -> None:
    """A definition counts as a link only when this text uses its label as a link and
    never as an image; otherwise it may load unclicked (a later window may use it)."""
    images = {_label(m.group(2) or m.group(1)) for m in _IMAGE_REFERENCE.finditer(text)}
    folded = text.casefold()
    defined: dict[str, int] = {}
    for construct in found:
        if construct.kind == "definition":
            key = _label(construct.label)
            defined[key] = defined.get(key, 0) + 1
    for construct in found:
        if construct.kind == "definition":
            key = _label(construct.label)
            construct.loads = key in images or folded.count(f"[{key}]") <= defined[key]


def _dest(data: bytes, span: tuple[int, int]) -> str:
    """A markdown link destination as the renderer reads it: without its angle brackets,
    backslash escapes of punctuation undone."""
    url = data[span[0] : span[1]].decode("utf-8", "replace")
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1]
    if "\\" not in url:
        return url
    out: list[str] = []
    escaped = False
    for char in url:
        if escaped or char != "\\":
            if escaped and not (char.isascii() and not char.isalnum() and char.isprintable()):
                out.append("\\")
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out) + ("\\" if escaped else "")


def _label(label: str) -> str:
    return " ".join(label.split()).casefold()


def _trim(url: str) -> str:
    """A bare URL without the prose punctuation after it; unbalanced closers dropped."""
    opened = {")": url.count("("), "]": url.count("[")}
    closed = {")": url.count(")"), "]": url.count("]")}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in closed and opened[last] < closed[last]:
            closed[last] -= 1
        elif last not in _TRAILING:
            break
        end -= 1
    return url[:end]


def _attribute_urls(name: str, value: str) -> list[str]:
    if name == "style":
        return [match.group(1) for match in _CSS_URL.finditer(value)]
    if name in ("srcset", "ping"):
        return [part.split()[0] for part in value.replace(",", " , ").split(" , ") if part.split()]
    return [value.strip()]


def _parse(url: str) -> _Url | None:
    """Host, userinfo and the rest of an absolute URL (WHATWG reading: ``\\`` ends the
    host like ``/``, the host follows the last ``@``); None for relative URLs."""
    if url.startswith("//"):
        rest = url[2:]
    else:
        scheme_end = url.find("://")
        if scheme_end > 0:
            rest = url[scheme_end + 3 :]
        elif url[:4].lower() == "www.":
            rest = url
        else:
            return None
    end = len(rest)
    for stop in "/\\?#":
        at = rest.find(stop, 0, end)
        if at >= 0:
            end = at
    authority, tail = rest[:end], rest[end:]
    userinfo = "@" in authority
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    else:
        host = host.partition(":")[0]
    return _Url(_canonical_host(host), userinfo, tail)


def _canonical_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _carried(url: str, parsed: _Url, stand_ins: Collection[str] = ()) -> str:
    """What data a URL carries, if any: ``userinfo``, ``query``, ``placeholder``,
    ``stand_in`` (one of ``stand_ins``), ``percent``, ``path``, ``fragment`` or
    ``host``; "" for none."""
    if parsed.userinfo:
        return "userinfo"
    tail = parsed.tail
    path, _, query = tail.partition("?")
    path, _, fragment = path.partition("#")
    if "#" in query:
        query, _, fragment = query.partition("#")
    if query:
        return "query"
    if "\\u003" in url:  # JSON text whose encoder escapes ``<`` and ``>`` (\u003c)
        url = _ESCAPED_BRACKET.sub(lambda m: "<" if m.group(1) in "cC" else ">", url)
    if "<" in url and _HAS_PLACEHOLDER.search(url) is not None:
        return "placeholder"
    if stand_ins and any(stand_in in url for stand_in in stand_ins):
        return "stand_in"  # restoration would put the original into the URL
    if path.count("%") >= _PERCENT_MIN:
        return "percent"
    if any(_encoded(segment) for segment in path.replace("\\", "/").split("/")):
        return "path"
    if len(fragment) >= _LONG_FRAGMENT or _encoded(fragment):
        return "fragment"
    if any(_encoded_label(label) for label in parsed.host.split(".")):
        return "host"
    return ""


def _encoded(run: str) -> bool:
    """Whether ``run`` looks like an encoded payload: a long base64-like run mixing
    digits and both cases, or a long hex run (slugs and words do not qualify)."""
    if len(run) < _ENCODED_MIN or run.strip(_BASE64ISH):
        return False
    if len(run) >= _HEX_MIN and not run.strip(_HEX):
        return True
    digits = sum(c.isdigit() for c in run)
    return digits >= 2 and any(c.isupper() for c in run) and any(c.islower() for c in run)


def _encoded_label(label: str) -> bool:
    """Whether a host label looks like an encoded payload (host names are case-blind,
    so base32 or hex: long, with digits among the letters; punycode excepted)."""
    if len(label) < _ENCODED_MIN or label.startswith("xn--"):
        return False
    digits = sum(c.isdigit() for c in label)
    return digits >= 3 and len(label) - digits >= 3


def _to_code_points(data: bytes, found: list[_Construct]) -> None:
    """Turn the byte offsets of ``found`` into code-point offsets (one sorted pass)."""
    table: dict[int, int] = {}
    previous_byte = previous_char = 0
    for offset in sorted({o for c in found for o in (c.start, c.end)}):
        previous_char += len(data[previous_byte:offset].decode("utf-8", "replace"))
        previous_byte = offset
        table[offset] = previous_char
    for construct in found:
        construct.start, construct.end = table[construct.start], table[construct.end]


class AnswerDetectors:
    """What one text of the model's answer is scanned with: the fast tier's patterns (with
    the canaries when configured: ``scanner``) and the link detector, thresholds applied.

    Whole-text detectors (code, legal, names) do not run: code in an answer is the point
    of asking, not a leak."""

    def __init__(self, scanner: Scanner, links: ExfilLinkDetector | None = None) -> None:
        self.scanner = scanner
        self.links = links

    def scan(self, text: str, stand_ins: Collection[str] = ()) -> list[Hit]:
        """Findings at or above their class threshold, in original offsets;
        ``stand_ins``: what this call's restoration replaces (links holding one carry
        data)."""
        hits = self.scanner.scan(text, "assistant", documents=False).findings
        if self.links is not None:
            threshold = self.scanner.threshold(EXFIL)
            found = self.links.detect(text, stand_ins)
            hits.extend(hit for hit in found if hit.score >= threshold)
        return hits
