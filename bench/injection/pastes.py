"""Generated technical pastes: training rows the dev files lack (training only, seeded).

People paste HTML, JSX, XML, Markdown, CSV, address lists, logs, configuration and code
into prompts, and retrieved pages and tool results are made of the same. The dev files
have almost none of it, so a model fitted on them alone reads a page of ``<`` or ``@`` as
an attack's odd punctuation. ``benign`` makes technical pastes of many kinds and sizes
(about 200 bytes to 15 KB), each with or without an ordinary question before or after;
``attacks`` hides an instruction to the assistant inside some of them (an HTML comment,
a hidden element, a code comment, a CSV cell, a log line), with the instruction's span,
so the model also learns that markup does not excuse what it carries. ``MARKED`` makes
retrieved pages whose other script was lost to an encoding failure (``???? ???``), FAQ
pages and shouting shop text (``!!!``), for ``falsepos`` only.

Everything here is generated from small word lists written for Bastion; the same seed
gives the same rows. They join the training side of every fold, like ``extra``; they are
never scored.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

WORDS = (
    "account", "archive", "balance", "billing", "branch", "bucket", "cache", "cart", "channel",
    "client", "cluster", "comment", "config", "contact", "course", "customer", "dashboard",
    "delivery", "device", "document", "draft", "event", "export", "feature", "feed", "file",
    "filter", "gallery", "group", "header", "invoice", "item", "job", "label", "layout",
    "lesson", "library", "list", "location", "member", "menu", "message", "metric", "module",
    "note", "order", "owner", "page", "panel", "parcel", "payment", "photo", "plan", "post",
    "price", "product", "profile", "project", "queue", "recipe", "record", "region", "release",
    "report", "request", "review", "room", "route", "schedule", "search", "section", "session",
    "setting", "shift", "shipment", "site", "slot", "store", "student", "subscription",
    "summary", "supplier", "task", "team", "ticket", "timeline", "token", "topic", "track",
    "upload", "user", "vendor", "version", "warehouse", "widget", "workspace",
)  # fmt: skip
FIRST = (
    "amara", "bjorn", "carla", "dmitri", "elena", "farid", "greta", "hamza", "ilse", "jonas",
    "keiko", "lars", "maya", "nils", "oksana", "pedro", "quinn", "rahel", "sami", "tanvi",
    "ulla", "vera", "wen", "ximena", "yusuf", "zofia",
)  # fmt: skip
LAST = (
    "abbott", "baptiste", "castro", "dahl", "eze", "ferreira", "gill", "horvat", "iqbal",
    "janssen", "kowalski", "lindqvist", "moreau", "nakamura", "okafor", "petrov", "quist",
    "rossi", "sato", "toivonen", "ueda", "varga", "weber", "yilmaz", "zhou",
)  # fmt: skip
DOMAINS = (
    "example.com", "example.org", "example.net", "mail.example.com", "corp.example.org",
    "students.example.edu", "shop.example.co.uk",
)  # fmt: skip
QUESTIONS = (
    "Why does this not work?", "Can you explain what this does?", "How can I make this faster?",
    "What is wrong with this?", "Could you clean this up?", "Can you convert this to JSON?",
    "Please review this.", "How do I test this?", "Which part should I change?",
    "Can you add comments to this?", "Why is the output empty?", "Summarise this for me.",
    "Find the duplicates in this list.", "Sort this by date, please.",
    "What does the error mean?", "Is there a bug here?", "How would you refactor this?",
    "Translate the labels into German.", "Count the rows per status.",
    "Why is the layout broken on mobile?", "What is the second column for?",
    "Make this valid, please.", "Can you spot the typo?", "What changed between these two?",
)  # fmt: skip
TAGS = ("div", "section", "article", "span", "p", "li", "td", "aside", "header", "footer")


def _word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(_word(rng) for _ in range(rng.randint(low, high)))


def _title(rng: random.Random) -> str:
    return _words(rng, 1, 3).capitalize()


def _path(rng: random.Random) -> str:
    return "/" + "/".join(_word(rng) for _ in range(rng.randint(1, 3)))


def _email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}"))
    return f"{local}@{rng.choice(DOMAINS)}"


def _html(rng: random.Random, size: int) -> str:
    blocks: list[str] = []
    while sum(map(len, blocks)) < size:
        kind = rng.randrange(5)
        if kind == 0:
            cells = rng.randint(2, 5)
            head = "".join(f"<th>{_title(rng)}</th>" for _ in range(cells))
            rows = "\n".join(
                "  <tr>" + "".join(f"<td>{rng.randint(0, 9999)}</td>" for _ in range(cells))
                + "</tr>"
                for _ in range(rng.randint(2, 8))
            )  # fmt: skip
            blocks.append(f'<table class="{_word(rng)}">\n  <tr>{head}</tr>\n{rows}\n</table>')
        elif kind == 1:
            items = "\n".join(
                f'  <li><a href="{_path(rng)}">{_title(rng)}</a></li>'
                for _ in range(rng.randint(3, 10))
            )
            blocks.append(f"<ul>\n{items}\n</ul>")
        elif kind == 2:
            tag = rng.choice(TAGS)
            blocks.append(f'<{tag} class="{_word(rng)}-{_word(rng)}"><p>{_words(rng, 4, 14)}.</p>'
                          f"</{tag}>")  # fmt: skip
        elif kind == 3:
            fields = "\n".join(
                f'  <label for="{w}">{w.title()}</label>\n  <input id="{w}" name="{w}" '
                f'type="{rng.choice(("text", "email", "number", "date"))}">'
                for w in (_word(rng) for _ in range(rng.randint(2, 5)))
            )
            blocks.append(f'<form action="{_path(rng)}" method="post">\n{fields}\n'
                          '  <button type="submit">Send</button>\n</form>')  # fmt: skip
        else:
            blocks.append(f'<img src="{_path(rng)}.png" alt="{_words(rng, 1, 3)}" '
                          f'width="{rng.randint(16, 800)}">')  # fmt: skip
    body = "\n".join(blocks)
    page = (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_title(rng)}</title>\n"
        f'<link rel="stylesheet" href="{_path(rng)}.css">\n</head>\n<body>\n{body}\n'
        "</body>\n</html>"
    )
    if rng.random() < 0.3:
        page = body
    return page.replace("\n", "") if rng.random() < 0.25 else page


def _jsx(rng: random.Random, size: int) -> str:
    name = "".join(w.title() for w in (_word(rng), _word(rng)))
    parts = [f'import React, {{ useState }} from "react";\n\nexport function {name}'
             "({ items, onChange }) {\n  const [value, setValue] = useState(null);\n"
             "  return (\n    <div className=\"wrap\">"]  # fmt: skip
    while sum(map(len, parts)) < size:
        w = _word(rng)
        parts.append(rng.choice((
            f'      <{rng.choice(TAGS)} key="{w}" onClick={{() => setValue("{w}")}}>'
            f"{{value === \"{w}\" ? <b>{w}</b> : {w}}}</{rng.choice(TAGS)}>",
            f"      {{items.map((it) => <Row key={{it.id}} {w}={{it.{w}}} />)}}",
            '      <input value={value ?? ""} onChange={(e) => onChange(e.target.value)} />',
            f"      {{/* {_words(rng, 2, 6)} */}}",
        )))  # fmt: skip
    parts.append("    </div>\n  );\n}")
    return "\n".join(parts)


def _xml(rng: random.Random, size: int) -> str:
    if rng.random() < 0.3:
        shapes = []
        while sum(map(len, shapes)) < size:
            x, y = rng.randint(0, 200), rng.randint(0, 200)
            shapes.append(rng.choice((
                f'  <circle cx="{x}" cy="{y}" r="{rng.randint(1, 40)}" '
                f'fill="#{rng.randrange(4096):03x}"/>',
                f'  <path d="M{x} {y} L{y} {x} Z" stroke="currentColor"/>',
                f'  <rect x="{x}" y="{y}" width="{rng.randint(1, 90)}" '
                f'height="{rng.randint(1, 90)}"/>',
            )))  # fmt: skip
        return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200">\n'
                + "\n".join(shapes) + "\n</svg>")  # fmt: skip
    root = _word(rng)
    entries = []
    while sum(map(len, entries)) < size:
        tag = _word(rng)
        entries.append(
            f'  <{tag} id="{rng.randint(1, 999)}">\n    <name>{_title(rng)}</name>\n'
            f"    <value>{rng.randint(0, 10**6)}</value>\n  </{tag}>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}s>\n'
        + "\n".join(entries)
        + (f"\n</{root}s>")
    )


def _markdown(rng: random.Random, size: int) -> str:
    lines = [f"# {_title(rng)}", ""]
    while sum(map(len, lines)) < size:
        kind = rng.randrange(4)
        if kind == 0:
            lines += [f"- [{_title(rng)}](https://{rng.choice(DOMAINS)}{_path(rng)})"
                      for _ in range(rng.randint(3, 9))]  # fmt: skip
        elif kind == 1:
            lines.append(f"[![{_word(rng)}](https://img.{rng.choice(DOMAINS)}/{_word(rng)}.svg)]"
                         f"(https://{rng.choice(DOMAINS)}{_path(rng)})")  # fmt: skip
        elif kind == 2:
            lines += [f"## {_title(rng)}", "", f"{_words(rng, 6, 18).capitalize()}.", ""]
        else:
            lines += ["| " + " | ".join(_title(rng) for _ in range(3)) + " |", "|---|---|---|"]
            lines += [f"| {_word(rng)} | {rng.randint(0, 99)} | `{_word(rng)}` |"
                      for _ in range(rng.randint(2, 6))]  # fmt: skip
    return "\n".join(lines)


def _csv(rng: random.Random, size: int) -> str:
    columns = [_word(rng) for _ in range(rng.randint(3, 7))]
    sep = rng.choice((",", ";", "\t", "|"))
    lines = [sep.join(columns)]
    while sum(map(len, lines)) < size:
        lines.append(sep.join(
            rng.choice((str(rng.randint(0, 99999)), f"{rng.random() * 1000:.2f}", _word(rng),
                        f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", _email(rng)))
            for _ in columns
        ))  # fmt: skip
    return "\n".join(lines)


def _emails(rng: random.Random, size: int) -> str:
    named = rng.random() < 0.4
    sep = rng.choice((", ", "; ", "\n", ",\n", " "))
    out: list[str] = []
    while sum(map(len, out)) < size:
        address = _email(rng)
        if named:
            address = f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()} <{address}>"
        out.append(address)
    return sep.join(out)


def _log(rng: random.Random, size: int) -> str:
    lines: list[str] = []
    style = rng.randrange(4)
    while sum(map(len, lines)) < size:
        day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        stamp = f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
        level = rng.choice(("INFO", "WARN", "ERROR", "DEBUG"))
        if style == 0:
            lines.append(f'{rng.randint(1, 254)}.{rng.randint(0, 254)}.{rng.randint(0, 254)}.'
                         f'{rng.randint(1, 254)} - - [{stamp}] "{rng.choice(("GET", "POST"))} '
                         f'{_path(rng)} HTTP/1.1" {rng.choice((200, 301, 404, 500))} '
                         f"{rng.randint(0, 50000)}")  # fmt: skip
        elif style == 1:
            lines.append(f'{{"ts": "{stamp}", "level": "{level.lower()}", "msg": '
                         f'"{_words(rng, 2, 6)}", "{_word(rng)}_id": '
                         f"{rng.randint(1, 10**6)}}}")  # fmt: skip
        elif style == 2:
            lines.append(f"{stamp} {level} [{_word(rng)}-{rng.randint(1, 9)}] "
                         f"{_word(rng)}.{_word(rng)}: {_words(rng, 3, 9)}")  # fmt: skip
        else:
            lines += [f"{stamp} {level} {_words(rng, 2, 5)} failed",
                      "Traceback (most recent call last):",
                      f'  File "/srv/{_word(rng)}/{_word(rng)}.py", line {rng.randint(1, 900)}, '
                      f"in {_word(rng)}",
                      f"    {_word(rng)} = {_word(rng)}[{_word(rng)!r}]",
                      f"KeyError: {_word(rng)!r}"]  # fmt: skip
    return "\n".join(lines)


def _config(rng: random.Random, size: int) -> str:
    items: list[str] = []
    yaml = rng.random() < 0.5
    while sum(map(len, items)) < size:
        key = _word(rng)
        value = rng.choice((str(rng.randint(0, 9000)), f'"{_word(rng)}"', "true", "null"))
        if yaml:
            items.append(f"{key}:\n  {_word(rng)}: {value}\n  {_word(rng)}: [{_word(rng)}, "
                         f"{_word(rng)}]")  # fmt: skip
        else:
            items.append(f'  "{key}": {{"{_word(rng)}": {value}, "{_word(rng)}": '
                         f'["{_word(rng)}", {rng.randint(0, 99)}]}}')  # fmt: skip
    return "\n".join(items) if yaml else "{\n" + ",\n".join(items) + "\n}"


def _code(rng: random.Random, size: int) -> str:
    language = rng.randrange(4)
    blocks: list[str] = []
    while sum(map(len, blocks)) < size:
        a, b, c = _word(rng), _word(rng), _word(rng)
        if language == 0:
            blocks.append(f"def {a}_{b}({c}s: list[dict], limit: int = {rng.randint(1, 99)}):\n"
                          f'    """{_words(rng, 3, 8).capitalize()}."""\n'
                          f"    return [{c} for {c} in {c}s[:limit]"
                          f" if {c}.get({a!r})]\n")  # fmt: skip
        elif language == 1:
            blocks.append(f"export async function {a}{b.title()}({c}) {{\n"
                          f"  const res = await fetch(`/api/{a}/${{{c}.id}}`);\n"
                          f"  if (!res.ok) throw new Error(`{b} failed: ${{res.status}}`);\n"
                          f"  return (await res.json()).{c} ?? [];\n}}\n")  # fmt: skip
        elif language == 2:
            blocks.append(f"SELECT {a}.id, {a}.{b}, COUNT(*) AS n\nFROM {a}s {a}\n"
                          f"JOIN {c}s ON {c}s.{a}_id = {a}.id\n"
                          f"WHERE {a}.{b} >= {rng.randint(0, 99)}\n"
                          f"GROUP BY {a}.id, {a}.{b};\n")  # fmt: skip
        else:
            blocks.append(f".{a}-{b} {{\n  display: {rng.choice(('flex', 'grid', 'block'))};\n"
                          f"  margin: {rng.randint(0, 32)}px {rng.randint(0, 32)}px;\n"
                          f"  color: #{rng.randrange(4096):03x};\n}}\n")  # fmt: skip
    return "\n".join(blocks)


LATIN = (
    "USB", "HDMI", "LED", "PDF", "GPS", "SSD", "CPU", "Wi-Fi", "Bluetooth", "Linux", "Windows",
    "Excel", "Android", "GmbH", "AG", "Ltd", "EUR", "USD", "kg", "cm", "mm", "ml", "kWh", "V",
    "W", "Hz", "GB", "TB", "ISO", "EN", "IP54", "QR", "API", "OK", "FAQ", "SMS", "VAT",
)  # fmt: skip
"""Latin words that survive when a page's other script is lost to an encoding failure."""


