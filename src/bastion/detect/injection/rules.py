"""The injection rules: phrasings and markup that are attacks wherever they occur.

Each row is a named RE2 pattern with the score it gives in a prompt (``system``/``user``
text, reported as ``injection.direct``) and in data (``retrieved``/``tool_result``,
reported as ``injection.indirect``); ``None`` means the row does not apply there. All
rows are asked in one RE2 set pass; only the rows present are then searched for a span.
The classifier (``model``) catches what these rows do not name; the rules catch short,
explicit attacks that a statistical model trained on long jailbreaks may miss, and
structures (fake turns, hidden markup, exfiltration links) it cannot see in words.

Near misses stay out by construction: "ignore the noise", "kill a process" and "bypass
the cache" name no instructions, rules, prompt or restrictions, so no row matches them.
Text that quotes an attack ("a user may write 'ignore previous instructions'") keeps the
rule's match at half its score (``QUOTED``): below the default thresholds, so whether it
is reported is the classifier's call on the whole window; unquoted, it is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import re2

from bastion.detect.regions import SignalSet, utf8

_ANY = r"(?:all |any |the |your |my |these |those |of |every |previous |prior |above )*"
_INSTRUCTIONS = (
    r"(?:instructions?|prompts?|rules|directives?|guidelines|guidance|constraints|"
    r"commands?|programming|restrictions|safeguards|policies|context|orders)"
)
_AI = r"(?:ai|a\.i\.|assistant|chat ?bot|language model|llm|gpt|chatgpt|copilot|agent|model)"


@dataclass(frozen=True, slots=True)
class Rule:
    """One phrasing or structure; scores per reading (None: the rule does not apply)."""

    name: str
    regex: str
    prompt: float | None
    data: float | None
    kind: str  # override, roleplay, extraction, puppetry, addressing, fake_turn, hidden, exfil


RULES: tuple[Rule, ...] = (
    # -- instruction override --------------------------------------------------------
    Rule(
        "override_instructions",
        r"(?i)\b(?:ignore|disregard|forget|override|bypass|overwrite|drop|abandon|skip|"
        r"neglect|discard|cancel|nullify|set aside)\b,? " + _ANY + r"(?:(?:previous|prior|"
        r"above|earlier|preceding|initial|original|old|system|safety|existing|given|"
        r"current|developer|openai)(?:ly)? )?" + _INSTRUCTIONS + r"\b",
        0.92,
        0.95,
        "override",
    ),
    Rule(
        "override_new_instructions",
        r"(?i)\b(?:new|updated|real|actual|revised) (?:system )?(?:instructions?|task|"
        r"directives?|orders|rules)\s*:",
        0.7,
        0.9,
        "override",
    ),
    Rule(
        "override_instead",
        r"(?i)\b(?:instead|rather),? (?:of (?:doing |following )?(?:that|this|the "
        r"(?:task|instructions?|above))|you (?:must|should|will) now)\b",
        None,
        0.85,
        "override",
    ),
    Rule(
        "override_stop",
        r"(?i)\b(?:stop|end|cease)\b (?:the |your |all )?(?:current |previous )?"
        r"(?:task|summary|summari[sz]ing|translation|processing)\b[^.\n]{0,40}\b(?:and|now)"
        r"\b",
        None,
        0.8,
        "override",
    ),
    # -- jailbreak and role-play ----------------------------------------------------------
    Rule(
        "jailbreak_persona",
        r"(?i)\b(?:do anything now|developer mode|dan mode|jailbr(?:eak|oken)|"
        r"unfiltered and unrestricted|evil confidant|anti-?gpt|betterdan|stay in character|"
        r"aim stands for)\b",
        0.9,
        0.95,
        "roleplay",
    ),
    Rule(
        "jailbreak_no_limits",
        r"(?i)\b(?:without|no|free (?:of|from)|freed from|not bound by|break(?:ing)? "
        r"(?:free of|out of)?|ignoring|doesn.?t (?:have|follow|care about)|don.?t have "
        r"to (?:follow|abide by)|not (?:restricted|limited) by) (?:any |the |all |its |"
        r"your |typical |usual |their |openai.?s? )*(?:ethical|moral|content|safety|"
        r"openai|usual|typical|ai|legal) (?:restrictions|filters|limitations|"
        r"guidelines|censorship|boundaries|constraints|policies|rules|principles)\b",
        0.85,
        0.9,
        "roleplay",
    ),
    Rule(
        "jailbreak_pretend",
        r"(?i)\b(?:pretend|imagine|act as if|from now on,? you) (?:that )?(?:you are|"
        r"you.?re|to be|are) (?:an? )?(?:ai|assistant|chatbot|model|language model)?"
        r"[^.\n]{0,60}\b(?:no|without|any) (?:restrictions|filters|limits|rules|"
        r"guidelines|censorship)\b",
        0.9,
        0.95,
        "roleplay",
    ),
    Rule(
        "jailbreak_acronym_persona",
        r"\b(?:[Yy]ou are|[Yy]ou.re|[Aa]ct as|[Bb]ecome) (?:now |going to (?:be |act as |"
        r"pretend to be |play )|about to (?:become |be ))[A-Z][A-Za-z]?[A-Z]{1,6}\b",
        0.75,
        0.9,
        "roleplay",
    ),
    Rule(
        "jailbreak_from_now_on",
        r"(?i)\bfrom now on,? (?:you (?:are|will|must|shall)|act as|respond as|"
        r"answer as|reply as)\b",
        0.75,
        0.9,
        "roleplay",
    ),
    # -- system-prompt extraction -----------------------------------------------------
    Rule(
        "extract_system_prompt",
        r"(?i)\b(?:reveal|print|show|repeat|output|display|leak|dump|give|tell|share|"
        r"recite|write out|spell out|return|what (?:is|are|was|were)) (?:me |us )?"
        r"(?:all |the |your |of |exactly |verbatim |full |entire |complete )*"
        r"(?:system|initial|original|hidden|secret|internal|developer|pre-?prompt|"
        r"confidential) ?(?:prompt|instructions?|message|rules|directives|configuration"
        r"|guidelines)\b",
        0.85,
        0.95,
        "extraction",
    ),
    Rule(
        "extract_conversation_start",
        r"(?i)\b(?:what|which|everything|anything|text|words|instructions)\b[^.?\n]{0,40}"
        r"\b(?:at|from) the (?:very )?(?:beginning|start|top) of (?:this|the|our) "
        r"(?:conversation|chat|prompt|context|session)\b",
        0.8,
        0.9,
        "extraction",
    ),
    Rule(
        "extract_text_above",
        r"(?i)\b(?:repeat|print|output|show|copy|write|reproduce) (?:back )?(?:all |the |"
        r"every |of )*(?:words|text|lines|content|everything|instructions|messages?) "
        r"(?:(?:written |that (?:is|was|came) )?(?:above|before|prior)\b|(?:at|from) the "
        r"(?:beginning|start|top) of (?:this|the|our) (?:conversation|chat|prompt|context))",
        0.85,
        0.95,
        "extraction",
    ),
    # -- policy puppetry ------------------------------------------------------------------
    Rule(
        "puppetry_config",
        r"(?i)<\s*/?\s*(?:interaction|system|model|assistant|safety|ai|chat)"
        r"[-_ ]?(?:config|configuration|policy|policies|settings|rules)\s*>",
        0.9,
        0.95,
        "puppetry",
    ),
    Rule(
        "puppetry_blocked",
        r"(?i)\b(?:blocked|allowed|forbidden|disallowed)[-_ ](?:strings?|modes?|"
        r"responses?|outputs?|phrases?)\b\s*[:=>\]\"]",
        0.85,
        0.95,
        "puppetry",
    ),
    # -- text addressing the assistant from inside data ---------------------------------
    Rule(
        "address_assistant",
        r"(?i)(?:\b(?:dear|attention|note (?:to|for)|message (?:to|for)|"
        r"instructions? (?:to|for)|important (?:note )?(?:to|for)) (?:the |any |all )?"
        + _AI
        + r"s?\b|\bif you are an? (?:ai|llm|language model|assistant|chatbot|"
        r"large language model)\b|\b(?:ai|llm|assistant)s? (?:reading|processing|"
        r"summari[sz]ing) this\b)",
        0.4,
        0.9,
        "addressing",
    ),
    Rule(
        "address_assistant_command",
        r"(?i)\b(?:ai |llm |virtual )?(?:assistant|agent|chat ?bot|language model|gpt)s?\s*[:,]"
        r"\s*(?:please\s+)?(?:ignore|disregard|forget|do not|don.t|stop|instead|tell|say|"
        r"respond|reply|answer|include|add|send|forward|write|output|print|reveal|recommend|"
        r"append|insert|delete|call|visit|email)\b|\b(?:ai |llm )?assistant\s*:[^\n]{0,120}?"
        r"\b(?:you|your|the user)\b",
        None,
        0.85,
        "addressing",
    ),
    Rule(
        "override_user_request",
        r"(?i)\b(?:ignore|disregard|skip|forget) (?:the |this |any )?(?:user.?s? |original |"
        r"actual )(?:question|request|query|instructions?|message|prompt|task)s?\b",
        0.7,
        0.9,
        "override",
    ),
    Rule(
        "address_when_summarising",
        r"(?i)\bwhen (?:you |the (?:ai|assistant|model) )?(?:summari[sz]e|summari[sz]ing|"
        r"read|reading|process|processing|answer|answering)s? (?:this|these|the "
        r"(?:above|following)) (?:document|email|page|text|message|content|data)\b",
        None,
        0.85,
        "addressing",
    ),
    # -- fake turns and chat-template tokens --------------------------------------------
    Rule(
        "fake_turn_tokens",
        r"(?i)<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|"
        r"eot_id)\|>|\[/?INST\]|<</?SYS>>",
        0.7,
        0.95,
        "fake_turn",
    ),
    Rule(
        "fake_turn_header",
        r"(?im)^\s*(?:#{1,4} ?|\*\*|\[|<)?(?:system|assistant|developer)(?: (?:message|prompt|"
        r"instruction|note|override|update))?(?:\]|>|\*\*)?\s*:[^\n]{0,200}?\b(?:you|your|"
        r"ignore|disregard|must|the user|instructions?|respond|reply|answer|reveal)\b",
        None,
        0.85,
        "fake_turn",
    ),
    Rule(
        "fake_turn_tags",
        r"(?i)</?\s*(?:system|tool_result|function_results?|tool_output|assistant|"
        r"instructions?)\s*>",
        None,
        0.8,
        "fake_turn",
    ),
    # -- hidden text ------------------------------------------------------------------------
    Rule(
        "hidden_comment",
        r"(?is)<!--.{0,800}?\b(?:ignore|disregard|assistant|ai|llm|instructions?|"
        r"prompt|you must|respond|reply|answer|tell the user|summary)\b.{0,800}?-->",
        None,
        0.9,
        "hidden",
    ),
    Rule(
        "hidden_markup",
        r"(?is)(?:font-size\s*:\s*0(?:px|pt|em)?\s*[;\"']|display\s*:\s*none|"
        r"visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0+)?\s*[;\"']|"
        r"color\s*:\s*(?:white|#fff(?:fff)?|transparent)\b)[^>]*>[^<]*\b(?:ignore|disregard|"
        r"assistant|ai|llm|instructions?|prompt|you must|respond|reply|tell the user)\b",
        None,
        0.85,
        "hidden",
    ),
    # -- exfiltration through links and images -----------------------------------------
    Rule(
        "exfil_markdown_image",
        r"(?i)!\[[^\]\n]{0,100}\]\(\s*https?://[^\s)]{1,300}[?&/=](?:[^\s)]*)"
        r"(?:\{|\}|\$|%7b|\[|<|data|secret|token|key|password|history|conversation|"
        r"chat|summary|prompt|email|user|info|q=|d=|p=)",
        0.6,
        0.9,
        "exfil",
    ),
    Rule(
        "exfil_instruction",
        r"(?i)\b(?:append|add|include|insert|encode|embed|put)\b[^.\n]{0,80}\b(?:to|in|"
        r"into|as)\b[^.\n]{0,40}\b(?:url|link|image|query (?:string|parameter)|"
        r"markdown)\b",
        None,
        0.6,
        "exfil",
    ),
)


QUOTED = 0.5
"""Factor on a rule's score when the match opens a quotation (straight or curly quotes, ``«``,
a backtick): an article or a question that quotes an attack is left to the classifier."""
_PHRASINGS = frozenset({"override", "roleplay", "extraction", "addressing"})
"""Kinds of rule that name a phrasing (which an article may quote); markup and structure
(fake turns, hidden text, exfiltration links, policy blocks) count wherever they are."""
_QUOTES = frozenset("'\"\u201c\u2018\u00ab`")


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule found in a text: character span, score for the reading, rule."""

    start: int
    end: int
    score: float
    rule: Rule
    quoted: bool = False