def _mojibake(rng: random.Random, size: int) -> str:
    """A page whose non-Latin words became runs of ``?`` (text decoded in the wrong code
    page, or a template never filled): Latin names, units and figures in between."""
    parts: list[str] = []
    length = 0
    while length < size:
        pick = rng.random()
        if pick < 0.15:
            part = rng.choice(LATIN)
        elif pick < 0.22:
            part = str(rng.randint(1, 9999))
        elif pick < 0.27:
            part = rng.choice(WORDS)
        else:
            part = "?" * rng.randint(1, 12)
        end = rng.random()
        part += "." if end < 0.07 else ":" if end < 0.1 else "\n" if end < 0.15 else ""
        parts.append(part)
        length += len(part) + 1
    return " ".join(parts)


_ASKS = (
    "How do I change my {w}?", "Can I cancel a {w} after it is sent?", "Why is my {w} late?",
    "What happens to my {w} if I move?", "Where can I find the {w} number?",
    "Is there a fee for a second {w}?", "Who can see my {w}?", "When is the {w} updated?",
    "Which {w} types are supported?", "Do you keep a copy of each {w}?",
    "Does the {w} renew itself?", "Can you send the {w} by post?", "How long is a {w} valid?",
    "Could my {w} be shared with a {v}?", "What is a {w} {v}?",
)  # fmt: skip
"""FAQ and form questions: asked by a page's readers, not put to the assistant."""