class RuleSet:
    """Every rule in one RE2 set; per text, a span for each rule present (thread-safe)."""

    def __init__(self, rules: tuple[Rule, ...] = RULES) -> None:
        self._rules = rules
        self.regexes: tuple[str, ...] = tuple(_spaced(rule.regex) for rule in rules)
        """The rules' patterns as searched, in the order of ``rules``."""
        self._set = SignalSet(self.regexes)
        options = re2.Options()
        options.max_mem = 64 << 20
        self._compiled: tuple[Any, ...] = tuple(re2.compile(r, options) for r in self.regexes)

    def find(
        self,
        text: str,
        *,
        data: bool,
        raw: bytes | None = None,
        present: Iterable[int] | None = None,
    ) -> list[RuleHit]:
        """The first match of each applicable rule present in ``text``, in table order
        (``raw``: the text's UTF-8 when the caller has it; ``present``: indices of the
        rules in the text when the caller's own RE2 set pass found them)."""
        if not text:
            return []
        raw = utf8(text) if raw is None else raw
        hits: list[RuleHit] = []
        for index in sorted(self._set.present(raw) if present is None else present):
            rule = self._rules[index]
            score = rule.data if data else rule.prompt
            if score is None:
                continue
            match = self._compiled[index].search(raw)  # bytes: no copy of the text per rule
            if match is None:
                continue
            start, end = _char_span(text, raw, *match.span())
            quoted = rule.kind in _PHRASINGS and _quoted(text, start)
            hits.append(RuleHit(start, end, score * QUOTED if quoted else score, rule, quoted))
        return hits