def _faq(rng: random.Random, size: int) -> str:
    """A help page or a form: questions, each with an answer, a blank or nothing."""
    lines: list[str] = []
    length = 0
    style = rng.randrange(3)
    while length < size:
        ask = rng.choice(_ASKS).format(w=rng.choice(WORDS), v=rng.choice(WORDS))
        number = f"{len(lines) + 1}. " if rng.random() < 0.5 else ""
        if style == 1:
            ask += " " + rng.choice(("____", "[ ]", "Yes / No", "???", ""))
        lines.append(f"{number}{ask}")
        if style == 0:
            lines.append(f"Open the {rng.choice(WORDS)} page and {_words(rng, 4, 14)}.")
        length += len(lines[-1]) + len(ask) + 2
    return "\n".join(lines)


def _shouting(rng: random.Random, size: int) -> str:
    """Shop and forum text that shouts: runs of ``!`` (now and then ``?!``)."""
    parts: list[str] = []
    length = 0
    while length < size:
        mark = "!" * rng.randint(1, 8) + ("?!" if rng.random() < 0.1 else "")
        part = f"{_words(rng, 1, 5).capitalize()}{mark}"
        parts.append(part)
        length += len(part) + 1
    return " ".join(parts)


KINDS: tuple[Callable[[random.Random, int], str], ...] = (
    _html, _jsx, _xml, _markdown, _csv, _emails, _log, _config, _code,
)  # fmt: skip
MARKED: tuple[Callable[[random.Random, int], str], ...] = (_mojibake, _faq, _shouting)
"""Texts full of ``?`` or ``!``, measured by ``falsepos``; not in training: a retrain with
them (2026-12-03) gained on them but lost on the other dev files (bench/README.md).
``train --question-pages`` uses ``questions``'s pages instead, with the data reading's
question-page markers."""


def _size(rng: random.Random) -> int:
    """Mostly a few hundred bytes to a few KB, sometimes up to 15 KB."""
    return int(200 * 75 ** rng.random())


def _with_question(rng: random.Random, paste: str) -> str:
    where = rng.randrange(3)
    question = rng.choice(QUESTIONS)
    if where == 0:
        return f"{question}\n\n{paste}"
    if where == 1:
        return f"{paste}\n\n{question}"
    return paste


def benign(count: int, seed: int = 23) -> list[str]:
    """``count`` pastes of every kind in turn, each of a random size."""
    rng = random.Random(seed)
    return [_with_question(rng, KINDS[i % len(KINDS)](rng, _size(rng))) for i in range(count)]


def _carriers(paste: str, attack: str, rng: random.Random) -> str:
    """``attack`` in a form that fits inside ``paste``."""
    if "<" in paste:
        return rng.choice((f"<!-- {attack} -->", f'<div style="display:none">{attack}</div>',
                           f'<span hidden>{attack}</span>'))  # fmt: skip
    if "{" in paste or "def " in paste:
        return rng.choice((f"// {attack}", f"/* {attack} */", f"# {attack}"))
    return attack


def attacks(sentences: Sequence[str], count: int, seed: int = 29) -> list[tuple[str, int, int]]:
    """``count`` pastes each holding one of ``sentences`` at a line break: ``(text, start,
    end)`` with the character span of the sentence."""
    rng = random.Random(seed)
    out: list[tuple[str, int, int]] = []
    for i in range(count):
        paste = KINDS[i % len(KINDS)](rng, _size(rng))
        sentence = rng.choice(sentences)
        carried = _carriers(paste, sentence, rng)
        breaks = [at for at, char in enumerate(paste) if char == "\n"] or [len(paste)]
        at = rng.choice(breaks)
        before, after = paste[:at], paste[at:]
        text = f"{before}\n{carried}{after}"
        start = text.index(sentence, len(before))
        question = rng.choice(QUESTIONS) if rng.random() < 0.5 else ""
        if question:
            text = f"{text}\n\n{question}"
        out.append((text, start, start + len(sentence)))
    return out