def _char_span(text: str, raw: bytes, start: int, end: int) -> tuple[int, int]:
    """The code-point span of the byte span ``[start, end)`` of ``raw`` (``text`` as UTF-8)."""
    if len(raw) == len(text):  # ASCII: bytes are characters
        return start, end
    first = len(raw[:start].decode("utf-8", "surrogatepass"))
    return first, first + len(raw[start:end].decode("utf-8", "surrogatepass"))


def _spaced(regex: str) -> str:
    r"""A rule's spaces match any run of white space: an attack split over lines or padded
    with extra spaces reads the same. An optional space (``chat ?bot``) becomes ``\s*``,
    and a space inside a character class (``[-_ ]``) one white-space character."""
    out: list[str] = []
    in_class = escaped = False
    index = 0
    while index < len(regex):
        char = regex[index]
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif in_class:
            out.append(r"\s" if char == " " else char)
            in_class = char != "]"
        elif char == "[":
            out.append(char)
            in_class = True
            if regex[index + 1 : index + 2] == "^":
                out.append("^")
                index += 1
            if regex[index + 1 : index + 2] == "]":  # "[]...]", "[^]...]": a literal ]
                out.append("]")
                index += 1
        elif char == " " and regex[index + 1 : index + 2] == "?":
            out.append(r"\s*")
            index += 1
        elif char == " ":
            out.append(r"\s+")
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _quoted(text: str, start: int) -> bool:
    """Whether ``start`` sits inside a quotation opened earlier on its line."""
    if start and text[start - 1] in _QUOTES and (start < 2 or text[start - 2] in " \t\n([:"):
        return True
    line = text[max(text.rfind("\n", 0, start) + 1, start - 500) : start]
    return (
        line.count('"') % 2 == 1
        or line.rfind("\u201c") > line.rfind("\u201d")
        or line.rfind("\u00ab") > line.rfind("\u00bb")
    )


@cache
def default_rules() -> RuleSet:
    """The built-in rule set, compiled once per process."""
    return RuleSet()
